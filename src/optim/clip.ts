/**
 * Gradient clipping inside the compiled train step, between the loss gradient and the optimizer
 * (where PyTorch users call clip_grad_norm_ / clip_grad_value_, after backward(), before step(),
 * so before the optimizer adds its weight decay):
 *   clipGradNorm c   n = ‖(g₁, …, g_k)‖₂ over every parameter's gradient;
 *                    gᵢ ← gᵢ·min(1, c / (n + 1e-6))       (torch.nn.utils.clip_grad_norm_)
 *   clipGradValue c  gᵢ ← clamp(gᵢ, −c, c)                (torch.nn.utils.clip_grad_value_)
 * The IR has no min/clamp primitive; both select with step() (1[x > 0]) so that the kept branch
 * is bit-exact: min(1, q) = q·s + (1 − s) with s = step(1 − q), and
 * clamp(g) = g·(1 − hi − lo) + c·hi − c·lo with hi = step(g − c), lo = step(−c − g).
 */
import type { GraphBuilder } from "../../compiler/ir/builder.js";
import type { V } from "../../compiler/ir/types.js";
import { isFloat32, numberText } from "../options.js";
import { ModelError } from "../../runtime/errors.js";

export interface ClipOptions {
  /** Scale all gradients together so their global L2 norm is at most this (PyTorch's clip_grad_norm_). */
  readonly clipGradNorm?: number;
  /** Clamp every gradient element to [−c, c] (PyTorch's clip_grad_value_). */
  readonly clipGradValue?: number;
}

export interface Clip {
  readonly norm?: number;
  readonly value?: number;
}

/** PyTorch's clip_grad_norm_ guard against a zero norm. */
const NORM_EPS = 1e-6;

function positive(what: string, x: unknown): number | undefined {
  if (x === undefined) return undefined;
  if (!isFloat32(x) || x <= 0) throw new ModelError(`${what} must be a finite number > 0, got ${numberText(x)}`);
  return x;
}

/** Validate the clipping options of an optimizer; undefined when it clips nothing. */
export function checkClip(kind: string, opts: ClipOptions): Clip | undefined {
  const norm = positive(`${kind} clipGradNorm`, opts.clipGradNorm);
  const value = positive(`${kind} clipGradValue`, opts.clipGradValue);
  if (norm !== undefined && value !== undefined) {
    throw new ModelError(`${kind}: give clipGradNorm or clipGradValue, not both (their order would be a guess)`);
  }
  if (norm === undefined && value === undefined) return undefined;
  return Object.freeze(norm !== undefined ? { norm } : { value: value! });
}

/** ‖(g₁, …, g_k)‖₂: the global L2 norm of all gradients together. */
export function globalNorm(b: GraphBuilder, grads: readonly V[]): V {
  const squares = grads.map((g) => b.sum(b.mul(g, g), b.type(g).shape.map((_d, i) => i)));
  return b.sqrt(squares.reduce((s, x) => b.add(s, x)));
}

/** The clipped gradients, in the order given; `norm` is the global norm if already emitted. */
export function emitClip(b: GraphBuilder, grads: readonly V[], clip: Clip, norm?: V): V[] {
  const one = () => b.scalar(1);
  if (clip.norm !== undefined) {
    const n = norm ?? globalNorm(b, grads);
    const q = b.div(b.scalar(clip.norm), b.add(n, b.scalar(NORM_EPS)));
    const s = b.step(b.sub(one(), q));
    const coef = b.add(b.mul(q, s), b.sub(one(), s));
    return grads.map((g) => b.mul(g, coef));
  }
  // clamp(g, −c, c) as PyTorch's: ±∞ becomes ±c, NaN stays NaN (maximum/minimum propagate it).
  const c = clip.value!;
  return grads.map((g) => b.minimum(b.maximum(g, b.scalar(-c)), b.scalar(c)));
}
