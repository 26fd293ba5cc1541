/**
 * From one model expression to the four graphs a user can inspect:
 *   forward   train-mode forward pass + loss (+ running-statistic updates)
 *   backward  loss and the gradient of every parameter (ordinary IR from `differentiate`)
 *   train     one whole step: forward, backward, optimizer update; parameters in, parameters out
 *   eval      eval-mode forward: no dropout, batchNorm on running statistics
 */
import { connectedToLoss, differentiate } from "../compiler/autodiff.js";
import { GraphBuilder } from "../compiler/ir/builder.js";
import type { Graph } from "../compiler/ir/graph.js";
import type { V } from "../compiler/ir/types.js";
import { dce } from "../compiler/passes/dce.js";
import type { LayerNode } from "./layers/node.js";
import type { Loss } from "./loss.js";
import { emitClip, globalNorm } from "./optim/clip.js";
import type { Optimizer } from "./optim/optimizer.js";
import { l2, probeName, TOTAL_GRAD_NORM, variance, weightPath, type ProbeOptions } from "./probes.js";
import { TraceContext, traceLayer, type Mode } from "./trace.js";
import { withScopes } from "./dsl/call.js";

export interface TraceOptions {
  readonly inputs: number;
  readonly batch: number;
  readonly seed: number;
  readonly probes?: ProbeOptions;
}

export interface Traced {
  readonly b: GraphBuilder;
  readonly ctx: TraceContext;
  readonly logits: number;
}

/** Trace the model on an input batch `x: f32[batch, inputs]` in the given mode. */
export function traceModel(model: LayerNode, mode: Mode, o: TraceOptions): Traced {
  const b = new GraphBuilder();
  const ctx = new TraceContext(b, mode, o.seed, o.batch);
  const x = b.input("x", "data", { shape: [o.batch, o.inputs], dtype: "f32" });
  return { b, ctx, logits: traceLayer(model, x, "", ctx) };
}

/** Train-mode forward graph with the loss appended: outputs loss, logits and state updates. */
export function forwardGraph(model: LayerNode, loss: Loss, o: TraceOptions): { graph: Graph; ctx: TraceContext } {
  const { b, ctx, logits } = traceModel(model, "train", o);
  const labels = b.input("labels", "labels", loss.labelType(o.batch, b.type(logits).shape[1]!));
  b.output("loss", "loss", b.withOrigin([`loss@${loss.kind}`], () => loss.emit(b, logits, labels, ctx.scopes)));
  b.output("logits", "logits", logits);
  const probes = o.probes ?? {};
  const probe = (name: string, f: () => V) => b.output(name, "probe", b.withOrigin([`probe@${name}`], f));
  if (probes.activationNorm) for (const [path, y] of ctx.activations) probe(probeName("activationNorm", path), () => l2(b, y));
  if (probes.weightVariance) {
    for (const p of ctx.params) {
      const path = weightPath(p.name);
      if (path !== null) probe(probeName("weightVariance", path), () => variance(b, b.findInput(p.name)!));
    }
  }
  return { graph: withScopes(b.build(), ctx.scopes), ctx };
}

/** Forward + reverse-mode gradient of the loss w.r.t. every parameter (all outputs kept). */
export function gradientGraph(forward: Graph, params: readonly string[]): Graph {
  return differentiate(forward, "loss", params);
}

/**
 * ‖∂ℓ/∂W‖₂ outputs for every weight, read from the gradient outputs, and the global norm over
 * every parameter's gradient (before any clipping) as gradNorm "total"; returns that norm.
 */
function gradNormProbes(b: GraphBuilder, full: Graph, probes: ProbeOptions | undefined): V | undefined {
  if (!probes?.gradNorm) return undefined;
  for (const o of full.outputs) {
    const path = o.kind === "grad" ? weightPath(o.name.slice(0, -".grad".length)) : null;
    const name = probeName("gradNorm", path ?? "");
    if (path !== null) b.output(name, "probe", b.withOrigin([`probe@${name}`], () => l2(b, o.value)));
  }
  const name = probeName("gradNorm", TOTAL_GRAD_NORM);
  const total = b.withOrigin([`probe@${name}`], () => globalNorm(b, full.outputs.filter((o) => o.kind === "grad").map((o) => o.value)));
  b.output(name, "probe", total);
  return total;
}

/** Only the loss, the gradients and the probes: what `net.gradients()` runs. */
export function backwardGraph(full: Graph, probes?: ProbeOptions): Graph {
  const b = new GraphBuilder(full);
  gradNormProbes(b, full, probes);
  b.filterOutputs((o) => o.kind === "loss" || o.kind === "grad" || o.kind === "probe");
  return dce(b.build());
}

/** The whole train step: the optimizer's update appended to forward + backward. */
export function trainGraph(full: Graph, params: readonly string[], opt: Optimizer, probes?: ProbeOptions): Graph {
  const b = new GraphBuilder(full);
  const gradOutputs = full.outputs.filter((o) => o.kind === "grad");
  const total = gradNormProbes(b, full, probes);
  const clip = opt.clip;
  const clipped = clip ? b.withOrigin(["clip@"], () => emitClip(b, gradOutputs.map((o) => o.value), clip, total)) : gradOutputs.map((o) => o.value);
  const grads = new Map(gradOutputs.map((o, i) => [o.name, clipped[i]!]));
  b.filterOutputs((o) => o.kind === "loss" || o.kind === "state" || o.kind === "probe");
  const lr = b.input("lr", "scalar", { shape: [], dtype: "f32" });
  const scalars = opt.scalars.map((s) => b.input(s.name, "scalar", { shape: [], dtype: "f32" }));
  const connected = connectedToLoss(full, "loss");
  for (const name of params) {
    const w = b.findInput(name)!;
    const slots = opt.slots.map((s) => b.input(`${name}.${s}`, "optim", b.type(w)));
    // A parameter nothing connects to the loss stays as it is, as PyTorch's optimizers skip a
    // parameter whose grad is None: no weight decay, no momentum.
    const u = !connected.has(w) ? { param: w, slots }
      : b.withOrigin([`optimizer@${name}`], () => opt.emit(b, w, grads.get(`${name}.grad`)!, lr, slots, scalars));
    b.output(name, "param", u.param);
    opt.slots.forEach((s, i) => b.output(`${name}.${s}`, "optim", u.slots[i]!));
  }
  return dce(b.build());
}

/** The eval program at a given batch size: outputs the logits only. */
export function evalGraph(model: LayerNode, o: TraceOptions): Graph {
  const { b, ctx, logits } = traceModel(model, "eval", o);
  b.output("logits", "logits", logits);
  return dce(withScopes(b.build(), ctx.scopes));
}
