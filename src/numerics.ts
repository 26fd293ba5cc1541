/**
 * checkNumerics: the first non-finite value a compiled program produces, named — the program,
 * the step, the IR value and its equation, the op (and what it fused), the layer it came from,
 * NaN or Infinity, where, and the ranges of the op's inputs.
 *
 * The executor checks kernels' outputs in WebAssembly right after each kernel runs
 * (Executor.runChecked) — fused kernels as they store them (numerics-kernels.ts), products in
 * each block of Y by the thread that computed it (Kernel.prepareChecked), others by a pass —
 * and stops at the first bad one, before any copy-back; outputs that
 * cannot be the first non-finite value are not checked (numerics-skip.ts). A train step also
 * updates parameters in place as it goes, so the arrays it writes are saved first and put back
 * on failure (numerics-snapshot.ts): a failed step leaves parameters, state and optimizer state as they were.
 */
import type { Graph, Node } from "../compiler/ir/graph.js";
import { printEquation } from "../compiler/ir/print.js";
import { fmtType } from "../compiler/ir/types.js";
import { KilnError } from "../runtime/errors.js";
import { envFlag, envSetting } from "../runtime/host.js";
import { describe, type LayerNode } from "./layers/node.js";
import { checkedOutputs } from "./numerics-skip.js";
import { useCheckedKernels, type KernelExecutor } from "./numerics-kernels.js";
import { Snapshot, type BeforeStep } from "./numerics-snapshot.js";
import { pathLabel } from "./trace.js";

/**
 * What the check needs of an executor (runtime/executor.ts), structurally: the published types
 * of this module then do not reach into the runtime's (WebAssembly) declarations.
 */
export interface CheckedExecutor extends KernelExecutor {
  runChecked(outputsOf: readonly (readonly number[])[], before?: BeforeStep): { step: number; buffer: number } | null;
}

/** The first non-finite value of a checked program (compile with `checkNumerics: true`). */
export class NumericsError extends KilnError {
  override readonly name = "NumericsError";

  constructor(
    message: string,
    /** "train", "backward" (net.gradients) or "eval" (predict). */
    readonly program: string,
    /** net.step when it happened: train steps taken before. */
    readonly step: number,
    /** The IR value's printed name and its equation in the program's IR text. */
    readonly value: string,
    readonly equation: string,
    /** The op, and the primitives a fused op stands for (just the op when not fused). */
    readonly op: string,
    readonly fused: readonly string[],
    /** The layer path ("37", "4.fn.0"; "" for a bare layer) and its description. */
    readonly layerPath: string | null,
    readonly layer: string,
    /** "NaN", "Infinity" or "-Infinity", at this flat index of the value. */
    readonly bad: string,
    readonly index: number,
  ) {
    super(message);
  }
}

const fmt = (x: number): string => (Number.isFinite(x) ? (x === 0 || (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e5) ? String(Number(x.toPrecision(4))) : x.toExponential(2)) : String(x));

/** "[min, max]" of a buffer, with how many of its values are not finite. */
function range(a: ArrayLike<number>): string {
  let lo = Infinity, hi = -Infinity, bad = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (!Number.isFinite(v)) { bad++; continue; }
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const r = lo <= hi ? `[${fmt(lo)}, ${fmt(hi)}]` : "no finite value";
  return bad ? `${r}, ${bad} not finite` : r;
}

/** What a fused op computes, as the primitives it replaced. */
function fusedPrimitives(n: Node): string[] {
  switch (n.op) {
    case "fused_elementwise": return [...n.attrs.code.filter((c) => c.op !== "const").map((c) => (c.op === "mask" ? "dropout_mask" : c.op)), ...n.attrs.sums.map((s) => s.op)];
    case "linear": return ["matmul", "add (bias)", ...(n.attrs.relu ? ["relu"] : [])];
    case "softmax_xent": return ["log_softmax", "one_hot", "mul", "sum (cross-entropy)", "softmax gradient"];
    case "norm_forward": return ["normalize", "mean", "mean (variance)", "rsqrt", ...(n.attrs.affine ? ["mul (γ)", "add (β)"] : [])];
    case "norm_backward": return ["normalize backward", ...(n.attrs.affine ? ["γ, β gradients"] : [])];
    default: return [];
  }
}

