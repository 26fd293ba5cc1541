/**
 * Sums and copies in WebAssembly SIMD, for the optimized programs' `sum`/`mean` nodes (loss
 * totals, row and column sums) and `reshape` copies.
 *
 * reduceSum(x, y, outer, n, inner, scale) views x as [outer, n, inner] and writes
 *   y[o, i] = scale · Σ_k x[o, k, i]
 * Two loop shapes:
 *   inner = 1   each output sums a contiguous run of n floats: blocks of BLOCK floats are summed
 *               in float32 lanes (four vectors of independent add chains), and each block's sum
 *               is added into a float64 total, so a loss over a million elements loses no more
 *               than one block's float32 rounding.
 *   inner > 1   each column is summed in k order (as the bias gradient colSum does), then
 *               scaled. Up to COLUMNS_MAX columns: 16 at a time in registers through all k, then
 *               4, then up to 3 scalars side by side (adding each row into y in memory put a store
 *               and a reload on every add's chain: a sum over the middle axis of [256, 128, 2]
 *               took 1.75 ns an element, now 0.3). More columns: each row added into y in turn,
 *               which streams memory once (walking the rows a column block at a time was slower
 *               from 512 columns: [8, 512, 512] 1.1–1.4 → 1.7–2.1 ms). The same bits either way.
 * copy(x, y, n): y = x, n floats (x and y do not overlap).
 * fill(y, n, value): y = value, n floats (a `constant` a product or a sum reads: a gradient that
 *   simplified to zeros, say).
 */
import type { FuncBuilder, ModuleBuilder } from "./builder.js";
import { f32, f64, forRange, get, i32, ifElse, set, when, type Expr, type Local, type Stmt } from "./emit.js";
import { accInit, accLocals, accReduce, accUpdate, eachLane, lanePair, pick, SCALAR, setPair, sum, VEC, type LaneType, type Lanes } from "./lanes.js";

type I = Expr<"i32">;
const U = 4;
/** The most columns (inner) summed in registers (see above); measured equal at 64, faster at 32. */
const COLUMNS_MAX = 32;
/** Floats summed in float32 before the running total takes them in float64. */
const BLOCK = 1024;
const at = (base: I, off: I) => i32.add(base, off);
const i32s = (f: FuncBuilder, n: number): Local<"i32">[] => Array.from({ length: n }, (_, i) => f.param(i, "i32"));

/**
 * Statements leaving in the f64 local `total` the sum over i < n of the terms `body` adds: blocks
 * of BLOCK elements summed in float32 lanes (U vectors of independent chains), each block's sum
 * added in float64. `body(L, off, add)` gets the byte offset of element i (block included) and
 * returns the statements of one step, calling `add(term)` once.
 */
export function blockedSum(f: FuncBuilder, n: I, total: Local<"f64">,
  body: <T extends LaneType>(L: Lanes<T>, off: I, add: (term: Expr<T>) => Stmt) => Stmt[]): Stmt[] {
  const b = f.local("i32"), len = f.local("i32"), acc = accLocals(f, U), blockSum = accReduce(acc, sum);
  return [
    set(total, f64.const(0)),
    forRange(b, i32.const(0), n, BLOCK,
      set(len, i32.min_s(i32.const(BLOCK), i32.sub(n, get(b)))),
      ...accInit(acc, 0),
      ...eachLane(f, get(len), (L, off, slot) => body(L, i32.add(i32.shl(get(b), i32.const(2)), off), (t) => accUpdate(L, acc, slot, L.add, t)), U),
      ...blockSum.setup,
      set(total, f64.add(get(total), f64.promote_f32(blockSum.value))),
    ),
  ];
}

/** Statements leaving Σ of n floats at `base` (bytes) in the f64 local `total`. */
const contiguousSum = (f: FuncBuilder, base: Local<"i32">, n: Local<"i32">, total: Local<"f64">): Stmt[] =>
  blockedSum(f, get(n), total, (L, off, add) => [add(L.load(at(get(base), off)))]);

