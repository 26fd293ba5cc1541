/**
 * A model file for the `kiln` command line: an MNIST MLP (784-256-256-10, a layerNorm and a batchNorm, dropout).
 *   npx kiln inspect examples/models/mlp.ts --graph eval
 *   npx kiln diff examples/models/mlp.ts train eval
 *   npx kiln train examples/models/mlp.ts --epochs 3          # writes out/mlp.safetensors
 * The cosine schedule has no steps: it spans the run kiln train makes of it, however many epochs.
 */
import { batchNorm, cosine, dropout, layerNorm, linear, relu, seq, sgd } from "../../src/index.js";

export const model = seq(
  linear(784, 256), layerNorm(256), relu, dropout(0.1),
  linear(256, 256), batchNorm(256), relu, dropout(0.1),
  linear(256, 10),
);

export const options = {
  inputs: 784,
  batch: 128,
  seed: 0,
  optimizer: sgd({ lr: cosine({ from: 0.05, to: 0 }), momentum: 0.9, weightDecay: 1e-4 }),
};