/** The layer at a path ("4.fn.0") of a model, or null if the path leads nowhere. */
function layerAt(model: LayerNode, path: string): LayerNode | null {
  let node: LayerNode | undefined = model;
  for (const part of path === "" ? [] : path.split(".")) {
    if (node?.kind === "seq") node = node.layers[Number(part)];
    else if (node?.kind === "residual" && part === "fn") node = node.fn;
    else return null;
  }
  return node ?? null;
}

/** "seq[37] linear(100→100)" for a layer path (just "seq[37]" without a model: a hand-built graph). */
export function layerLabel(model: LayerNode | null, path: string): string {
  if (model === null) return pathLabel(path === "" ? "" : `${path}.`).trim() || "the root layer";
  const node = layerAt(model, path);
  return `${pathLabel(path === "" ? "" : `${path}.`)}${node ? describe(node) : "?"}`.trim();
}

/** Where a node came from, from its origins ("forward@37", "optimizer@37.weight", …). */
function whereFrom(model: LayerNode | null, origins: readonly string[]): { path: string | null; text: string } {
  const parts = origins.map((o) => {
    const at = o.indexOf("@"), part = o.slice(0, at), where = o.slice(at + 1);
    switch (part) {
      case "forward": return { path: where, text: layerLabel(model, where) };
      case "backward": return { path: where, text: `${layerLabel(model, where)}, backward` };
      case "optimizer": {
        const path = where.includes(".") ? where.slice(0, where.lastIndexOf(".")) : "";
        return { path, text: `${layerLabel(model, path)}, optimizer update of ${where}` };
      }
      case "loss": return { path: null, text: `the loss${where ? ` ${where}` : ""}` };
      case "clip": return { path: null, text: "gradient clipping (global norm)" };
      case "probe": return { path: where.slice(where.indexOf(":") + 1), text: `the probe ${where}` };
      default: return { path: null, text: o };
    }
  });
  if (parts.length === 0) return { path: null, text: "no recorded layer" };
  const rest = [...new Set(parts.slice(1).map((p) => p.text))].filter((t) => t !== parts[0]!.text);
  return { path: parts[0]!.path, text: parts[0]!.text + (rest.length ? ` (fused with ${rest.join("; ")})` : "") };
}

/**
 * A train step refused because its loss is not finite (without checkNumerics: the step stops
 * after the loss, before any array is written). `loss` is the loss's name (Loss.name).
 */
export function lossNotFinite(value: number, step: number, loss: string): NumericsError {
  const bad = Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
  const probabilities = loss === "binaryCrossEntropy"
    ? " binaryCrossEntropy() reads probabilities: outputs outside [0, 1] make its loss NaN (PyTorch's BCELoss refuses them); for raw scores use binaryCrossEntropy({ logits: true })."
    : "";
  return new NumericsError(
    `train step ${step}: the loss is ${bad}; the step was not taken: parameters, state and optimizer state are as they were before it, and net.step is still ${step}.${probabilities}` +
    " Compile with checkNumerics: true (or KILN_CHECK_NUMERICS=1) to name the op and layer that made the first non-finite value.",
    "train", step, "loss", "", "loss", [], null, `the loss ${loss}`, bad, 0);
}

/** Whether an error is lossNotFinite's refusal of a train step. */
export const isLossRefusal = (e: unknown): e is NumericsError => e instanceof NumericsError && e.value === "loss" && e.equation === "";

/**
 * A training loop's step: the loss, or for a step refused because its loss is not finite, that
 * loss (NaN or ±∞), for the loop to stop on — the step changed nothing. Other errors propagate.
 */
export function lossOfStep(net: { trainStep(x: ArrayLike<number>, labels: ArrayLike<number>): number }, x: ArrayLike<number>, labels: ArrayLike<number>): number {
  try {
    return net.trainStep(x, labels);
  } catch (e) {
    if (isLossRefusal(e)) return Number(e.bad);
    throw e;
  }
}

