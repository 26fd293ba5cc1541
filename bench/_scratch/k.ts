import { compile, seq, linear, layerNorm, batchNorm, relu, dropout, softmaxCrossEntropy, sgd } from "../../src/index.js";
const model = seq(linear(784, 512), layerNorm(512), relu, dropout(0.1), linear(512, 512), layerNorm(512), relu, dropout(0.1), linear(512, 10));
let t = performance.now();
const net = compile(model, { inputs: 784, batch: 128, seed: 0, loss: softmaxCrossEntropy(), optimizer: sgd({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }) });
console.log("compile ms", performance.now() - t);
const x = new Float32Array(128 * 784).map(() => Math.random()); const y = new Int32Array(128).map((_, i) => i % 10);
for (let i = 0; i < 5; i++) { t = performance.now(); const l = net.trainStep(x, y); console.log("step", l, performance.now() - t); }
const xe = new Float32Array(1024 * 784).map(() => Math.random());
for (let i = 0; i < 3; i++) { t = performance.now(); net.predict(xe); console.log("pred", performance.now() - t); }
const n = 512;
const mm = compile(linear(n, n, { bias: false }), { inputs: n, batch: n, seed: 0 });
const a = new Float32Array(n * n).map(() => Math.random());
for (let i = 0; i < 3; i++) { t = performance.now(); mm.predict(a); const dt = performance.now() - t; console.log("mm", dt, 2 * n ** 3 / dt / 1e6); }
console.log(Object.keys(mm.params), mm.ir.eval.nodes?.length);
