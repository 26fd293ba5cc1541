/**
 * Models that must NOT type-check. Each `@ts-expect-error` sits on the line just before the
 * offending argument, so tsc proves both that the mistake is caught and that the error lands on
 * that argument (an error on any other line would be reported, and the directive left unused).
 * The message text is asserted by test/shapes.test.ts, which compiles ./negative.
 */
import { batchNorm } from "../../src/layers/batchNorm.js";
import { dropout } from "../../src/layers/dropout.js";
import { layerNorm } from "../../src/layers/layerNorm.js";
import { linear } from "../../src/layers/linear.js";
import { relu } from "../../src/layers/relu.js";
import { residual } from "../../src/layers/residual.js";
import { seq } from "../../src/layers/seq.js";

export const atFirstNeighbour = seq(
  linear(784, 256),
  // @ts-expect-error seq argument 1 expects 128 features, but previous layer outputs 256
  linear(128, 10),
);

export const afterReluAndDropout = seq(
  linear(784, 256),
  relu,
  dropout(0.1),
  // @ts-expect-error seq argument 3 expects 128 features, but previous layer outputs 256
  linear(128, 10),
);

export const startingWithRelu = seq(
  relu,
  dropout(0.1),
  linear(784, 256),
  relu,
  // @ts-expect-error seq argument 4 expects 512 features, but previous layer outputs 256
  linear(512, 10),
);

export const wrongLayerNorm = seq(
  linear(784, 256),
  // @ts-expect-error seq argument 1 expects 128 features, but previous layer outputs 256
  layerNorm(128),
  relu,
);

export const wrongBatchNorm = seq(
  linear(784, 256),
  residual(linear(256, 256)),
  relu,
  linear(256, 64),
  // @ts-expect-error seq argument 4 expects 32 features, but previous layer outputs 64
  batchNorm(32),
);

// tsc reports only the first failing argument of a call; SeqArgs marks every misfit (see
// fits.ts), and the walk goes on from a misfit's output, so the next one shows once this is fixed.
export const twoMistakes = seq(
  linear(784, 256),
  // @ts-expect-error seq argument 1 expects 100 features, but previous layer outputs 256
  linear(100, 50),
  linear(50, 20),
  linear(10, 2), // the second mistake: reported after the first is fixed
);

export const nestedInner = seq(
  linear(784, 256),
  seq(
    linear(256, 128),
    relu,
    // @ts-expect-error seq argument 2 expects 256 features, but previous layer outputs 128
    linear(256, 10),
  ),
);

export const nestedAsArgument = seq(
  linear(784, 256),
  // @ts-expect-error seq argument 1 expects 128 features, but previous layer outputs 256
  seq(relu, linear(128, 64), relu),
  linear(64, 10),
);

// A pass-through seq does not reset the size flowing through it.
const act = seq(relu, dropout(0.1));
export const throughPassThrough = seq(
  linear(784, 256),
  act,
  seq(act, relu),
  // @ts-expect-error seq argument 3 expects 128 features, but previous layer outputs 256
  linear(128, 10),
);

export const residualMismatch = residual(
  // @ts-expect-error residual expects its function to map N features to N, but it maps 256 to 128
  seq(linear(256, 128), relu),
);
// @ts-expect-error residual expects its function to map N features to N, but it maps 10 to 20
export const residualOfLinear = residual(linear(10, 20));

export const residualNeighbour = seq(
  linear(784, 256),
  // @ts-expect-error seq argument 1 expects 128 features, but previous layer outputs 256
  residual(seq(linear(128, 128), relu)),
);

// A widened size is checked at run time, but literal sizes after it are still checked here.
const cfg = { hidden: 256 };
export const afterWidened = seq(
  linear(784, cfg.hidden),
  linear(256, 128),
  // @ts-expect-error seq argument 2 expects 64 features, but previous layer outputs 128
  linear(64, 10),
);

// Not layers at all.
// @ts-expect-error Argument of type 'number' is not assignable to parameter of type 'LayerNode'
export const notALayer = seq(5);
// @ts-expect-error a layer constructor passed uncalled
export const uncalled = seq(linear(784, 256), relu, linear);
// @ts-expect-error Expected 1 arguments, but got 0
export const empty = seq();
// @ts-expect-error Argument of type 'undefined' is not assignable to parameter of type 'LayerNode'
export const residualOfNothing = residual(undefined);
// @ts-expect-error relu is a value, not a function (a generic relu<N>() would turn checking off)
export const reluCalled = seq(linear(784, 256), relu());

// Known limitation: tsc cannot compare a size type parameter with anything but itself (see
// `Fits` in src/layers/shapes.ts), so mixing one with another size fails to type-check, with an
// unreadable message. Inside such helpers, type the other sizes `number` AND the parameter
// `number` (then the run-time check decides). If this starts to compile, delete the directive.
export function mixedGenericSizes<N extends number>(n: N, hidden: number) {
  // @ts-expect-error N against number cannot be decided by tsc
  return seq(layerNorm(n), linear(hidden, 10));
}
