/**
 * A 50-layer model alone, to time the checker: `npx tsc -p test/types/tsconfig.fifty.json
 * --extendedDiagnostics` (this file + the src files it imports). Also part of the project's check.
 */
import { batchNorm } from "../../src/layers/batchNorm.js";
import { dropout } from "../../src/layers/dropout.js";
import { layerNorm } from "../../src/layers/layerNorm.js";
import { linear } from "../../src/layers/linear.js";
import { relu } from "../../src/layers/relu.js";
import { residual } from "../../src/layers/residual.js";
import { seq } from "../../src/layers/seq.js";
import type { Seq } from "../../src/layers/shapes.js";

export const fifty: Seq<784, 10> = seq(
  linear(784, 512), batchNorm(512), relu, dropout(0.1), // 0–3
  linear(512, 256), layerNorm(256), relu, dropout(0.1), // 4–7
  residual(seq(linear(256, 256), batchNorm(256), relu)), layerNorm(256), relu, dropout(0.1), linear(256, 256), // 8–12
  residual(seq(linear(256, 256), batchNorm(256), relu)), layerNorm(256), relu, dropout(0.1), linear(256, 256), // 13–17
  residual(seq(linear(256, 256), batchNorm(256), relu)), layerNorm(256), relu, dropout(0.1), linear(256, 256), // 18–22
  residual(seq(linear(256, 256), batchNorm(256), relu)), layerNorm(256), relu, dropout(0.1), linear(256, 256), // 23–27
  residual(seq(linear(256, 256), batchNorm(256), relu)), layerNorm(256), relu, dropout(0.1), linear(256, 256), // 28–32
  residual(seq(linear(256, 256), batchNorm(256), relu)), layerNorm(256), relu, dropout(0.1), linear(256, 256), // 33–37
  residual(seq(linear(256, 256), batchNorm(256), relu)), layerNorm(256), relu, dropout(0.1), linear(256, 256), // 38–42
  layerNorm(256), relu, layerNorm(256), relu, // 43–46
  linear(256, 64), relu, linear(64, 10), // 47–49
);
