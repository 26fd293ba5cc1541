/** Mismatched neighbours in `seq`; see ./README.md for the `// error:` convention. */
import { dropout } from "../../../src/layers/dropout.js";
import { layerNorm } from "../../../src/layers/layerNorm.js";
import { linear } from "../../../src/layers/linear.js";
import { relu } from "../../../src/layers/relu.js";
import { seq } from "../../../src/layers/seq.js";

// The issue's example: argument 3, after relu and dropout.
export const issue = seq(
  linear(784, 256),
  relu,
  dropout(0.1),
  linear(128, 10), // error: seq argument 3 expects 128 features, but previous layer outputs 256
);

export const nested = seq(
  linear(784, 256),
  layerNorm(256),
  seq(relu, linear(512, 10)), // error: seq argument 2 expects 512 features, but previous layer outputs 256
);

export const inner = seq(
  relu,
  seq(
    linear(784, 256),
    dropout(0.5),
    layerNorm(100), // error: seq argument 2 expects 100 features, but previous layer outputs 256
  ),
);

export const notLayers = seq(
  linear(784, 256),
  5, // error: Argument of type 'number' is not assignable to parameter of type 'LayerNode'
);
