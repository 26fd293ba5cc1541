/**
 * Export: a model's eval program as an ONNX model (opset 17, IR version 8) that ONNX Runtime
 * runs. The input is the traced eval graph — the unoptimized IR, the reference every kiln program
 * is tested against — translated primitive by primitive (./export-rules.ts), with the patterns a
 * layer traces to recognized first so the file reads like the model (./export-patterns.ts):
 *   linear → Gemm, layerNorm → LayerNormalization, batchNorm → BatchNormalization (or folded
 *   into the Gemm before it), relu → Relu, residual → Add, dropout → nothing (absent in eval).
 *
 * The batch is symbolic: the eval graph is traced at two batch sizes, and a dimension or
 * attribute that differs between the two follows the batch. The input is `x: [batch, inputs]`,
 * the output `logits: [batch, outputs]`; parameters and running statistics are initializers under
 * their state-dict names, other state buffers and constant tensors Constant nodes (fromOnnx reads
 * an initializer as a parameter to train, a Constant node's tensor as fixed).
 */
import type { Graph } from "../../compiler/ir/graph.js";
import type { V } from "../../compiler/ir/types.js";
import { KilnError } from "../../runtime/errors.js";
import { describe, type LayerNode } from "../layers/node.js";
import { traceModel } from "../programs.js";
import { pathLabel } from "../trace.js";
import { describeValue } from "../validate.js";
import { OnnxBuilder } from "./builder.js";
import { findPatterns } from "./export-patterns.js";
import { rules, TRACE_BATCHES, type Rule } from "./export-rules.js";
import { DataType, encodeModel } from "./proto.js";

export interface OnnxExportOptions {
  /** The program to export; only "eval" (inference) has an ONNX form. Default "eval". */
  readonly program?: "eval";
  /** Fold each batchNorm that follows a linear layer into that layer's Gemm. Default false. */
  readonly foldBatchNorm?: boolean;
}

/** What export reads of a compiled net. */
export interface Exportable {
  readonly model: LayerNode;
  readonly inputs: number;
  readonly seed: number;
  readonly params: Readonly<Record<string, Float32Array>>;
  readonly state: Readonly<Record<string, Float32Array | BigInt64Array>>;
}

export const OPSET = 17;
export const IR_VERSION = 8;

function checkOptions(o: unknown): Required<OnnxExportOptions> {
  if (o === undefined) return { program: "eval", foldBatchNorm: false };
  if (typeof o !== "object" || o === null) throw new KilnError(`toOnnx: expected options { program: "eval", foldBatchNorm? }, got ${describeValue(o)}`);
  const { program = "eval", foldBatchNorm = false, ...rest } = o as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) throw new KilnError(`toOnnx: unknown option ${JSON.stringify(extra[0])}; expected program, foldBatchNorm`);
  if (program !== "eval") throw new KilnError(`toOnnx: program must be "eval" (the inference program; training programs have no ONNX form), got ${describeValue(program)}`);
  if (typeof foldBatchNorm !== "boolean") throw new KilnError(`toOnnx: foldBatchNorm must be true or false, got ${describeValue(foldBatchNorm)}`);
  return { program, foldBatchNorm };
}

/** The layer at a parameter path ("4.fn.1."), for messages: `seq[4].fn[1] batchNorm(256)`. */
export function layerLabel(model: LayerNode, path: string): string {
  let node: LayerNode | undefined = model;
  for (const part of path.split(".").filter((p) => p !== "")) {
    if (node?.kind === "seq") node = node.layers[Number(part)];
    else if (node?.kind === "concat") node = node.branches[Number(part)];
    else if (node?.kind === "residual" && part === "fn") node = node.fn;
    else node = undefined;
  }
  return `${pathLabel(path) || "model "}${node ? describe(node) : ""}`.trim();
}

/**
 * The layer path of every node: layers finish tracing in post-order (children before parents),
 * so a node belongs to the first layer to finish at or after it.
 */
function nodeLayers(g: Graph, activations: readonly (readonly [string, V])[]): string[] {
  const producer = new Map<V, number>();
  g.nodes.forEach((n, k) => n.outputs.forEach((v) => producer.set(v, k)));
  const ends = activations.map(([p, v]) => [`${p}.`, producer.get(v) ?? -1] as const);
  return g.nodes.map((_n, k) => ends.find(([, end]) => end >= k)?.[0] ?? "");
}

