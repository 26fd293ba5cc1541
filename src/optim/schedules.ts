/**
 * Learning-rate schedules: functions of the 0-based step, evaluated on the host before each
 * train step and fed to the program as its `lr` scalar — changing the rate never recompiles.
 * They compose: `warmup({ steps: 100 }, cosine({ from: 0.05, to: 0 }))`.
 *
 * A schedule given without its length (`cosine({ from, to })`) spans the run it is used in: the
 * net passes the run's total steps (`net.setTotalSteps`, set by the examples' trainLoop and `kiln train`) as
 * the second argument. A schedule that runs past its end says so once on stderr — a rate held
 * at its final value for the rest of a run is almost always a length given for another run.
 */
import { ModelError } from "../../runtime/errors.js";
import { isFloat32, numberText, requiredOptions } from "../options.js";

/** lr at the 0-based `step` of a run of `total` steps (undefined: the run's length is not known). */
export type Schedule = (step: number, total?: number) => number;

type Stderr = { write(text: string): unknown };

/** Where past-the-end warnings go (replaceable in tests): Node's stderr, or the console in a browser. */
export const scheduleWarnings = {
  write: (message: string): void => {
    const stderr = (globalThis as { process?: { stderr?: Stderr } }).process?.stderr;
    if (stderr) stderr.write(`kiln: warning: ${message}\n`);
    else console.warn(`kiln: warning: ${message}`);
  },
};

/**
 * The length of a schedule: its own `steps`, else the run's `total`; refused when neither is known.
 * Warns once (per schedule) when the step is past the end.
 */
function lengthAt(name: string, own: number | undefined, t: number, total: number | undefined, warned: { done: boolean }): number {
  const n = own ?? total;
  if (n === undefined) {
    throw new ModelError(`${name} has no length: expected its steps, or the run's length from net.setTotalSteps(n) before the first step (kiln train and the examples' training loop set it)`);
  }
  if (t >= n && !warned.done) {
    warned.done = true;
    const run = total !== undefined && total > n ? ` of a ${total}-step run` : "";
    scheduleWarnings.write(`${name} ended at step ${n} and this is step ${t}${run}: the rate stays at its final value from here` +
      (own !== undefined ? " (leave out steps to span the whole run)" : ""));
  }
  return n;
}

function finite(what: string, x: unknown, min = 0): number {
  if (!isFloat32(x) || x < min) throw new ModelError(`${what} must be a finite number ≥ ${min}, got ${numberText(x)}`);
  return x;
}

function count(what: string, x: unknown): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < 1) throw new ModelError(`${what} must be a positive integer, got ${String(x)}`);
  return x;
}

function asSchedule(what: string, s: unknown): Schedule {
  if (typeof s === "number") return constant(s);
  if (typeof s !== "function") throw new ModelError(`${what} must be a schedule (step) => lr or a number, got ${s === null ? "null" : typeof s}`);
  return s as Schedule;
}

/** The same rate at every step. @example sgd({ lr: constant(0.01) }) — same as lr: 0.01 */
export function constant(lr: number): Schedule {
  const v = finite("constant lr", lr);
  return () => v;
}

/**
 * Multiply by `gamma` every `every` steps (PyTorch's StepLR).
 * @example stepDecay({ from: 0.1, gamma: 0.1, every: 500 })
 */
export function stepDecay(o: { from: number; gamma: number; every: number }): Schedule {
  requiredOptions("stepDecay", o, ["from", "gamma", "every"]);
  const from = finite("stepDecay from", o.from), gamma = finite("stepDecay gamma", o.gamma), every = count("stepDecay every", o.every);
  return (t) => from * gamma ** Math.floor(t / every);
}

/**
 * Cosine annealing from `from` to `to` over `steps` steps (default: the whole run), then
 * constant at `to`: lr(t) = to + (from − to)·(1 + cos(π·t/steps))/2.
 * @example sgd({ lr: cosine({ from: 0.05, to: 0 }), momentum: 0.9 }) // spans trainLoop's / kiln train's steps
 */
export function cosine(o: { from: number; to?: number; steps?: number }): Schedule {
  requiredOptions("cosine", o, ["from", "to", "steps"]);
  const from = finite("cosine from", o.from), to = finite("cosine to", o.to ?? 0);
  const own = o.steps === undefined ? undefined : count("cosine steps", o.steps);
  const warned = { done: false };
  return (t, total) => {
    const steps = lengthAt(`cosine({ from: ${from}, to: ${to}${own === undefined ? "" : `, steps: ${own}`} })`, own, t, total, warned);
    return to + ((from - to) * (1 + Math.cos((Math.PI * Math.min(t, steps)) / steps))) / 2;
  };
}

/**
 * Linear warmup over `steps` steps from `from` (default 0) to where `then` starts, then `then`
 * shifted to begin after the warmup (and, in a run of known length, spanning what is left of it).
 * @example warmup({ steps: 100 }, cosine({ from: 0.05 }))
 */
export function warmup(o: { steps: number; from?: number }, then: Schedule | number): Schedule {
  requiredOptions("warmup", o, ["steps", "from"]);
  const steps = count("warmup steps", o.steps), from = finite("warmup from", o.from ?? 0);
  const next = asSchedule("warmup's then", then);
  return (t, total) => {
    const rest = total === undefined ? undefined : Math.max(1, total - steps);
    return t < steps ? from + ((next(0, rest) - from) * (t + 1)) / steps : next(t - steps, rest);
  };
}
