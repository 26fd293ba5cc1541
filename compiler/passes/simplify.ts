/**
 * Algebraic simplification: one rewrite per line, its algebra in the comment. Constants are
 * `constant` fills (usually scalars); folding them is exact in float64 and rounded once.
 */
import type { Graph, Node } from "../ir/graph.js";
import { sameShape, type V } from "../ir/types.js";
import { scalarFunction } from "../ops/elementwise_codegen.js";
import { isElementwise, scalarOps } from "../ops/index.js";
import { MAX_CONCAT_INPUTS } from "../ops/concat.js";
import { rewrite, type RewriteContext, type Rule } from "./rewrite.js";

const shapeOf = (ctx: RewriteContext, v: V) => ctx.b.type(v).shape;
/** x may replace the node only if it already has the node's output shape (no broadcast lost). */
const same = (ctx: RewriteContext, x: V, n: Node) => sameShape(shapeOf(ctx, x), ctx.b.type(n.outputs[0]!).shape);
/** An elementwise op's formula as a float64 function of its operands (its attributes bound). */
const formula = (n: Node) => {
  if (!isElementwise(n.op)) return undefined;
  const def = scalarOps[n.op];
  return { arity: def.arity, f: scalarFunction(n.op, def, def.num(n.attrs as never)) };
};

