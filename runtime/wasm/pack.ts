/**
 * Packing (GotoBLAS): copy a kc×n panel of an operand into slivers of width W, each sliver
 * kc rows of W consecutive floats, so the micro-kernel reads both operands as one forward stream:
 *
 *   dst[s·kc·W + k·W + w] = P(k, s·W + w)   for w < W, zero where s·W + w ≥ n (padding)
 *
 * The panel element P(k, j) lives at src + 4·(trans ? j·ld + k : k·ld + j). Both operands are
 * packed by the same routine (for B, j is a column of op(B); for A, j is a row of op(A)):
 *
 *   op(B)[pc+k, jc+j]:  B not transposed → B[(pc+k)·ldb + jc+j]   (rows along j: "direct")
 *                       B transposed     → B[(jc+j)·ldb + pc+k]   (rows along k: "transposed")
 *   op(A)[ic+j, pc+k]:  A not transposed → A[(ic+j)·lda + pc+k]   (transposed)
 *                       A transposed     → A[(pc+k)·lda + ic+j]   (direct)
 *
 * So transposes are absorbed here, never materialized. The direct layout copies W/4 vectors per
 * k; the transposed layout reads 4 rows × 4 k as four vectors and transposes them in registers
 * (4×4 transpose with shuffles), so both run at vector speed. Partial slivers (the last one when
 * W ∤ n) and the k tail of the transposed layout go element by element.
 */
import type { FuncBuilder, ModuleBuilder } from "./builder.js";
import {
  block, br, brIf, f32, forRange, get, i32, ifElse, loop, select, set, v128, when, type Expr, type Local, type Stmt,
} from "./emit.js";

/**
 * 4×4 transpose: rows r0..r3 (r_i = [x_i0 x_i1 x_i2 x_i3]) → columns c0..c3 (c_j = [x_0j … x_3j]).
 *   t0 = r0,r1 interleaved low  = x00 x10 x01 x11      c0 = t0.lo, t2.lo = x00 x10 x20 x30
 *   t1 = r0,r1 interleaved high = x02 x12 x03 x13      c1 = t0.hi, t2.hi
 *   t2, t3 = the same for r2, r3                       c2 = t1.lo, t3.lo;  c3 = t1.hi, t3.hi
 */
export function transpose4(r: readonly Local<"v128">[], t: readonly Local<"v128">[]): { setup: Stmt[]; cols: Expr<"v128">[] } {
  const [r0, r1, r2, r3] = r.map(get) as [Expr<"v128">, Expr<"v128">, Expr<"v128">, Expr<"v128">];
  const [t0, t1, t2, t3] = t as [Local<"v128">, Local<"v128">, Local<"v128">, Local<"v128">];
  return {
    setup: [
      set(t0, v128.shuffle32(r0, r1, [0, 4, 1, 5])), set(t1, v128.shuffle32(r0, r1, [2, 6, 3, 7])),
      set(t2, v128.shuffle32(r2, r3, [0, 4, 1, 5])), set(t3, v128.shuffle32(r2, r3, [2, 6, 3, 7])),
    ],
    cols: [
      v128.shuffle32(get(t0), get(t2), [0, 1, 4, 5]), v128.shuffle32(get(t0), get(t2), [2, 3, 6, 7]),
      v128.shuffle32(get(t1), get(t3), [0, 1, 4, 5]), v128.shuffle32(get(t1), get(t3), [2, 3, 6, 7]),
    ],
  };
}

