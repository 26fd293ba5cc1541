/**
 * Builds graphs one node at a time, inferring each value's type with the op's shape rule. Tracing
 * a model, differentiating and appending the optimizer all emit through this one class; the
 * short methods (`add`, `matmul`, …) are sugar over `emit`.
 */
import { GraphError } from "../../runtime/errors.js";
import type { Emitter } from "../ops/def.js";
import { ops, type AttrsOf, type OpName } from "../ops/index.js";
import { MAX_CONCAT_INPUTS } from "../ops/concat.js";
import { checkGraph, MAX_RANK, type Graph, type Input, type InputKind, type Node, type Output, type OutputKind } from "./graph.js";
import { sameShape, type V, type ValueType } from "./types.js";

export class GraphBuilder implements Emitter {
  private readonly values: ValueType[];
  private readonly inputs: Input[];
  private readonly nodes: Node[];
  private outputs: Output[];
  /** Input values and output names by name: declaring one is O(1), not a scan (deep nets have hundreds). */
  private readonly inputByName = new Map<string, V>();
  private outputNames: Set<string>;
  /** Nodes from this index on were emitted here, their types made by their op's shape rule. */
  private readonly inferredFrom: number;
  /** Provenance given to the nodes emitted now (see Node.at); undefined: none. */
  private origin: readonly string[] | undefined;

  constructor(from?: Graph) {
    this.values = [...(from?.values ?? [])];
    this.inputs = [...(from?.inputs ?? [])];
    this.nodes = [...(from?.nodes ?? [])];
    this.inferredFrom = this.nodes.length;
    this.outputs = [...(from?.outputs ?? [])];
    // The first of a name wins, as a scan would find it (a checked graph has no repeats).
    for (const i of this.inputs) if (!this.inputByName.has(i.name)) this.inputByName.set(i.name, i.value);
    this.outputNames = new Set(this.outputs.map((o) => o.name));
  }

  type(v: V): ValueType {
    const t = this.values[v];
    if (t === undefined) throw new GraphError(`value ${v} does not exist`);
    return t;
  }

  input(name: string, kind: InputKind, type: ValueType): V {
    if (this.inputByName.has(name)) throw new GraphError(`input ${JSON.stringify(name)} declared twice`);
    const v = this.values.push(type) - 1;
    this.inputs.push({ name, kind, value: v });
    this.inputByName.set(name, v);
    return v;
  }

  /** The value of a named input, if declared. */
  findInput(name: string): V | undefined {
    return this.inputByName.get(name);
  }

  output(name: string, kind: OutputKind, value: V): void {
    if (this.outputNames.has(name)) throw new GraphError(`output ${JSON.stringify(name)} declared twice`);
    this.type(value);
    this.outputs.push({ name, kind, value });
    this.outputNames.add(name);
  }

  /** Keep only the outputs `keep` accepts (their nodes stay until dead-code elimination). */
  filterOutputs(keep: (o: Output) => boolean): void {
    this.outputs = this.outputs.filter(keep);
    this.outputNames = new Set(this.outputs.map((o) => o.name));
  }

  /** Emit a single-output op; returns its output. */
  emit<K extends OpName>(op: K, inputs: readonly V[], attrs: AttrsOf<K>): V {
    const outs = this.emitMulti(op, inputs, attrs);
    if (outs.length !== 1) throw new GraphError(`${op} has ${outs.length} outputs; use emitMulti`);
    return outs[0]!;
  }

  /** Emit any op; returns its outputs in order. */
  emitMulti<K extends OpName>(op: K, inputs: readonly V[], attrs: AttrsOf<K>): V[] {
    const def = ops[op];
    if (def.arity !== null && inputs.length !== def.arity) throw new GraphError(`${op}: expected ${def.arity} inputs, got ${inputs.length}`);
    const types = def.shapes(inputs.map((v) => this.type(v)), attrs);
    for (const t of types) if (t.shape.length > MAX_RANK) throw new GraphError(`${op} gives a rank-${t.shape.length} tensor; kiln's tensors have at most ${MAX_RANK} axes`);
    const outputs = types.map((t) => this.values.push(t) - 1);
    this.nodes.push((this.origin ? { op, inputs: [...inputs], outputs, attrs, at: this.origin } : { op, inputs: [...inputs], outputs, attrs }) as Node);
    return outputs;
  }

  /** Emit inside `fn` with provenance `at` (restored after, so calls nest); returns fn's result. */
  withOrigin<T>(at: readonly string[] | undefined, fn: () => T): T {
    const saved = this.origin;
    this.origin = at && at.length ? at : saved;
    try {
      return fn();
    } finally {
      this.origin = saved;
    }
  }

  /** Add provenance `at` to the nodes emitted since node `from` (they keep their own first). */
  annotate(from: number, at: readonly string[] | undefined): void {
    if (!at || at.length === 0) return;
    for (let i = from; i < this.nodes.length; i++) {
      const n = this.nodes[i]!;
      this.nodes[i] = { ...n, at: mergeOrigins(n.at, at) } as Node;
    }
  }

