/** The open DSL's sizes in `seq` and `concat`; see ./README.md for the `// error:` convention. */
import { concat } from "../../../src/layers/concat.js";
import { fn } from "../../../src/layers/fn.js";
import { layer } from "../../../src/layers/layer.js";
import { linear } from "../../../src/layers/linear.js";
import { gelu } from "../../../src/layers/activations.js";
import { seq } from "../../../src/layers/seq.js";

const swish = fn("swish", (x) => x.mul(x.sigmoid()));
const up = layer({ name: "up", in: 16, out: 32, params: { w: { shape: [32, 16] } }, apply: (p, x) => x.matmul(p.w, { transposeB: true }) });

// A layer's `in` is checked against what flows into it, through fns.
export const intoLayer = seq(
  linear(8, 12),
  swish,
  up, // error: seq argument 2 expects 16 features, but previous layer outputs 12
);

// A layer's `out` is what the next layer sees.
export const outOfLayer = seq(
  linear(4, 16),
  up,
  linear(16, 2), // error: seq argument 2 expects 16 features, but previous layer outputs 32
);

// concat's summed width (32 + 16) is checked downstream.
export const afterConcat = seq(
  linear(20, 64),
  gelu,
  concat(seq(linear(64, 32), gelu), linear(64, 16)),
  linear(64, 1), // error: seq argument 3 expects 64 features, but previous layer outputs 48
);

// Branches of a concat must agree on their input size.
export const branches = concat(
  linear(10, 4),
  linear(12, 4), // error: concat branch 1 expects 12 features, but the branches before it expect 10
);