/** Emit `pack<W>(dst, src, ldBytes, kc, n, trans)` as described above. */
export function emitPack(m: ModuleBuilder, w: number): FuncBuilder {
  if (w % 4 !== 0) throw new Error(`pack: width ${w} must be a multiple of 4`);
  const f = m.func(`pack${w}`, ["i32", "i32", "i32", "i32", "i32", "i32"], [], false);
  const [dst, src, ld, kc, n, trans] = f.i32Params();
  const j0 = f.local("i32"), k = f.local("i32"), jj = f.local("i32"), kc4 = f.local("i32");
  const s = f.local("i32"), d = f.local("i32"), rowPtr = f.local("i32"), valid = f.local("i32");
  const r = f.locals("v128", 4), t = f.locals("v128", 4);
  const tr = transpose4(r, t);
  const sliverBytes = i32.mul(get(kc), i32.const(w * 4));
  const add = i32.add, mul = i32.mul, c = i32.const;

  // Direct layout, full sliver: row k of the panel is W floats at s + k·ld.
  const directSliver: Stmt[] = [
    set(d, get(dst)), set(rowPtr, get(s)),
    forRange(k, c(0), get(kc), 1,
      ...Array.from({ length: w / 4 }, (_, v) => v128.store(get(d), v128.load(get(rowPtr), 16 * v), 16 * v)),
      set(d, add(get(d), c(w * 4))), set(rowPtr, add(get(rowPtr), get(ld)))),
  ];

  // Direct layout, G full slivers at once: row k's G·W floats are contiguous (G·W·4 = 128 bytes
  // for B, two whole cache lines), written to G sliver streams. Reading rows whole rather than
  // W floats at a time keeps the strided walk down the panel prefetch-friendly.
  const G = 4;
  const dg = f.locals("i32", G);
  const directGroup: Stmt[] = [
    ...dg.map((p, g) => set(p, add(get(dst), mul(sliverBytes, c(g))))),
    set(rowPtr, add(get(src), mul(get(j0), c(4)))),
    forRange(k, c(0), get(kc), 1,
      ...dg.flatMap((p, g) => Array.from({ length: w / 4 }, (_, v) => v128.store(get(p), v128.load(get(rowPtr), 16 * (g * w / 4 + v)), 16 * v))),
      ...dg.map((p) => set(p, add(get(p), c(w * 4)))),
      set(rowPtr, add(get(rowPtr), get(ld)))),
  ];

  // Transposed layout, full sliver: panel column j is contiguous along k at s + j·ld. For each
  // group of 4 columns and 4 k's: load 4 vectors, transpose, store as 4 sliver rows.
  const transposedSliver: Stmt[] = Array.from({ length: w / 4 }, (_, g): Stmt[] => [
    set(rowPtr, add(get(s), mul(get(ld), c(4 * g)))), // column 4g of the sliver
    set(d, add(get(dst), c(16 * g))),
    forRange(k, c(0), get(kc4), 4,
      ...r.map((rv, i) => set(rv, v128.load(add(get(rowPtr), mul(get(ld), c(i)))))),
      ...tr.setup,
      ...tr.cols.map((col, kk) => v128.store(get(d), col, kk * w * 4)),
      set(rowPtr, add(get(rowPtr), c(16))), set(d, add(get(d), c(4 * w * 4)))),
    // k tail: columns one element at a time.
    forRange(k, get(kc4), get(kc), 1,
      ...Array.from({ length: 4 }, (_, i) =>
        f32.store(add(get(dst), mul(get(k), c(w * 4))), f32.load(add(get(s), add(mul(get(ld), c(4 * g + i)), mul(get(k), c(4))))), (4 * g + i) * 4))),
  ]).flat();

  // Partial sliver: element by element, zero beyond the valid columns (jj ≥ valid). Those
  // lanes load from s (always inside the operand) instead of their out-of-range address, and
  // select then discards the value: no read outside the operand, no branch.
  const elemAddr = (kk: Local<"i32">, j: Local<"i32">) => select(
    add(get(s), add(mul(get(j), get(ld)), mul(get(kk), c(4)))),
    add(get(s), add(mul(get(kk), get(ld)), mul(get(j), c(4)))),
    get(trans));
  const partialSliver: Stmt[] = [
    forRange(k, c(0), get(kc), 1,
      forRange(jj, c(0), c(w), 1,
        f32.store(add(get(dst), mul(add(mul(get(k), c(w)), get(jj)), c(4))),
          select(f32.load(select(elemAddr(k, jj), get(s), i32.lt_s(get(jj), get(valid)))), f32.const(0), i32.lt_s(get(jj), get(valid)))))),
  ];

  f.body(
    set(kc4, i32.and(get(kc), c(-4))),
    set(j0, c(0)),
    when(i32.eqz(get(trans)), block(loop(
      brIf(1, i32.gt_s(add(get(j0), c(G * w)), get(n))),
      ...directGroup,
      set(j0, add(get(j0), c(G * w))),
      set(dst, add(get(dst), mul(sliverBytes, c(G)))),
      br(0)))),
    // The remaining slivers one at a time (all of them when transposed).
    forRange(j0, get(j0), get(n), w,
      // s = address of panel element (0, j0)
      set(s, add(get(src), select(mul(get(j0), get(ld)), mul(get(j0), c(4)), get(trans)))),
      set(valid, i32.sub(get(n), get(j0))),
      ifElse(i32.ge_s(get(valid), c(w)),
        [ifElse(get(trans), transposedSliver, directSliver)],
        partialSliver),
      set(dst, add(get(dst), sliverBytes))),
  );
  return f;
}