export interface Located {
  readonly step: number;
  readonly buffer: number;
}

/**
 * The NumericsError for a failed check: `found` is the node index and the value the executor
 * reported. `label` is the program's name, `step` the net's step counter.
 */
export function numericsError(g: Graph, exec: CheckedExecutor, found: Located, model: LayerNode | null, label: string, step: number, note: string): NumericsError {
  const n = g.nodes[found.step]!;
  const data = exec.buffer(found.buffer);
  let index = 0;
  while (index < data.length && Number.isFinite(data[index]!)) index++;
  const v = data[index]!;
  const bad = Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
  const equation = printEquation(g, found.step);
  const name = equation.names.get(found.buffer) ?? `%${found.buffer}`;
  const type = g.values[found.buffer]!;
  const cols = type.shape.length === 2 ? type.shape[1]! : 0;
  const where = cols ? `index ${index} (row ${Math.floor(index / cols)}, column ${index % cols})` : `index ${index}`;
  const fused = fusedPrimitives(n);
  const from = whereFrom(model, n.at ?? []);
  const inputs = [...new Set(n.inputs)].map((u) => {
    const a = exec.buffer(u), out = n.outputs.some((o) => exec.buffer(o).buffer === a.buffer && exec.buffer(o).byteOffset === a.byteOffset);
    return `${equation.names.get(u) ?? `%${u}`}:${fmtType(g.values[u]!)} ${out ? "(overwritten in place by the output)" : range(a)}`;
  });
  const lines = [
    `${label}${label === "graph" ? "" : ` step ${step}`}: the first non-finite value is ${bad}, at ${where} of ${name}:${fmtType(type)}, made by ${from.text}`,
    `  equation: ${equation.text}`,
    `  op: ${n.op}${fused.length ? `, fusing ${fused.join(", ")}` : " (not fused)"}`,
    `  inputs: ${inputs.join("; ") || "none"}`,
    `  ${note}`,
  ];
  return new NumericsError(lines.join("\n"), label, step, name, equation.text, n.op, fused, from.path, from.text, bad, index);
}

/** KILN_CHECK_NUMERICS=1 turns the check on for every compiled program. */
export const checkNumericsFromEnv = (): boolean => envSetting("KILN_CHECK_NUMERICS", "1 or 0", false, envFlag); // no variable (and no `process`) in a browser

/** A program run with checkNumerics: its executor, the graph it was lowered from, and a snapshot. */
export class CheckedProgram {
  private readonly outs: number[][];
  private readonly snapshot: Snapshot | undefined;

  /**
   * `written`: the caller's arrays the program updates, in place (a step's output is the array
   * itself: saved before that step) or by copy-back after the last step (which runs only when
   * every check passed: nothing to save). `exec` must be bound to them already.
   */
  constructor(private readonly g: Graph, private readonly exec: CheckedExecutor, private readonly program: string, written: readonly Float32Array[]) {
    this.outs = checkedOutputs(g);
    const writes = g.nodes.map((n) => n.outputs.map((o) => written.indexOf(exec.buffer(o) as Float32Array)).filter((k) => k >= 0));
    this.snapshot = writes.some((w) => w.length > 0) ? new Snapshot(exec, written, writes) : undefined;
    useCheckedKernels(g, exec, this.outs, this.snapshot);
  }

  /** Run; on the first non-finite value, put the written arrays back and throw a NumericsError. */
  run(model: LayerNode | null, step: number, start: number, count: number): void {
    this.snapshot?.reset();
    const found = this.exec.runChecked(this.outs, this.snapshot);
    if (found === null) return;
    const note = this.program === "train" ? `parameters, state and optimizer state are as they were before this step; net.step is still ${step}`
      : this.program === "eval" ? `predict: samples ${start}…${start + count - 1} of the call (rows of this eval chunk); nothing was changed`
        : this.program === "backward" ? "net.gradients: nothing was changed" : "nothing was changed";
    // The message first: it reads the bad value, which may sit in an array put back below.
    const error = numericsError(this.g, this.exec, found, model, this.program, step, note);
    this.snapshot?.restore();
    throw error;
  }
}
