/**
 * A model file with user code for the `kiln` command line: the README's "Your own layers" model,
 * on MNIST (784 → 10, softmax cross-entropy).
 *   npx kiln inspect examples/models/dsl.ts --graph eval
 *   npx kiln train examples/models/dsl.ts --epochs 1 --out out/dsl.safetensors
 */
import { concat, fn, gelu, init, layer, leakyRelu, linear, seq, sgd, tanh } from "../../src/index.js";

const swish = fn("swish", (x) => x.mul(x.sigmoid()));

export const glu = (n: number) => layer({
  name: "glu", in: n, out: n,
  params: { weight: { shape: [2 * n, n], init: init.xavier() }, bias: { shape: [2 * n], init: init.zeros() } },
  apply: (p, x) => {
    const h = x.matmul(p.weight, { transposeB: true }).add(p.bias);
    return h.slice(1, 0, n).mul(h.slice(1, n, 2 * n).sigmoid());
  },
});

export const model = seq(
  linear(784, 64), gelu, concat(seq(linear(64, 32), tanh), seq(linear(64, 16), swish)),
  glu(48), leakyRelu(0.1), linear(48, 10),
);

export const options = { inputs: 784, batch: 128, seed: 0, optimizer: sgd({ lr: 0.05, momentum: 0.9 }) };
