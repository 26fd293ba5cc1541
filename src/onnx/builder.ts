/**
 * Collects the nodes and initializers of an ONNX graph as plain objects shaped like the schema
 * (./proto.ts encodes them). Node names carry the kiln layer path they come from
 * ("/3.fn.0/Gemm"), as torch.onnx.export names its nodes after module paths.
 */
import { AttrType } from "./proto.js";
import { floatTensor, int64Tensor } from "./tensors.js";

export type Attr = { i: number } | { f: number } | { ints: readonly number[] } | { floats: readonly number[] } | { t: object };
export const i = (v: number): Attr => ({ i: v });
export const f = (v: number): Attr => ({ f: v });
export const ints = (v: readonly number[]): Attr => ({ ints: v });

function attribute(name: string, a: Attr): object {
  if ("i" in a) return { name, type: AttrType.INT, i: a.i };
  if ("f" in a) return { name, type: AttrType.FLOAT, f: a.f };
  if ("ints" in a) return { name, type: AttrType.INTS, ints: [...a.ints] };
  if ("t" in a) return { name, type: AttrType.TENSOR, t: a.t };
  return { name, type: AttrType.FLOATS, floats: [...a.floats] };
}

export class OnnxBuilder {
  readonly nodes: object[] = [];
  readonly initializers: object[] = [];
  /** The kiln layer path of the nodes being emitted ("" for the model itself). */
  scope = "";
  private temps = 0;
  private readonly nodeNames = new Set<string>();
  private readonly initNames = new Set<string>();

  /** A fresh value name. */
  tmp(): string {
    return `t${this.temps++}`;
  }

  /** Append a node; returns its outputs (fresh names unless given). */
  node(op: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, outputs: readonly string[] = [this.tmp()]): string[] {
    const base = `/${this.scope}${this.scope ? "/" : ""}${op}`;
    let name = base;
    for (let k = 1; this.nodeNames.has(name); k++) name = `${base}_${k}`;
    this.nodeNames.add(name);
    const attribute_ = Object.entries(attrs).map(([k, v]) => attribute(k, v));
    this.nodes.push({ name, op_type: op, domain: "", input: [...inputs], output: [...outputs], attribute: attribute_ });
    return [...outputs];
  }

  /** The single output of a node. */
  one(op: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, output?: string): string {
    return this.node(op, inputs, attrs, [output ?? this.tmp()])[0]!;
  }

  /** A named FLOAT initializer (state-dict tensors keep their names). */
  initializer(name: string, dims: readonly number[], data: ArrayLike<number>): string {
    if (!this.initNames.has(name)) {
      this.initNames.add(name);
      this.initializers.push(floatTensor(name, dims, data));
    }
    return name;
  }

  /**
   * A named FLOAT tensor made by a Constant node, not an initializer: what kiln holds fixed (a
   * state buffer outside a batchNorm, a constant fill). An importer — kiln's fromOnnx included —
   * reads initializers as parameters, to be trained; a Constant node's tensor as fixed.
   */
  constant(name: string, dims: readonly number[], data: ArrayLike<number>): string {
    if (!this.initNames.has(name)) {
      this.initNames.add(name);
      this.node("Constant", [], { value: { t: floatTensor(name, dims, data) } }, [name]);
    }
    return name;
  }

  /** An unnamed FLOAT constant (an epsilon, LayerNormalization's unit scale). */
  floats(dims: readonly number[], data: ArrayLike<number>): string {
    return this.initializer(`${this.scope ? `${this.scope}/` : ""}const_${this.temps++}`, dims, data);
  }

  /** An INT64 constant (Reshape's shape, ReduceSum's axes; `dims` [] for a scalar: Trilu's k). */
  int64s(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = `${this.scope ? `${this.scope}/` : ""}const_${this.temps++}`;
    this.initNames.add(name);
    this.initializers.push(int64Tensor(name, values, dims));
    return name;
  }
}