/** Values the logits depend on (a trace may hold nodes eval does not need). */
function live(g: Graph, out: V): boolean[] {
  const need = new Array<boolean>(g.values.length).fill(false);
  need[out] = true;
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k]!;
    if (n.outputs.some((v) => need[v])) for (const v of n.inputs) need[v] = true;
  }
  return need;
}

export function toOnnx(net: Exportable, options?: OnnxExportOptions): Uint8Array {
  const o = checkOptions(options);
  const trace = (batch: number) => {
    const t = traceModel(net.model, "eval", { inputs: net.inputs, batch, seed: net.seed });
    return { ...t, graph: t.b.build() };
  };
  const [a, b, third] = TRACE_BATCHES.map(trace) as [ReturnType<typeof trace>, ReturnType<typeof trace>, ReturnType<typeof trace>];
  const g = a.graph;
  const sameStructure = [b, third].every((t) => g.nodes.length === t.graph.nodes.length && g.nodes.every((n, k) => n.op === t.graph.nodes[k]!.op));
  if (!sameStructure) throw new KilnError("ONNX export: the eval graph's structure depends on the batch size; ONNX needs one graph for every batch");
  const [outA, outB] = [g.values[a.logits]!.shape, b.graph.values[b.logits]!.shape];
  if (outA.length !== 2 || outA[0] !== 2 || outB[0] !== 3 || outA[1] !== outB[1]) {
    throw new KilnError(`ONNX export: the model's output must be [batch, features], one row per input row; traced at batch 2 it is [${outA.join(",")}]`);
  }
  const paths = nodeLayers(g, a.ctx.activations);
  const need = live(g, a.logits);
  const onnx = new OnnxBuilder();

  // Value names: graph inputs keep theirs (x, state-dict names), the result is "logits".
  const inputs = new Map(g.inputs.map((inp) => [inp.value, inp] as const));
  const name = (v: V): string => {
    if (v === a.logits) return "logits";
    const inp = inputs.get(v);
    if (inp === undefined) return `v${v}`;
    if (inp.kind === "param" || inp.kind === "state") {
      const data = net.params[inp.name] ?? net.state[inp.name];
      if (!(data instanceof Float32Array)) throw new KilnError(`ONNX export: the net has no float tensor ${JSON.stringify(inp.name)}`);
      // State outside a batchNormalization (a user layer's buffer, a mask) as a Constant node, so
      // that fromOnnx keeps it fixed; a batchNorm's statistics stay initializers, its layer's own.
      if (inp.kind === "state" && !patternInputs.has(v)) onnx.constant(inp.name, g.values[v]!.shape, data);
      else onnx.initializer(inp.name, g.values[v]!.shape, data);
    }
    return inp.name;
  };
  const arrays = (n: string) => net.params[n] ?? (net.state[n] as Float32Array | undefined);
  const patterns = findPatterns(g, need, { fold: o.foldBatchNorm, inputName: (v) => inputs.get(v)?.name, arrays });
  const patternInputs = new Set(g.nodes.flatMap((n, k) => (patterns.has(k) ? n.inputs : [])));

  g.nodes.forEach((n, k) => {
    if (!n.outputs.some((v) => need[v])) return;
    onnx.scope = paths[k]!.slice(0, -1);
    const pattern = patterns.get(k);
    if (pattern === null) return; // inside a pattern emitted at its last node
    if (pattern !== undefined) return pattern(onnx, name);
    const rule = rules[n.op] as Rule<unknown> | string;
    const why = typeof rule === "string" ? rule
      : rule(onnx, { ins: n.inputs.map(name), outs: n.outputs.map(name), attrs: n.attrs, other: b.graph.nodes[k]!.attrs, third: third.graph.nodes[k]!.attrs, types: n.inputs.map((v) => g.values[v]!) });
    if (why !== null) throw new KilnError(`ONNX export: ${layerLabel(net.model, paths[k]!)} uses the primitive ${n.op}, which has no ONNX form here: ${why}`);
  });
  if (inputs.has(a.logits)) onnx.node("Identity", ["x"], {}, ["logits"]); // a model that changes nothing

  const tensor = (n: string, width: number) => ({
    name: n,
    type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_param: "batch" }, { dim_value: width }] } } },
  });
  return encodeModel({
    ir_version: IR_VERSION,
    opset_import: [{ domain: "", version: OPSET }],
    producer_name: "kiln",
    producer_version: "0.1.0",
    graph: { name: "kiln", node: onnx.nodes, initializer: onnx.initializers, input: [tensor("x", net.inputs)], output: [tensor("logits", outA[1]!)] },
  });
}
