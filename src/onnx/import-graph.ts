/**
 * An ONNX graph read for import: checked for what kiln needs before any pattern is matched —
 * one float input [batch, n], one output, nodes in topological order (a node may use only the
 * graph's inputs, initializers and earlier nodes' outputs, so a cycle is refused here), unique
 * value names — with its constants (initializers, Constant nodes and Identity copies of them)
 * resolved lazily, so a tensor's data is read only when a layer uses it.
 */
import { DecodeError, KilnError } from "../../runtime/errors.js";
import { AttrType, DataType, int, quoteName, type Attribute, type Graph, type Model, type Node, type Tensor } from "./proto.js";
import { readFloats, readInts, type FloatTensor } from "./tensors.js";

/** Node description for messages: `Gemm "/0/Gemm"`. */
export const nodeLabel = (n: Node): string => `${n.op_type || "(no op_type)"} ${quoteName(n.name || "(unnamed)")}`;

/** The largest finite float32. */
const FLOAT_MAX = 3.4028234663852886e38;

export class OnnxGraph {
  readonly nodes: readonly Node[];
  /** The input's name and feature count. */
  readonly input: string;
  readonly features: number;
  readonly output: string;
  /** The version of the default (ONNX) operator set. */
  readonly opset: number = 0;
  /** Indices of the nodes that are constants (Constant, Identity of a constant): not layers. */
  readonly constantNodes = new Set<number>();
  /**
   * Tensors a Constant node makes (not initializers, nor Identity copies of them): values the
   * exporter computed (a causal mask), never a module's parameter or buffer, so they are read as
   * fixed tensors and may hold ±∞ (read as ±the largest float).
   */
  readonly computed = new Set<string>();
  private readonly consts = new Map<string, Tensor>();
  private readonly users = new Map<string, number[]>();
  private readonly producers = new Map<string, number>();

