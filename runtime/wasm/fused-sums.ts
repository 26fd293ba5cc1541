/**
 * Reductions inside a fused elementwise kernel (fused.ts, spec.sums): y[c] = scale · Σ_r v[r·cols + c]
 * of one slot v over the domain seen as [rows, cols] in memory order — column sums (the bias
 * gradient's Σ over the batch) or, with cols = 1, the total (a loss) — accumulated as the loop
 * produces v, so v is never stored for them.
 *
 * Summation order, fixed by the spec alone (the kernel never splits across threads):
 *   cols > 1  y[c] += v in row order, float32, in the output itself (zeroed first), then y ·= scale
 *             in float32: the same operations in the same order as the reduceSum kernel's column
 *             sums (runtime/wasm/reduce.ts), so the same bits as the unfused graph.
 *   cols = 1  vectors of a row are summed in blocks of BLOCK elements in four f32x4 accumulators
 *             (independent add chains, ≤ BLOCK/16 terms each, as reduceSum's blocks), each block's
 *             sum added into a float64 total; scalar elements (row heads and tails, strided loops)
 *             go straight into the float64 total. y = f32(total · scale).
 *
 * A column sum costs a load and a store per element group (store-port bound: W4p's loop with two
 * column sums and a total takes about what it took to store its three outputs). Holding the sums
 * of 4 rows in registers (one load and store per 4 rows) was 10% faster with padded arrays and
 * 2.4× slower in an arena: rows of a 1024-wide domain are 4 KiB apart and every 1 MiB array
 * starts at the same offset mod 4096, so 4 rows × 3 inputs shared one L1 set.
 */
import type { FuncBuilder } from "./builder.js";
import { f32, f32x4, f64, forRange, get, i32, set, type Expr, type Local, type Stmt, type ValType } from "./emit.js";
import type { FLanes } from "./fused-lanes.js";
import type { LaneType } from "./lanes.js";

export interface SumSpec { readonly slot: number; readonly cols: number; readonly scale: number }

/** Floats of a row summed in float32 lanes before the total takes them in float64 (as reduceSum). */
export const BLOCK = 1024;
/** Vector accumulators of a total (and the unroll of the vector loop that feeds them). */
export const UNROLL = 4;

/**
 * The domain index where the kept dimensions of a column sum start (its first non-1 one), for
 * the loop nest not to merge dimensions across it; undefined for a total. Fails unless the
 * trailing dimensions multiply to exactly `cols`.
 */
export function keptStart(shape: readonly number[], cols: number, fail: (why: string) => never): number | undefined {
  if (cols === 1) return undefined;
  let p = 1, start = shape.length;
  for (let i = shape.length - 1; i >= 0 && p < cols; i--) { p *= shape[i]!; start = i; }
  if (p !== cols) fail(`sum over ${cols} columns: not a product of trailing dimensions of [${shape.join(",")}]`);
  while (shape[start] === 1) start++;
  return start;
}

export interface SumState {
  readonly totals: boolean;
  /** Zero the column outputs and the totals. */
  readonly prologue: Stmt[];
  /** At a row start (flat index `rowIdx`): each column sum's address of the row's first column. */
  row(rowIdx: Expr<"i32">): Stmt[];
  /** Add one element group's values (`val(slot)`, at byte offset `off` in the row) into the column sums and accumulator u of the totals. */
  add<F extends LaneType, I extends ValType>(L: FLanes<F, I>, val: (slot: number) => Expr<F>, off: Expr<"i32">, u: number): Stmt[];
  /** Around the vectors of a block of a row: zero the lane accumulators / add them into the totals. */
  readonly blockStart: Stmt[];
  readonly blockEnd: Stmt[];
  /** After the loop: scale the column sums, store the totals. */
  readonly epilogue: Stmt[];
  /** checkNumerics: or into `bits` the bits of y − y over every element of sum j (0 iff all finite). */
  check(j: number, bits: Local<"i32">): Stmt[];
}

/** `outs[j]`: the i32 parameter holding sum j's output address. */
export function sumState(f: FuncBuilder, sums: readonly SumSpec[], outs: readonly Local<"i32">[]): SumState {
  const colPtr = sums.map((s) => (s.cols > 1 ? f.local("i32") : null));
  const total = sums.map((s) => (s.cols === 1 ? f.local("f64") : null));
  const lanes = sums.map((s) => (s.cols === 1 ? f.locals("v128", UNROLL) : null));
  const c = sums.length ? f.local("i32") : (null as never); // no local without sums: a module without them keeps its bytes
  /** A loop over the elements of sum j's output, `body` given each one's address. */
  const each = (j: number, cols: number, body: (a: Expr<"i32">) => Stmt[]): Stmt =>
    forRange(c, i32.const(0), i32.const(cols), 1, ...body(i32.add(get(outs[j]!), i32.shl(get(c), i32.const(2)))));
  const prologue: Stmt[] = sums.flatMap((s, j) => (s.cols > 1 ? [each(j, s.cols, (a) => [f32.store(a, f32.const(0))])] : [set(total[j]!, f64.const(0))]));
  const blockStart = lanes.flatMap((l) => (l ? l.map((v) => set(v, f32x4.const(0))) : []));
  const blockEnd = lanes.flatMap((l, j) => {
    if (!l) return [];
    // (a0 + a1) + (a2 + a3), then the lanes as (l0 + l1) + (l2 + l3), as accReduce does.
    const v = f32x4.add(f32x4.add(get(l[0]!), get(l[1]!)), f32x4.add(get(l[2]!), get(l[3]!)));
    const lane = (k: number) => f32x4.extract_lane(get(l[0]!), k);
    return [set(l[0]!, v), set(total[j]!, f64.add(get(total[j]!), f64.promote_f32(f32.add(f32.add(lane(0), lane(1)), f32.add(lane(2), lane(3))))))];
  });
  const epilogue = sums.flatMap((s, j) => {
    if (s.cols === 1) return [f32.store(get(outs[j]!), f32.demote_f64(f64.mul(get(total[j]!), f64.const(s.scale))))];
    return s.scale === 1 ? [] : [each(j, s.cols, (a) => [f32.store(a, f32.mul(f32.load(a), f32.const(Math.fround(s.scale))))])];
  });
  return {
    totals: sums.some((s) => s.cols === 1),
    prologue, blockStart, blockEnd, epilogue,
    row: (rowIdx) => sums.flatMap((s, j) => (s.cols > 1
      ? [set(colPtr[j]!, i32.add(get(outs[j]!), i32.shl(i32.rem_u(rowIdx, i32.const(s.cols)), i32.const(2))))]
      : [])),
    add: (L, val, off, u) => sums.flatMap((s, j) => {
      if (s.cols > 1) {
        const a = () => i32.add(get(colPtr[j]!), off);
        return [L.store(a(), L.add(L.load(a()), val(s.slot)))];
      }
      if (L.width === 4) return [set(lanes[j]![u]!, f32x4.add(get(lanes[j]![u]!), val(s.slot) as Expr<"v128">))];
      return [set(total[j]!, f64.add(get(total[j]!), f64.promote_f32(val(s.slot) as Expr<"f32">)))];
    }),
    check: (j, bits) => {
      const y = (a: Expr<"i32">) => f32.load(a);
      return [each(j, sums[j]!.cols, (a) => [set(bits, i32.or(get(bits), i32.reinterpret_f32(f32.sub(y(a), y(a)))))])];
    },
  };
}
