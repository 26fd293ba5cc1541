import { ModelError } from "../../runtime/errors.js";
import { checkClip, type ClipOptions } from "./clip.js";
import type { LearningRate, Optimizer } from "./optimizer.js";
import { checkLr } from "./sgd.js";
import { isFloat32, knownOptions, numberText } from "../options.js";

export interface AdamOptions extends ClipOptions {
  readonly lr: LearningRate;
  /** (β₁, β₂), default (0.9, 0.999). */
  readonly betas?: readonly [number, number];
  readonly eps?: number;
  readonly weightDecay?: number;
}

function check(what: string, x: unknown, lo: number, hi: number): number {
  if (!isFloat32(x) || x < lo || x >= hi) throw new ModelError(`${what} must be a number in [${lo}, ${hi}), got ${numberText(x)}`);
  return x;
}

/**
 * Adam and AdamW with PyTorch's update. With t the 1-based step, bias corrections
 * c₁ = 1/(1 − β₁ᵗ), c₂ = 1/√(1 − β₂ᵗ) (host-computed runtime scalars, so no recompilation):
 *   m = β₁m + (1 − β₁)g;  v = β₂v + (1 − β₂)g²;  w −= lr·c₁·m / (√v·c₂ + ε)
 * `clipGradNorm` / `clipGradValue` clip the loss gradient before either decay (see clip.ts).
 * Weight decay: Adam couples it as L2 (g += λw, as SGD); AdamW decouples it (w −= lr·λ·w first).
 */
function make(kind: "adam" | "adamw", opts: AdamOptions, defaultDecay: number): Optimizer {
  knownOptions(kind, opts, ["lr", "betas", "eps", "weightDecay", "clipGradNorm", "clipGradValue"]);
  const lr = checkLr(opts?.lr);
  const betas: unknown = opts.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2) throw new ModelError(`${kind} betas must be a pair [β₁, β₂], got ${Array.isArray(betas) ? `${betas.length} numbers` : String(betas)}`);
  const b1 = check(`${kind} betas[0]`, betas[0], 0, 1);
  const b2 = check(`${kind} betas[1]`, betas[1], 0, 1);
  const eps = check(`${kind} eps`, opts.eps ?? 1e-8, 0, Infinity);
  const wd = check(`${kind} weightDecay`, opts.weightDecay ?? defaultDecay, 0, Infinity);
  const clip = checkClip(kind, opts);
  const optimizer: Optimizer = {
    kind,
    lr,
    ...(clip ? { clip } : {}),
    slots: ["exp_avg", "exp_avg_sq"],
    scalars: [
      { name: "adam.c1", value: (t) => 1 / (1 - b1 ** t) },
      { name: "adam.c2", value: (t) => 1 / Math.sqrt(1 - b2 ** t) },
    ],
    emit: (b, w0, g0, lrV, [m0, v0], [c1, c2]) => {
      const decayed = kind === "adamw" && wd > 0 ? b.sub(w0, b.mul(b.mul(w0, lrV), b.scalar(wd))) : w0;
      const g = kind === "adam" && wd > 0 ? b.add(g0, b.mul(w0, b.scalar(wd))) : g0;
      const m = b.add(b.mul(m0!, b.scalar(b1)), b.mul(g, b.scalar(1 - b1)));
      const v = b.add(b.mul(v0!, b.scalar(b2)), b.mul(b.mul(g, g), b.scalar(1 - b2)));
      const denom = b.add(b.mul(b.sqrt(v), c2!), b.scalar(eps));
      return { param: b.sub(decayed, b.div(b.mul(m, b.mul(lrV, c1!)), denom)), slots: [m, v] };
    },
  };
  return Object.freeze(optimizer);
}

/**
 * Adam (Kingma & Ba) with coupled L2 weight decay, as torch.optim.Adam.
 * @example adam({ lr: 1e-3, weightDecay: 1e-4 })
 */
export const adam = (opts: AdamOptions): Optimizer => make("adam", opts, 0);

/**
 * AdamW (Loshchilov & Hutter): decoupled weight decay, default λ = 0.01 as torch.optim.AdamW.
 * @example adamw({ lr: 1e-3, weightDecay: 0.05 })
 */
export const adamw = (opts: AdamOptions): Optimizer => make("adamw", opts, 0.01);
