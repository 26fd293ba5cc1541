/**
 * Long models: checking must not stop (TS2589) or get slow with depth. The walks are tail
 * recursive and O(n); see src/layers/shapes.ts. A 50-layer model alone is in ./fifty.ts.
 */
import { batchNorm } from "../../src/layers/batchNorm.js";
import { dropout } from "../../src/layers/dropout.js";
import { layerNorm } from "../../src/layers/layerNorm.js";
import { linear } from "../../src/layers/linear.js";
import { relu } from "../../src/layers/relu.js";
import { residual } from "../../src/layers/residual.js";
import { seq } from "../../src/layers/seq.js";
import type { Seq } from "../../src/layers/shapes.js";

export const hundredTwenty: Seq<784, 10> = seq(
  linear(784, 128), // 0
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 1–10
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 11–20
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 21–30
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 31–40
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 41–50
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 51–60
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 61–70
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 71–80
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 81–90
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 91–100
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 101–110
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), // 111–118
  linear(128, 10), // 119
);

// A mistake deep in a long model still lands on its own argument.
export const mistakeAfterForty = seq(
  linear(784, 128), // 0
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 1–10
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 11–20
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 21–30
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 31–40
  relu, // 41
  // @ts-expect-error seq argument 42 expects 64 features, but previous layer outputs 128
  linear(64, 10),
);

export const threeHundred: Seq<784, 10> = seq(
  linear(784, 128), // 0
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 1–10
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 11–20
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 21–30
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 31–40
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 41–50
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 51–60
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 61–70
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 71–80
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 81–90
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 91–100
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 101–110
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 111–120
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 121–130
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 131–140
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 141–150
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 151–160
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 161–170
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 171–180
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 181–190
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 191–200
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 201–210
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 211–220
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 221–230
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 231–240
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 241–250
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 251–260
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 261–270
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 271–280
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), relu, dropout(0.2), // 281–290
  linear(128, 128), layerNorm(128), relu, dropout(0.1), residual(linear(128, 128)), batchNorm(128), relu, linear(128, 128), // 291–298
  linear(128, 10), // 299
);
