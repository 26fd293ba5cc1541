/**
 * The integer tensors of shapes, evaluated at import: a traced graph's shapes are static, so what
 * an exporter computes from them at run time — torch writes `x.view(x.size(0), -1)` as Shape →
 * Gather → Unsqueeze → Concat → Reshape, and F.pad's pads as ConstantOfShape, Concat, Reshape,
 * Slice (step −1), Transpose, Cast — is computed here, in JavaScript, on tensors of a few numbers.
 * Each op follows its ONNX definition for integer tensors of any rank.
 */
import { MAX_RANK } from "../../compiler/ir/graph.js";
import { attr, attrInt, attrInts } from "./import-graph.js";
import { reshapeTarget, sliceArgs, sliceBounds, squeezeAxes, squeezed, unsqueezed } from "./import-layout.js";
import { axisOf, reduceAxes, type Ctx, type Ints } from "./import-ops.js";
import type { Node } from "./proto.js";
import { readInts } from "./tensors.js";

const count = (dims: readonly number[]) => dims.reduce((p, q) => p * q, 1);
/** Row-major strides of a shape, from the last axis back (linear in the rank). */
function strides(dims: readonly number[]): number[] {
  const st = new Array<number>(dims.length);
  for (let k = dims.length - 1, s = 1; k >= 0; k--) { st[k] = s; s *= dims[k]!; }
  return st;
}

/** Every index of a shape, in row-major order. */
function* indices(dims: readonly number[]): Generator<number[]> {
  if (dims.some((d) => d === 0)) return;
  const idx = dims.map(() => 0);
  for (;;) {
    yield [...idx];
    let k = dims.length - 1;
    while (k >= 0 && ++idx[k]! === dims[k]) idx[k--] = 0;
    if (k < 0) return;
  }
}

/** Integer tensors computed here hold at most this many numbers (shapes and pads hold a few). */
const LIMIT = 1 << 16;

/** A gathered tensor: the element of `t` at `from(index)` for every index of `dims`. */
function gather(c: Ctx, t: Ints, dims: readonly number[], from: (idx: number[]) => number[]): Ints {
  if (count(dims) > LIMIT) c.fail(`computes an integer tensor of shape [${dims.join(",")}]; kiln evaluates those of at most ${LIMIT} numbers`);
  const st = strides(t.dims), data: number[] = [];
  for (const idx of indices(dims)) data.push(t.data[from(idx).reduce((p, i, k) => p + i * st[k]!, 0)]!);
  return { dims: [...dims], data };
}

function slice(c: Ctx, t: Ints, starts: readonly number[], ends: readonly number[], axesIn?: readonly number[], stepsIn?: readonly number[]): Ints {
  const rank = t.dims.length;
  const axes = (axesIn ?? starts.map((_v, k) => k)).map((a) => axisOf(c, a, rank));
  const steps = stepsIn ?? starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) c.fail("has starts, ends, axes and steps of different lengths");
  const first = t.dims.map(() => 0), step = t.dims.map(() => 1), dims = [...t.dims];
  axes.forEach((a, k) => {
    const s = steps[k]!;
    if (s === 0) c.fail("has a step of 0");
    const [lo, hi] = sliceBounds(starts[k]!, ends[k]!, t.dims[a]!, s);
    first[a] = lo; step[a] = s;
    dims[a] = Math.max(0, Math.ceil((hi - lo) / s));
  });
  return gather(c, t, dims, (idx) => idx.map((i, k) => first[k]! + i * step[k]!));
}

/** The integer op `n` on its integer inputs (`ints(k)`); a KilnError for any other op, or a result of more than MAX_RANK axes. */
export function integerOp(c: Ctx, n: Node, ints: (k: number) => Ints): Ints {
  const r = evaluate(c, n, ints);
  if (r.dims.length > MAX_RANK) c.fail(`computes a rank-${r.dims.length} integer tensor; kiln's tensors have at most ${MAX_RANK} axes`);
  return r;
}

