/**
 * Learning-rate schedules: functions of the 0-based step, evaluated on the host before each
 * train step and fed to the program as its `lr` scalar — changing the rate never recompiles.
 * They compose: `warmup({ steps: 100 }, cosine({ from: 0.05, to: 0, steps: 1160 }))`.
 */
import { ModelError } from "../../runtime/errors.js";

export type Schedule = (step: number) => number;

function finite(what: string, x: unknown, min = 0): number {
  if (typeof x !== "number" || !Number.isFinite(x) || x < min) throw new ModelError(`${what} must be a finite number ≥ ${min}, got ${String(x)}`);
  return x;
}

function count(what: string, x: unknown): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < 1) throw new ModelError(`${what} must be a positive integer, got ${String(x)}`);
  return x;
}

const asSchedule = (s: Schedule | number): Schedule => (typeof s === "number" ? constant(s) : s);

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
  const from = finite("stepDecay from", o.from), gamma = finite("stepDecay gamma", o.gamma), every = count("stepDecay every", o.every);
  return (t) => from * gamma ** Math.floor(t / every);
}

/**
 * Cosine annealing from `from` to `to` over `steps` steps, then constant at `to`:
 * lr(t) = to + (from − to)·(1 + cos(π·t/steps))/2.
 * @example sgd({ lr: cosine({ from: 0.05, to: 0, steps: 1260 }), momentum: 0.9 })
 */
export function cosine(o: { from: number; to?: number; steps: number }): Schedule {
  const from = finite("cosine from", o.from), to = finite("cosine to", o.to ?? 0), steps = count("cosine steps", o.steps);
  return (t) => to + ((from - to) * (1 + Math.cos((Math.PI * Math.min(t, steps)) / steps))) / 2;
}

/**
 * Linear warmup over `steps` steps from `from` (default 0) to where `then` starts, then `then`
 * shifted to begin after the warmup.
 * @example warmup({ steps: 100 }, cosine({ from: 0.05, steps: 1000 }))
 */
export function warmup(o: { steps: number; from?: number }, then: Schedule | number): Schedule {
  const steps = count("warmup steps", o.steps), from = finite("warmup from", o.from ?? 0);
  const next = asSchedule(then);
  return (t) => (t < steps ? from + ((next(0) - from) * (t + 1)) / steps : next(t - steps));
}
