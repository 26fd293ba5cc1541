import { compile, seq, linear, layerNorm, relu, dropout, sgd, printIR } from "../src/index.js";
const model = seq(linear(784, 512), layerNorm(512), relu, dropout(0.1), linear(512, 512), layerNorm(512), relu, dropout(0.1), linear(512, 10));
const net = compile(model, { inputs: 784, batch: 128, seed: 0, threads: Number(process.env.T ?? 2), optimizer: sgd({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }) });
const x = new Float32Array(128 * 784).map((_, i) => ((i * 7) % 13) / 13), y = new Int32Array(128).map((_, i) => i % 10);
for (let i = 0; i < 200; i++) net.trainStep(x, y);
if (process.env.IR) console.log(printIR(net.ir.train));
process.exit(0);
