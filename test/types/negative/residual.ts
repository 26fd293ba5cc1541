/** A residual whose function does not map N → N; see ./README.md for the `// error:` convention. */
import { batchNorm } from "../../../src/layers/batchNorm.js";
import { linear } from "../../../src/layers/linear.js";
import { relu } from "../../../src/layers/relu.js";
import { residual } from "../../../src/layers/residual.js";
import { seq } from "../../../src/layers/seq.js";

export const block = residual(
  seq(linear(256, 128), batchNorm(128), relu), // error: residual expects its function to map N features to N, but it maps 256 to 128
);

export const inModel = seq(
  linear(784, 256),
  residual(
    linear(256, 64), // error: residual expects its function to map N features to N, but it maps 256 to 64
  ),
  linear(256, 10),
);
