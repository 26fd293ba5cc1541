/**
 * Probes: the lecture's measurements (§1) as extra outputs of the compiled programs, per layer:
 *   activationNorm  ‖y‖₂ of the layer's whole output batch (every layer)
 *   gradNorm        ‖∂ℓ/∂W‖₂ of its weight (layers with a weight)
 *   weightVariance  Var(W), population variance over all entries (layers with a weight)
 * and, with gradNorm, gradNorm "total": the global norm ‖(∂ℓ/∂θ₁, …)‖₂ over every parameter's
 * gradient, before any clipping (what clip_grad_norm_ returns in PyTorch).
 * They describe the same forward/backward pass as the loss returned by trainStep (weights before
 * the update), and cost nothing when off: no probe, no extra node.
 */
import type { GraphBuilder } from "../compiler/ir/builder.js";
import type { V } from "../compiler/ir/types.js";
import { ModelError } from "../runtime/errors.js";

export interface ProbeOptions {
  readonly activationNorm?: boolean;
  readonly gradNorm?: boolean;
  readonly weightVariance?: boolean;
}

export type ProbeKind = "activationNorm" | "gradNorm" | "weightVariance";
export type Probes = Record<ProbeKind, Record<string, number>>;

export const PROBE_KINDS: readonly ProbeKind[] = ["activationNorm", "gradNorm", "weightVariance"];

export function checkProbes(p: unknown): ProbeOptions {
  if (p === undefined) return {};
  if (typeof p !== "object" || p === null) throw new ModelError(`compile: probes must be an object like { activationNorm: true }, got ${String(p)}`);
  for (const [k, v] of Object.entries(p)) {
    if (!PROBE_KINDS.includes(k as ProbeKind)) throw new ModelError(`compile: unknown probe ${JSON.stringify(k)}; expected one of ${PROBE_KINDS.join(", ")}`);
    if (typeof v !== "boolean") throw new ModelError(`compile: probes.${k} must be true or false, got ${String(v)}`);
  }
  return p as ProbeOptions;
}

/** Key of the global gradient norm among the gradNorm probes (no layer path is a word). */
export const TOTAL_GRAD_NORM = "total";

/** Output name of a probe: "activationNorm:4.fn.0". */
export const probeName = (kind: ProbeKind, path: string): string => `${kind}:${path}`;

/** ‖v‖₂ over all elements. */
export const l2 = (b: GraphBuilder, v: V): V => b.sqrt(b.sum(b.mul(v, v), b.type(v).shape.map((_d, i) => i)));

/** Population variance over all elements: mean((v − mean v)²). */
export function variance(b: GraphBuilder, v: V): V {
  const axes = b.type(v).shape.map((_d, i) => i);
  const centered = b.sub(v, b.mean(v, axes, true));
  return b.mean(b.mul(centered, centered), axes);
}

/** Layer path of a weight parameter ("4.fn.0.weight" → "4.fn.0"; a bare layer's "weight" → ""). */
export const weightPath = (param: string): string | null =>
  param === "weight" ? "" : param.endsWith(".weight") ? param.slice(0, -".weight".length) : null;
