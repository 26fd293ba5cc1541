/**
 * Initializers: how a parameter's first values are drawn. An initializer is a description; it is
 * sampled by `compile()` from the seeded counter-based stream of that parameter, so the same seed
 * always gives the same parameters.
 *
 * The lecture (§1): for W ~ N(0, σ²) with σ² = c/n (n = fan-in), c = 2 keeps the ReLU signal
 * energy E[a²] flat layer after layer; c = 1 makes it vanish and c = 3 explode.
 */
import { fillNormal, fillUniform } from "../runtime/rng.js";
import { ModelError } from "../runtime/errors.js";
import { isFloat32, knownOptions } from "./options.js";

export type Distribution = "normal" | "uniform";
export type FanMode = "fanIn" | "fanOut";

/**
 * The arguments an initializer was made with, for description and serialization (src/spec.ts).
 * Read-only: sampling does not look at them.
 */
export interface InitParams {
  readonly distribution?: Distribution;
  readonly mode?: FanMode;
  /** init.normal's variance as given: a number, or the function of fan-in. */
  readonly variance?: number | ((fanIn: number) => number);
  /** The value of a constant initializer (zeros: 0, ones: 1). */
  readonly value?: number;
}

export interface Initializer {
  readonly kind: "he" | "xavier" | "normal" | "uniform" | "constant";
  /** Human-readable, e.g. `he(normal, fanIn)`. */
  readonly label: string;
  /** What it was made with (absent on hand-made initializers). */
  readonly params?: InitParams;
  /** Fill `out` (a tensor with the given fans) from the stream keyed (k0, k1). */
  readonly sample: (out: Float32Array | Float64Array, fanIn: number, fanOut: number, k0: number, k1: number) => void;
}

function make(kind: Initializer["kind"], label: string, sample: Initializer["sample"], params: InitParams): Initializer {
  return Object.freeze({ kind, label, sample, params: Object.freeze(params) });
}

function scaled(out: Float32Array | Float64Array, dist: Distribution, variance: number, k0: number, k1: number): void {
  if (dist === "normal") {
    fillNormal(out, k0, k1);
    scaleInPlace(out, Math.sqrt(variance));
  } else {
    // U(−a, a) has variance a²/3, so a = √(3·variance).
    fillUniform(out, k0, k1, 0);
    const a = Math.sqrt(3 * variance);
    if (out instanceof Float32Array) for (let i = 0; i < out.length; i++) out[i] = (2 * out[i]! - 1) * a;
    else for (let i = 0; i < out.length; i++) out[i] = (2 * out[i]! - 1) * a;
  }
}

/**
 * out·s in place, one loop per array type: a loop over the union reads and writes through
 * polymorphic element accesses, 30 ns an element (a third of compile()'s time on the lecture's
 * 50-layer net went to initializing its 580k weights).
 */
function scaleInPlace(out: Float32Array | Float64Array, s: number): void {
  if (out instanceof Float32Array) for (let i = 0; i < out.length; i++) out[i]! *= s;
  else for (let i = 0; i < out.length; i++) out[i]! *= s;
}

function checkDistribution(d: unknown): Distribution {
  if (d !== "normal" && d !== "uniform") throw new ModelError(`init distribution must be "normal" or "uniform", got ${JSON.stringify(d)}`);
  return d;
}

function checkMode(m: unknown): FanMode {
  if (m !== "fanIn" && m !== "fanOut") throw new ModelError(`init mode must be "fanIn" or "fanOut", got ${JSON.stringify(m)}`);
  return m;
}

/** Whether `x` is an initializer (init.he(), init.zeros(), …): what a layer's `init` must be. */
export const isInitializer = (x: unknown): x is Initializer =>
  typeof x === "object" && x !== null && typeof (x as Initializer).sample === "function";

/**
 * He (Kaiming) initialization: variance 2/fan. The default for linear weights.
 * @example linear(784, 256, { init: init.he({ distribution: "uniform" }) })
 */
export function he(opts: { distribution?: Distribution; mode?: FanMode } = {}): Initializer {
  knownOptions("init.he", opts, ["distribution", "mode"]);
  const dist = checkDistribution(opts.distribution ?? "normal");
  const mode = checkMode(opts.mode ?? "fanIn");
  return make("he", `he(${dist}, ${mode})`, (out, fanIn, fanOut, k0, k1) =>
    scaled(out, dist, 2 / (mode === "fanIn" ? fanIn : fanOut), k0, k1), { distribution: dist, mode });
}

/**
 * Xavier (Glorot) initialization: variance 2/(fan_in + fan_out).
 * @example linear(256, 256, { init: init.xavier() })
 */
export function xavier(opts: { distribution?: Distribution } = {}): Initializer {
  knownOptions("init.xavier", opts, ["distribution"]);
  const dist = checkDistribution(opts.distribution ?? "normal");
  return make("xavier", `xavier(${dist})`, (out, fanIn, fanOut, k0, k1) => scaled(out, dist, 2 / (fanIn + fanOut), k0, k1), { distribution: dist });
}

/**
 * Zero-mean normal with variance given as a function of fan-in: the lecture's σ² = c/n exactly.
 * @example linear(100, 100, { init: init.normal({ variance: (n) => 3 / n }) })
 */
export function normal(opts: { variance: number | ((fanIn: number) => number) }): Initializer {
  knownOptions("init.normal", opts, ["variance"]);
  const v = opts?.variance;
  if (typeof v !== "number" && typeof v !== "function") {
    throw new ModelError(`init.normal needs { variance: number | (fanIn) => number }, got ${typeof v}`);
  }
  const variance = typeof v === "number" ? () => v : v;
  const label = typeof v === "number" ? `normal(variance=${v})` : "normal(variance=f(fanIn))";
  // The weights are float32: a standard deviation beyond its range would make them ±∞.
  const bad = (s: unknown) => typeof s !== "number" || !(s >= 0) || !isFloat32(Math.sqrt(s));
  const why = (s: unknown) => `init.normal variance must be a finite number ≥ 0, got ${String(s)}` +
    (typeof s === "number" && s > 0 && Number.isFinite(s) ? " (its square root, the weights' scale, is beyond float32's range)" : "");
  if (typeof v === "number" && bad(v)) throw new ModelError(why(v));
  return make("normal", label, (out, fanIn, _fanOut, k0, k1) => {
    const s = variance(fanIn);
    if (bad(s)) throw new ModelError(`${why(s)} for fan-in ${fanIn}`);
    scaled(out, "normal", s, k0, k1);
  }, { variance: v });
}

function constant(value: number, label: string): Initializer {
  return make("constant", label, (out) => { out.fill(value); }, { value });
}

/** All zeros (the default for biases and β). @example linear(10, 10, { init: init.zeros() }) */
export const zeros = (): Initializer => constant(0, "zeros");
/** All ones (γ of the normalization layers). @example init.ones() */
export const ones = (): Initializer => constant(1, "ones");