/** reduceSum(x, y, outer, n, inner, scale: f64) */
function emitReduceSum(m: ModuleBuilder): void {
  const f = m.func("reduceSum", ["i32", "i32", "i32", "i32", "i32", "f64"]);
  const [x, y, outer, n, inner] = i32s(f, 5);
  const scale = f.param(5, "f64");
  const o = f.local("i32"), k = f.local("i32"), src = f.local("i32"), dst = f.local("i32"), total = f.local("f64");
  const col = f.local("i32"), c16 = f.local("i32"), c4 = f.local("i32"), p = f.local("i32");
  const sc = lanePair(f);
  const rowBytes = i32.shl(get(inner), i32.const(2));
  f.body(
    ...setPair(sc, f32.demote_f64(get(scale))),
    ifElse(i32.eq(get(inner), i32.const(1)), [
      // One contiguous run of n floats per output.
      forRange(o, i32.const(0), get(outer), 1,
        set(src, at(get(x), i32.mul(get(o), i32.shl(get(n), i32.const(2))))),
        ...contiguousSum(f, src, n, total),
        f32.store(at(get(y), i32.shl(get(o), i32.const(2))), f32.demote_f64(f64.mul(get(total), get(scale)))),
      ),
    ], [
      // Columns summed in k order, then scaled: up to COLUMNS_MAX, 16 columns at a time in four
      // vector registers through all k, then 4 at a time, then the last inner % 4 as scalars side
      // by side; more, each row added into the output row in turn.
      forRange(o, i32.const(0), get(outer), 1,
        set(dst, at(get(y), i32.mul(get(o), rowBytes))),
        set(src, at(get(x), i32.mul(i32.mul(get(o), get(n)), rowBytes))),
        ifElse(i32.le_s(get(inner), i32.const(COLUMNS_MAX)), [
          set(c16, i32.and(get(inner), i32.const(-16))), set(c4, i32.and(get(inner), i32.const(-4))),
          forRange(col, i32.const(0), get(c16), 16, ...columns(VEC, 4)),
          forRange(col, get(c16), get(c4), 4, ...columns(VEC, 1)),
          set(col, get(c4)),
          ...[1, 2, 3].map((r) => when(i32.eq(i32.sub(get(inner), get(c4)), i32.const(r)), ...columns(SCALAR, r))),
        ], [
          ...eachLane(f, get(inner), (L, off) => [L.store(at(get(dst), off), L.const(0))], U),
          forRange(k, i32.const(0), get(n), 1,
            ...eachLane(f, get(inner), (L, off) => [L.store(at(get(dst), off), L.add(L.load(at(get(dst), off)), L.load(at(get(src), off))))], U),
            set(src, i32.add(get(src), rowBytes)),
          ),
          ...eachLane(f, get(inner), (L, off) => [L.store(at(get(dst), off), L.mul(L.load(at(get(dst), off)), get(pick(L, sc))))], U),
        ]),
      ),
    ]),
  );

  /** Columns col … of this row block, `w` lanes-groups wide: accumulators through all k, then scaled into y. */
  function columns<T extends LaneType>(L: Lanes<T>, w: number): Stmt[] {
    const acc = Array.from({ length: w }, () => f.local(L.type)) as Local<T>[], step = L.type === "v128" ? 16 : 4;
    return [
      ...acc.map((a) => set(a, L.const(0))),
      set(p, at(get(src), i32.shl(get(col), i32.const(2)))),
      forRange(k, i32.const(0), get(n), 1,
        ...acc.map((a, v) => set(a, L.add(get(a), L.load(get(p), step * v)))),
        set(p, i32.add(get(p), rowBytes))),
      ...acc.map((a, v) => L.store(at(get(dst), i32.shl(get(col), i32.const(2))), L.mul(get(a), get(pick(L, sc))), step * v)),
    ];
  }
}

/** copy(x, y, n) */
function emitCopy(m: ModuleBuilder): void {
  const f = m.func("copy", ["i32", "i32", "i32"]);
  const [x, y, n] = i32s(f, 3);
  f.body(...eachLane(f, get(n), (L, off) => [L.store(at(get(y), off), L.load(at(get(x), off)))], U));
}

/** fill(y, n, value: f32) */
function emitFill(m: ModuleBuilder): void {
  const f = m.func("fill", ["i32", "i32", "f32"]);
  const [y, n] = i32s(f, 2), value = f.param(2, "f32"), v = lanePair(f);
  f.body(...setPair(v, get(value)), ...eachLane(f, get(n), (L, off) => [L.store(at(get(y), off), get(pick(L, v)))], U));
}

export function emitReductions(m: ModuleBuilder): void {
  emitReduceSum(m);
  emitCopy(m);
  emitFill(m);
}
