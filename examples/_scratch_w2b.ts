import { compile, dropout, layerNorm, linear, relu, seq, sgd } from "../src/index.js";
const model = seq(linear(784, 512), layerNorm(512), relu, dropout(0.1), linear(512, 512), layerNorm(512), relu, dropout(0.1), linear(512, 10));
const net = compile(model, { inputs: 784, batch: 128, optimizer: sgd({ lr: 0.1, momentum: 0.9 }) });
const x = Float32Array.from({ length: 128 * 784 }, (_, i) => Math.sin(i) * 0.5 + 0.5);
const y = Int32Array.from({ length: 128 }, (_, i) => i % 10);
for (let i = 0; i < 105; i++) net.trainStep(x, y);