  constructor(model: Model) {
    const g: Graph | null | undefined = model.graph;
    if (!g) throw new DecodeError("ONNX: the model has no graph");
    let opsets = 0;
    for (const o of model.opset_import) {
      if (o.domain === "" || o.domain === "ai.onnx") {
        const v = int(o.version, "opset version");
        if (v < 7 || v > 22) throw new DecodeError(`ONNX: opset ${v} is outside what kiln reads (7 to 22)`);
        if (opsets > 0 && v !== this.opset) throw new DecodeError(`ONNX: the model names two versions of the ONNX operator set (${this.opset} and ${v}); expected one`);
        this.opset = v;
        opsets++;
      }
    }
    // Required by the format (ONNX Runtime refuses such a model too); torch writes opset_import
    // last, so a file cut just before it would otherwise decode as a whole model.
    if (opsets === 0) throw new DecodeError("ONNX: the model names no ONNX operator set (no opset_import for the default domain); expected one, e.g. opset 17 (is the file truncated?)");
    if (g.sparse_initializer.length > 0) throw new DecodeError("ONNX: sparse initializers are not supported");
    const defined = new Set<string>();
    const define = (name: string, what: string) => {
      if (name === "") return;
      if (defined.has(name)) throw new DecodeError(`ONNX: the value ${quoteName(name)} is defined twice (${what})`);
      defined.add(name);
    };
    for (const t of g.initializer) { define(t.name, "initializer"); this.consts.set(t.name, t); }
    const inputs = g.input.filter((i) => !this.consts.has(i.name));
    if (inputs.length !== 1) throw new DecodeError(`ONNX: kiln imports models with one input [batch, features]; this graph has ${inputs.length} (${inputs.slice(0, 5).map((i) => quoteName(i.name)).join(", ")})`);
    const input = inputs[0]!;
    const tt = input.type?.tensor_type;
    const dims = tt?.shape?.dim ?? [];
    if (tt?.elem_type !== 1 || dims.length !== 2) throw new DecodeError(`ONNX: the input ${quoteName(input.name)} must be a float tensor [batch, features]; got element type ${tt?.elem_type ?? "none"}, rank ${dims.length}`);
    const n = int(dims[1]!.dim_value, "input features");
    if (n < 1 || n > 2 ** 24) throw new DecodeError(`ONNX: the input ${quoteName(input.name)} must have a known number of features (1 to 2^24), got ${n}`);
    define(input.name, "graph input");
    this.input = input.name;
    this.features = n;
    if (g.output.length !== 1) throw new DecodeError(`ONNX: kiln imports models with one output; this graph has ${g.output.length}`);
    this.output = g.output[0]!.name;
    this.nodes = g.node;
    g.node.forEach((node, k) => {
      node.input.forEach((name) => {
        if (name === "") return;
        if (!defined.has(name)) throw new DecodeError(`ONNX: node ${nodeLabel(node)} uses ${quoteName(name)} before any node defines it (the graph must be acyclic and in topological order)`);
        (this.users.get(name) ?? this.users.set(name, []).get(name)!).push(k);
      });
      node.output.forEach((name) => { define(name, `output of ${nodeLabel(node)}`); this.producers.set(name, k); });
      if (node.domain !== "" && node.domain !== "ai.onnx") return;
      if (node.op_type === "Constant" && node.output.length === 1) {
        const t = constantValue(node);
        if (t) { this.consts.set(node.output[0]!, t); this.constantNodes.add(k); this.computed.add(node.output[0]!); }
      } else if (node.op_type === "Identity" && node.input.length === 1 && this.consts.has(node.input[0]!)) {
        // A constant of its own: torch.onnx.export writes an Identity copy for a parameter whose
        // values equal another's (two fresh LayerNorms' ones), never for one module used twice
        // (both nodes then read the same initializer), so the copy is a tensor of its own.
        this.consts.set(node.output[0]!, this.consts.get(node.input[0]!)!);
        this.constantNodes.add(k);
      } else if (node.op_type === "Cast" && node.input.length === 1 && attrInt(node, "to", 0) === DataType.FLOAT && isFloat(this.consts.get(node.input[0]!))) {
        // A number cast to float (torch's export without constant folding: a DOUBLE Constant and a
        // Cast): the constant itself, read as float (./tensors.ts rounds a DOUBLE's values).
        this.consts.set(node.output[0]!, this.consts.get(node.input[0]!)!);
        this.constantNodes.add(k);
        if (this.computed.has(node.input[0]!)) this.computed.add(node.output[0]!);
      }
    });
    if (!defined.has(this.output)) throw new DecodeError(`ONNX: no node defines the graph output ${quoteName(this.output)}`);
  }

  /** The index of the node that makes a value (undefined for the input and initializers). */
  producerOf(name: string): number | undefined {
    return this.producers.get(name);
  }

  /** The nodes that read a value. */
  usersOf(name: string): readonly number[] {
    return this.users.get(name) ?? [];
  }

  isConstant(name: string): boolean {
    return this.consts.has(name);
  }

  /** A constant's float values, or a KilnError naming what needed it. */
  floats(name: string | undefined, what: string): FloatTensor {
    if (!name) throw new KilnError(`ONNX: ${what} is missing`);
    const t = this.consts.get(name);
    if (!t) throw new KilnError(`ONNX: ${what} must be a constant tensor (an initializer), but ${quoteName(name)} is computed`);
    const read = readFloats(t, `${what} ${quoteName(name)}`, this.computed.has(name));
    if (!this.computed.has(name) || read.data.every(Number.isFinite)) return read;
    // ±∞ of a computed constant (a mask) as ±the largest float: softmax gives the masked keys the
    // same weight 0, and the tensor stays one a checkpoint and an ONNX initializer can hold.
    return { dims: read.dims, data: read.data.map((v) => (v === Infinity ? FLOAT_MAX : v === -Infinity ? -FLOAT_MAX : v)) };
  }

