import { ModelError } from "../../runtime/errors.js";
import { checkClip, type ClipOptions } from "./clip.js";
import type { LearningRate, Optimizer } from "./optimizer.js";
import { isFloat32, knownOptions, numberText } from "../options.js";

export interface SgdOptions extends ClipOptions {
  readonly lr: LearningRate;
  readonly momentum?: number;
  readonly weightDecay?: number;
  readonly nesterov?: boolean;
}

export function checkLr(lr: unknown): LearningRate {
  if (typeof lr === "function") return lr as LearningRate;
  if (!isFloat32(lr) || lr < 0) {
    throw new ModelError(`optimizer lr must be a finite number ≥ 0 or a schedule, got ${numberText(lr)}`);
  }
  return lr;
}

function checkNonNegative(what: string, x: unknown): number {
  if (!isFloat32(x) || x < 0) throw new ModelError(`sgd ${what} must be a finite number ≥ 0, got ${numberText(x)}`);
  return x;
}

/**
 * Stochastic gradient descent with PyTorch's semantics. With weight decay λ (coupled L2, applied
 * to every parameter) and momentum μ:
 *   d = g + λ·w;   v = μ·v + d;   w = w − lr·(nesterov ? d + μ·v : v)
 * With μ = 0 this is the lecture's W := (1 − αλ)·W − α·∇ℓ: shrink, then step.
 * `clipGradNorm` / `clipGradValue` clip the loss gradient first (see clip.ts).
 * @example sgd({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 })
 * @example sgd({ lr: 0.1, clipGradNorm: 1 })
 */
export function sgd(opts: SgdOptions): Optimizer {
  knownOptions("sgd", opts, ["lr", "momentum", "weightDecay", "nesterov", "clipGradNorm", "clipGradValue"]);
  const lr = checkLr(opts?.lr);
  const momentum = checkNonNegative("momentum", opts.momentum ?? 0);
  const wd = checkNonNegative("weightDecay", opts.weightDecay ?? 0);
  const nesterov = opts.nesterov ?? false;
  if (typeof nesterov !== "boolean") throw new ModelError(`sgd nesterov must be true or false, got ${String(nesterov)}`);
  if (nesterov && momentum === 0) throw new ModelError("sgd nesterov needs a momentum > 0 (as in PyTorch)");
  const clip = checkClip("sgd", opts);
  const optimizer: Optimizer = {
    kind: "sgd",
    lr,
    ...(clip ? { clip } : {}),
    slots: momentum > 0 ? ["momentum_buffer"] : [],
    scalars: [],
    emit: (b, w, g, lrV, slots) => {
      const d = wd > 0 ? b.add(g, b.mul(w, b.scalar(wd))) : g;
      if (momentum === 0) return { param: b.sub(w, b.mul(d, lrV)), slots: [] };
      const v = b.add(b.mul(slots[0]!, b.scalar(momentum)), d);
      const dir = nesterov ? b.add(d, b.mul(v, b.scalar(momentum))) : v;
      return { param: b.sub(w, b.mul(dir, lrV)), slots: [v] };
    },
  };
  return Object.freeze(optimizer);
}