const rules: Rule[] = [
  // op(c₁, c₂) → c  for every elementwise op (constant folding; the result has the broadcast shape)
  // (the formula, a compiled function from a cache, is fetched only for a node it folds)
  (n, ctx) => {
    if (!isElementwise(n.op) || n.inputs.length === 0) return null;
    const cs = n.inputs.map(ctx.constant);
    if (cs.some((c) => c === undefined)) return null;
    return [ctx.b.constant(formula(n)!.f(...(cs as number[])), broadcast(n.inputs.map((v) => shapeOf(ctx, v))))];
  },
  // x ⊙ fill(c, S) → x ⊙ c  for a binary elementwise ⊙, when x already has the output shape (broadcasting does the fill)
  (n, ctx) => {
    if (!isElementwise(n.op) || scalarOps[n.op].arity !== 2) return null;
    const [x, y] = n.inputs as [V, V];
    const cy = ctx.constant(y), cx = ctx.constant(x);
    if (cy !== undefined && shapeOf(ctx, y).length > 0 && same(ctx, x, n)) return [ctx.b.emit(n.op as "add", [x, ctx.b.scalar(cy)], n.attrs as never)];
    if (cx !== undefined && shapeOf(ctx, x).length > 0 && same(ctx, y, n)) return [ctx.b.emit(n.op as "add", [ctx.b.scalar(cx), y], n.attrs as never)];
    return null;
  },
  // x·1 → x,  1·x → x,  x + 0 → x,  0 + x → x,  x − 0 → x,  x / 1 → x
  (n, ctx) => {
    const [x, y] = n.inputs as [V, V];
    const id = (v: V, unit: number) => ctx.constant(v) === unit;
    if ((n.op === "mul" && id(y, 1)) || ((n.op === "add" || n.op === "sub") && id(y, 0)) || (n.op === "div" && id(y, 1))) {
      return same(ctx, x, n) ? [x] : null;
    }
    if ((n.op === "mul" && id(x, 1)) || (n.op === "add" && id(x, 0))) return same(ctx, y, n) ? [y] : null;
    return null;
  },
  // (x·c₁)·c₂ → x·(c₁c₂)   when c₁, c₂ are scalar constants whose product is a normal float32:
  // one that overflows or flushes to 0 would turn x = 0 into NaN (0·∞; x·1e30·1e30 is 0 in
  // float32) or a finite x into 0 (x·1e-30·1e-30 of x = 1e30 is 1e-30).
  (n, ctx) => {
    if (n.op !== "mul") return null;
    const c2 = ctx.constant(n.inputs[1]!), p = ctx.producer(n.inputs[0]!);
    if (c2 === undefined || p?.op !== "mul" || shapeOf(ctx, n.inputs[1]!).length !== 0) return null;
    const c1 = ctx.constant(p.inputs[1]!);
    if (c1 === undefined || shapeOf(ctx, p.inputs[1]!).length !== 0) return null;
    const folded = Math.abs(Math.fround(c1 * c2));
    if (!(folded >= 2 ** -126 && folded < Infinity) && c1 !== 0 && c2 !== 0) return null;
    return [ctx.b.mul(p.inputs[0]!, ctx.b.scalar(c1 * c2))];
  },
  // −(−x) → x
  (n, ctx) => {
    const p = n.op === "neg" ? ctx.producer(n.inputs[0]!) : undefined;
    return p?.op === "neg" ? [p.inputs[0]!] : null;
  },
  // x − (−y) → x + y ;  x + (−y) → x − y
  (n, ctx) => {
    if (n.op !== "sub" && n.op !== "add") return null;
    const p = ctx.producer(n.inputs[1]!);
    if (p?.op !== "neg") return null;
    return [n.op === "sub" ? ctx.b.add(n.inputs[0]!, p.inputs[0]!) : ctx.b.sub(n.inputs[0]!, p.inputs[0]!)];
  },
  // reshape(x, shape(x)) → x ;  reshape(reshape(x)) → reshape(x) ;  broadcast_to(x, shape(x)) → x
  (n, ctx) => {
    if (n.op !== "reshape" && n.op !== "broadcast_to") return null;
    const x = n.inputs[0]!;
    if (sameShape(shapeOf(ctx, x), n.attrs.shape)) return [x];
    const p = ctx.producer(x);
    if (n.op === "reshape" && p?.op === "reshape") return [ctx.b.reshape(p.inputs[0]!, n.attrs.shape)];
    return null;
  },
  // transpose(transpose(x, p), q) → transpose(x, p∘q) (y's axis d is x's axis p[q[d]]; x when that is the identity)
  // matmul(transpose(a, p), b) → matmul(transpose(a, p·swap), b) with transA flipped, likewise for b, when p·swap
  // (p with its last two entries swapped) keeps the last axis: the identity (k.transpose(−2, −1) is the
  // flag alone), or a transpose that copies rows instead of gathering at a stride (attention's keys)
  (n, ctx) => {
    if (n.op === "transpose") {
      const p = ctx.producer(n.inputs[0]!);
      return p?.op === "transpose" ? [ctx.b.transpose(p.inputs[0]!, n.attrs.perm.map((d) => p.attrs.perm[d]!))] : null;
    }
    if (n.op !== "matmul") return null;
    const [a, b] = n.inputs.map((v) => {
      const p = ctx.producer(v);
      if (p?.op !== "transpose") return undefined;
      const perm = p.attrs.perm, r = perm.length;
      return r >= 2 && perm[r - 2] === r - 1 ? ctx.b.transpose(p.inputs[0]!, [...perm.slice(0, r - 2), perm[r - 1]!, r - 1]) : undefined;
    });
    if (a === undefined && b === undefined) return null;
    return [ctx.b.matmul(a ?? n.inputs[0]!, b ?? n.inputs[1]!, n.attrs.transA !== (a !== undefined), n.attrs.transB !== (b !== undefined))];
  },
  // pad(a)[lo₁, hi₁] + pad(b)[lo₂, hi₂] → pad(concat(a, b))[lo₁, hi₂]  when a's rows end where b's begin,
  // also as (z + pad(a)) + pad(b) → z + pad(concat(a, b)) (autodiff sums cotangents in reverse order):
  // the gradient of slices that tile a tensor becomes one copy, not zero-filled buffers and adds
  (n, ctx) => {
    if (n.op !== "add" || !same(ctx, n.inputs[0]!, n) || !same(ctx, n.inputs[1]!, n)) return null;
    const [x, y] = n.inputs as [V, V];
    const direct = joinPads(ctx, x, y);
    if (direct) return [direct];
    for (const [sum, p] of [[x, y], [y, x]] as const) {
      const inner = ctx.producer(sum);
      if (inner?.op !== "add" || ctx.uses(sum) !== 1 || !inner.inputs.every((v) => same(ctx, v, n))) continue;
      for (const [z, q] of [[inner.inputs[0]!, inner.inputs[1]!], [inner.inputs[1]!, inner.inputs[0]!]] as const) {
        const joined = joinPads(ctx, q, p);
        if (joined) return [ctx.b.add(z, joined)];
      }
    }
    return null;
  },
  // pad(x)[0, 0] → x ;  concat(…, concat(a, b), …) on one axis → concat(…, a, b, …) (up to MAX_CONCAT_INPUTS) ;  concat(x) → x
  (n, ctx) => {
    if (n.op === "pad") return n.attrs.before === 0 && n.attrs.after === 0 ? [n.inputs[0]!] : null;
    if (n.op !== "concat") return null;
    if (n.inputs.length === 1) return [n.inputs[0]!];
    const rank = shapeOf(ctx, n.outputs[0]!).length, axis = (n.attrs.axis + rank) % rank;
    const inner = (v: V) => { const p = ctx.producer(v); return p?.op === "concat" && (p.attrs.axis + rank) % rank === axis ? p.inputs : [v]; };
    const flat = n.inputs.flatMap(inner);
    return flat.length === n.inputs.length || flat.length > MAX_CONCAT_INPUTS ? null : [ctx.b.concat(flat, axis)];
  },
  // broadcast_to(reshape(c)) of a constant → the constant at the new shape
  (n, ctx) => {
    if (n.op !== "reshape" && n.op !== "broadcast_to") return null;
    const c = ctx.constant(n.inputs[0]!);
    return c === undefined ? null : [ctx.b.constant(c, n.attrs.shape)];
  },
];

/** pad(a) + pad(b) as one pad of concat(a, b), if both pad the same axis and a's rows end where b's begin (either order). */
function joinPads(ctx: RewriteContext, x: V, y: V): V | null {
  const rank = shapeOf(ctx, x).length;
  const px = ctx.producer(x), py = ctx.producer(y);
  if (px?.op !== "pad" || py?.op !== "pad") return null;
  const axis = (px.attrs.axis + rank) % rank;
  if ((py.attrs.axis + rank) % rank !== axis) return null;
  for (const [u, w] of [[px, py], [py, px]] as const) {
    if (u.attrs.before + shapeOf(ctx, u.inputs[0]!)[axis]! === w.attrs.before) {
      const joined = ctx.b.concat([u.inputs[0]!, w.inputs[0]!], axis);
      return u.attrs.before === 0 && w.attrs.after === 0 ? joined : ctx.b.pad(joined, axis, u.attrs.before, w.attrs.after);
    }
  }
  return null;
}

function broadcast(shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) => Math.max(...shapes.map((s) => s[s.length - rank + i] ?? 1)));
}

export const simplify = (g: Graph): Graph => rewrite(g, rules);