  /** A constant's integer values (shapes, axes). */
  ints(name: string | undefined, what: string): number[] {
    if (!name) throw new KilnError(`ONNX: ${what} is missing`);
    const t = this.consts.get(name);
    if (!t) throw new KilnError(`ONNX: ${what} must be a constant, but ${quoteName(name)} is computed`);
    return readInts(t, `${what} ${quoteName(name)}`).data;
  }

  /** A constant's data type (TensorProto.DataType: 1 FLOAT, 7 INT64, …), undefined for a computed value. */
  constantType(name: string): number | undefined {
    return this.consts.get(name)?.data_type;
  }

  /** A constant integer tensor, int64 values beyond ±2⁵³ clamped (Slice's INT64_MAX "to the end"). */
  intTensor(name: string, what: string): { dims: number[]; data: number[] } {
    const t = this.consts.get(name);
    if (!t) throw new KilnError(`ONNX: ${what} must be a constant, but ${quoteName(name)} is computed`);
    return readInts(t, `${what} ${quoteName(name)}`, true);
  }

  /** A constant scalar (a tensor of one element, any rank). */
  scalar(name: string | undefined, what: string): number {
    const { data } = this.floats(name, what);
    if (data.length !== 1) throw new KilnError(`ONNX: ${what} must be a single number, got ${data.length} values`);
    return data[0]!;
  }
}

const isFloat = (t: Tensor | undefined): boolean => t?.data_type === DataType.FLOAT || t?.data_type === DataType.DOUBLE;

/** The tensor of a Constant node (value, value_float, value_floats). */
function constantValue(node: Node): Tensor | null {
  const a = node.attribute[0];
  if (node.attribute.length !== 1 || !a) return null;
  const blank = { float_data: [], int64_data: [], int32_data: [], double_data: [], raw_data: new Uint8Array(0), data_location: 0, external_data: [] };
  if (a.name === "value" && a.type === AttrType.TENSOR && a.t) return a.t;
  if (a.name === "value_float" && a.type === AttrType.FLOAT) return { ...blank, name: "", dims: [], data_type: 1, float_data: [a.f] };
  if (a.name === "value_floats" && a.type === AttrType.FLOATS) return { ...blank, name: "", dims: [a.floats.length], data_type: 1, float_data: a.floats };
  if (a.name === "value_ints" && a.type === AttrType.INTS) return { ...blank, name: "", dims: [a.ints.length], data_type: 7, int64_data: a.ints };
  return null;
}

/**
 * Attribute readers with defaults. Each attribute's type (and that its value is in the field the
 * type names) was checked against the op's schema before any matcher reads it (import-check.ts).
 */
export function attr(node: Node, name: string): Attribute | undefined {
  return node.attribute.find((a) => a.name === name);
}
export function attrInt(node: Node, name: string, dflt: number): number {
  const a = attr(node, name);
  return a ? int(a.i, `attribute ${name} of ${nodeLabel(node)}`) : dflt;
}
export function attrFloat(node: Node, name: string, dflt: number): number {
  const a = attr(node, name);
  if (!a) return dflt;
  if (!Number.isFinite(a.f)) throw new DecodeError(`ONNX: attribute ${name} of ${nodeLabel(node)} must be a finite float, got ${a.f}`);
  return a.f;
}
/** A normalization's epsilon attribute (default 1e-5): > 0 as float32, as kiln's norms need (√(var + ε) of a constant row). */
export function attrEpsilon(node: Node): number {
  const eps = attrFloat(node, "epsilon", 1e-5);
  if (!(Math.fround(eps) > 0)) throw new DecodeError(`ONNX: attribute epsilon of ${nodeLabel(node)} must be > 0, got ${eps}`);
  return eps;
}
const text = new TextDecoder();
/** A STRING attribute (Pad's mode, Gelu's approximate) as text. */
export function attrString(node: Node, name: string, dflt: string): string {
  const a = attr(node, name);
  return a ? text.decode(a.s) : dflt;
}
export function attrInts(node: Node, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? a.ints.map((v, k) => int(v, `attribute ${name}[${k}] of ${nodeLabel(node)}`)) : undefined;
}