  /** Nodes emitted so far (rewrite passes track producers with it). */
  get nodeCount(): number {
    return this.nodes.length;
  }

  node(i: number): Node {
    const n = this.nodes[i];
    if (!n) throw new GraphError(`node ${i} does not exist`);
    return n;
  }

  build(): Graph {
    return checkGraph(Object.freeze({
      values: Object.freeze([...this.values]),
      inputs: Object.freeze([...this.inputs]),
      nodes: Object.freeze([...this.nodes]),
      outputs: Object.freeze([...this.outputs]),
    }), this.inferredFrom);
  }

  // ---- sugar ---------------------------------------------------------------------------------
  neg = (x: V) => this.emit("neg", [x], {});
  exp = (x: V) => this.emit("exp", [x], {});
  log = (x: V) => this.emit("log", [x], {});
  relu = (x: V) => this.emit("relu", [x], {});
  step = (x: V) => this.emit("step", [x], {});
  sqrt = (x: V) => this.emit("sqrt", [x], {});
  rsqrt = (x: V) => this.emit("rsqrt", [x], {});
  tanh = (x: V) => this.emit("tanh", [x], {});
  sigmoid = (x: V) => this.emit("sigmoid", [x], {});
  erf = (x: V) => this.emit("erf", [x], {});
  /** |x|, with abs'(0) = 0 as PyTorch. */
  abs = (x: V) => this.emit("abs", [x], {});
  sign = (x: V) => this.emit("sign", [x], {});
  /** x, with no gradient (torch's detach). */
  detach = (x: V) => this.emit("detach", [x], {});
  /** x^k for a number k. */
  pow = (x: V, k: number) => this.emit("pow", [x], { k });
  add = (x: V, y: V) => this.emit("add", [x, y], {});
  sub = (x: V, y: V) => this.emit("sub", [x, y], {});
  mul = (x: V, y: V) => this.emit("mul", [x, y], {});
  div = (x: V, y: V) => this.emit("div", [x, y], {});
  /** Elementwise max/min with broadcasting; on a tie each operand gets half the gradient (torch.maximum). */
  maximum = (x: V, y: V) => this.emit("maximum", [x, y], {});
  /** x where c ≠ 0 (when 1) or c = 0 (when 0), else 0: a selection (compiler/ops/keep.ts). */
  keep = (x: V, c: V, when: 0 | 1) => this.emit("keep", [x, c], { when });
  /** log Σ exp over `axes` (torch.logsumexp) as m + log Σ exp(x − m), m the maximum: no overflow. */
  logsumexp = (x: V, axes: readonly number[], keepdims = false) => {
    const m = this.max(x, axes, true), y = this.add(m, this.log(this.sum(this.exp(this.sub(x, m)), axes, true)));
    return keepdims ? y : this.reshape(y, this.type(x).shape.filter((_d, i) => !axes.includes(i)));
  };
  /** torch.where(c, x, y): x where c ≠ 0, y where c = 0, with broadcasting; either side may be ±∞ or NaN. */
  where = (c: V, x: V, y: V) => this.add(this.keep(x, c, 1), this.keep(y, c, 0));
  /** 1 where x ≥ y, else 0 (0 for NaN, as x >= y is false): 1 − step(y − x); no gradient. */
  greaterEqual = (x: V, y: V) => this.sub(this.scalar(1), this.step(this.sub(y, x)));
  /** 1 where x > y, else 0 (0 for NaN): step(x − y)·(x ≥ y), since step(NaN) is 1; no gradient. */
  greater = (x: V, y: V) => this.mul(this.step(this.sub(x, y)), this.greaterEqual(x, y));
  minimum = (x: V, y: V) => this.emit("minimum", [x, y], {});
  scalar = (value: number) => this.emit("constant", [], { value, shape: [] });
  constant = (value: number, shape: readonly number[]) => this.emit("constant", [], { value, shape: [...shape] });
  /** Σ over `axes`; axes in several runs become one sum per run (see byRuns). */
  sum = (x: V, axes: readonly number[], keepdims = false) => this.byRuns("sum", x, axes, keepdims, true);
  /** The mean over `axes`: a mean per run, then of those (equal counts, so the same mean). */
  mean = (x: V, axes: readonly number[], keepdims = false) => this.byRuns("mean", x, axes, keepdims, true);
  /** x[…, start:end, …] on `axis` (may be negative). */
  slice = (x: V, axis: number, start: number, end: number) => this.emit("slice", [x], { axis, start, end });
  /** Zeros around x on `axis`: `before` in front, `after` behind (the adjoint of slice). */
  pad = (x: V, axis: number, before: number, after: number) => this.emit("pad", [x], { axis, before, after });
  /** The values side by side on `axis` (like torch.cat). */
  /** Side by side on `axis`; more than MAX_CONCAT_INPUTS inputs as a concat of concats of at most that many. */
  concat = (xs: readonly V[], axis: number): V => {
    if (xs.length <= MAX_CONCAT_INPUTS) return this.emit("concat", xs, { axis });
    const parts = Array.from({ length: Math.ceil(xs.length / MAX_CONCAT_INPUTS) }, (_, i) => xs.slice(i * MAX_CONCAT_INPUTS, (i + 1) * MAX_CONCAT_INPUTS));
    return this.concat(parts.map((p) => (p.length === 1 ? p[0]! : this.emit("concat", p, { axis }))), axis);
  };
  maxMask = (x: V, axes: readonly number[]) => this.emit("max_mask", [x], { axes: [...axes], keepdims: false });
  reshape = (x: V, shape: readonly number[]) =>
    sameShape(this.type(x).shape, shape) ? x : this.emit("reshape", [x], { shape: [...shape] });
  broadcastTo = (x: V, shape: readonly number[]) =>
    sameShape(this.type(x).shape, shape) ? x : this.emit("broadcast_to", [x], { shape: [...shape] });
  /** Max over `axes`; its gradient goes to the first maximal element (see byRuns). */
  max = (x: V, axes: readonly number[], keepdims = false) => this.byRuns("max", x, axes, keepdims, false);