function evaluate(c: Ctx, n: Node, ints: (k: number) => Ints): Ints {
  const x = ints(0);
  switch (n.op_type) {
    case "Identity": return x;
    case "Cast": return { dims: x.dims, data: x.data.map(Math.trunc) };
    case "Reshape": return { dims: reshapeTarget(c, x.dims, ints(1).data, attrInt(n, "allowzero", 0) !== 0), data: x.data };
    case "Unsqueeze": return { dims: unsqueezed(c, x.dims, squeezeAxes(c, n)), data: x.data };
    case "Squeeze": return { dims: squeezed(c, x.dims, squeezeAxes(c, n)), data: x.data };
    case "Gather": {
      const idx = ints(1), axis = axisOf(c, attrInt(n, "axis", 0), x.dims.length);
      const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
      const r = idx.dims.length, ist = strides(idx.dims);
      return gather(c, x, dims, (at) => {
        const i = axisOf(c, idx.data[at.slice(axis, axis + r).reduce((p, v, k) => p + v * ist[k]!, 0)]!, x.dims[axis]!, "index");
        return [...at.slice(0, axis), i, ...at.slice(axis + r)];
      });
    }
    case "Concat": {
      const parts = n.input.map((_v, k) => ints(k));
      const axis = axisOf(c, attrInt(n, "axis", 0), x.dims.length);
      for (const p of parts) if (p.dims.length !== x.dims.length || p.dims.some((d, k) => k !== axis && d !== x.dims[k])) c.fail("concatenates integer tensors whose shapes differ off the axis");
      const dims = [...x.dims];
      dims[axis] = parts.reduce((s, p) => s + p.dims[axis]!, 0);
      if (count(dims) > LIMIT) c.fail(`computes an integer tensor of shape [${dims.join(",")}]; kiln evaluates those of at most ${LIMIT} numbers`);
      if (count(dims) === 0) return { dims, data: [] }; // (its axis may still be long: nothing to place)
      // Which part each position along the axis comes from, and where in it: linear in the
      // parts (a Concat of 65,536 one-number inputs took 72 s with a search per element).
      const owner: number[] = [], within: number[] = [];
      parts.forEach((p, k) => { for (let i = 0; i < p.dims[axis]!; i++) { owner.push(k); within.push(i); } });
      const pst = parts.map((p) => strides(p.dims));
      const data: number[] = [];
      for (const idx of indices(dims)) {
        const k = owner[idx[axis]!]!, st = pst[k]!, at = [...idx];
        at[axis] = within[idx[axis]!]!;
        data.push(parts[k]!.data[at.reduce((s, i, d) => s + i * st[d]!, 0)]!);
      }
      return { dims, data };
    }
    case "Transpose": {
      const perm = attrInts(n, "perm") ?? x.dims.map((_d, k) => x.dims.length - 1 - k);
      if (perm.length !== x.dims.length || new Set(perm).size !== perm.length || perm.some((p) => p < 0 || p >= perm.length)) c.fail(`has perm [${perm.join(",")}] for rank ${x.dims.length}`);
      return gather(c, x, perm.map((p) => x.dims[p]!), (idx) => { const at = x.dims.map(() => 0); perm.forEach((p, k) => { at[p] = idx[k]!; }); return at; });
    }
    case "Slice": { const a = sliceArgs(c, n); return slice(c, x, a.starts, a.ends, a.axes, a.steps); }
    case "ConstantOfShape": {
      // An integer fill (a float one is a constant of the graph: ./import-primitives.ts).
      const v = attr(n, "value")?.t;
      const fill = v ? readInts(v, `the value of ConstantOfShape`, true).data : [];
      if (fill.length !== 1) c.fail(`fills with ${fill.length} values; expected one`);
      const dims = x.data;
      if (dims.some((d) => d < 0) || count(dims) > LIMIT) c.fail(`makes a tensor of shape [${dims.join(",")}]; expected a small integer tensor`);
      return { dims: [...dims], data: new Array<number>(count(dims)).fill(fill[0]!) };
    }
    case "ReduceProd": {
      // The element count of some axes (torch's x.var: the correction's n).
      const axes = reduceAxes(c, n, x.dims.length, 18);
      const kept = x.dims.map((d, k) => (axes.includes(k) ? 1 : d)), st = strides(kept);
      const data = new Array<number>(count(kept)).fill(1);
      let i = 0;
      for (const idx of indices(x.dims)) data[idx.reduce((o, v, k) => o + (axes.includes(k) ? 0 : v * st[k]!), 0)] *= x.data[i++]!;
      return { dims: attrInt(n, "keepdims", 1) !== 0 ? kept : x.dims.filter((_d, k) => !axes.includes(k)), data };
    }
    case "Add": case "Sub": case "Mul": case "Div": {
      const y = ints(1);
      if (y.data.length !== 1 && (y.dims.length !== x.dims.length || y.dims.some((d, k) => d !== x.dims[k]))) c.fail("combines integer tensors of different shapes");
      const f = { Add: (a: number, b: number) => a + b, Sub: (a: number, b: number) => a - b, Mul: (a: number, b: number) => a * b, Div: (a: number, b: number) => (b === 0 ? c.fail("divides by 0") : Math.trunc(a / b)) }[n.op_type];
      return { dims: x.dims, data: x.data.map((a, k) => f(a, y.data.length === 1 ? y.data[0]! : y.data[k]!)) };
    }
    default: return c.fail("computes on an integer tensor (from shapes); kiln evaluates Shape, Gather, Unsqueeze, Squeeze, Concat, Slice, Transpose, Cast, Reshape, ConstantOfShape and integer Add, Sub, Mul, Div, ReduceProd of those");
  }
}