  /**
   * A reduction whose kernels take one run of reduced axes (x viewed as [outer, n, inner]): other
   * axis sets become one reduction per run, last run first with keepdims, then one reshape. A run
   * is consecutive axes; for sum and mean (`loose`) also axes apart only by dimensions of size 1,
   * which the sum kernel's view drops. For max, the runs pick the same first maximum in row-major
   * order. Bad axes go to the op as given, whose shape rule names them.
   */
  private byRuns(op: "sum" | "mean" | "max", x: V, axes: readonly number[], keepdims: boolean, loose: boolean): V {
    const shape = this.type(x).shape, rank = shape.length;
    const norm = [...new Set(axes.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
    const runs: number[][] = [];
    for (const a of norm) {
      const last = runs.at(-1), prev = last?.at(-1);
      const joins = prev !== undefined && (prev + 1 === a || (loose && shape.slice(prev + 1, a).every((d) => d === 1)));
      if (last && joins) last.push(a);
      else runs.push([a]);
    }
    if (runs.length <= 1 || norm.length !== axes.length || norm.some((a) => !Number.isInteger(a) || a < 0 || a >= rank)) {
      return this.emit(op, [x], { axes: [...axes], keepdims });
    }
    let y = x;
    for (const run of runs.reverse()) y = this.emit(op, [y], { axes: run, keepdims: true });
    return keepdims ? y : this.reshape(y, shape.filter((_d, i) => !norm.includes(i)));
  }

  tril = (x: V, diagonal: number, upper: boolean): V => this.emit("tril", [x], { diagonal, upper });
  transpose = (x: V, perm: readonly number[]): V => (perm.every((p, d) => p === d) ? x : this.emit("transpose", [x], { perm: [...perm] }));
  matmul = (a: V, b: V, transA = false, transB = false) => this.emit("matmul", [a, b], { transA, transB });
  /**
   * torch.matmul's rank rules that kiln has: 2-D operands or batched ones of one rank (the matmul
   * primitive), and A of rank > 2 times a 2-D B, B applied to A's last axis (a per-token linear
   * map: A's leading axes as the rows of one 2-D product).
   */
  product = (a: V, b: V, transA = false, transB = false): V => {
    const as = this.type(a).shape, bs = this.type(b).shape;
    if (as.length <= 2 || bs.length !== 2 || transA) return this.matmul(a, b, transA, transB);
    const rows = as.slice(0, -1), k = as[as.length - 1]!;
    const y = this.matmul(this.reshape(a, [rows.reduce((p, d) => p * d, 1), k]), b, false, transB);
    return this.reshape(y, [...rows, this.type(y).shape[1]!]);
  };
  normalize = (x: V, axis: number, eps: number) => this.emit("normalize", [x], { axis, eps });
  logSoftmax = (x: V, axis: number) => this.emit("log_softmax", [x], { axis });
  oneHot = (labels: V, classes: number) => this.emit("one_hot", [labels], { classes });
  dropoutMask = (step: V, shape: readonly number[], p: number, seed: number, stream: number) =>
    this.emit("dropout_mask", [step], { p, seed, stream, shape: [...shape] });

  /**
   * Sum a broadcast result back to `shape` (the adjoint of broadcasting): leading extra
   * dimensions are summed away, dimensions where `shape` has 1 are summed with keepdims.
   */
  sumTo(x: V, shape: readonly number[]): V {
    const from = this.type(x).shape;
    if (sameShape(from, shape)) return x;
    const lead = from.length - shape.length;
    const axes: number[] = [];
    for (let i = 0; i < from.length; i++) {
      if (i < lead || (shape[i - lead] === 1 && from[i] !== 1)) axes.push(i);
    }
    return this.reshape(axes.length ? this.sum(x, axes, true) : x, shape);
  }
}

/** Union of two provenance lists, order kept, first list first. */
export function mergeOrigins(a: readonly string[] | undefined, b: readonly string[] | undefined): readonly string[] | undefined {
  if (!a || a.length === 0) return b && b.length ? b : undefined;
  if (!b || b.length === 0) return a;
  const out = [...a];
  for (const x of b) if (!out.includes(x)) out.push(x);
  return out.length === a.length ? a : out;
}
