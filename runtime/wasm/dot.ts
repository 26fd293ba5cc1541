/**
 * Narrow products against a transposed matrix, as dot products along K: a classifier head
 * (`linear(512, 10)`: Y[M, N] = X·Wᵀ with N < DOT_MAX_N), where the sgemm's 8-wide tiles run mostly
 * on their edges (13 = 8 + 4 + 1) and packing W costs as much as multiplying it:
 *
 *   y[i, j] = act(Σ_k A[i, k]·W[j, k] + bias[j])      A row-major (pitch lda), W row-major (pitch ldw)
 *
 * Both rows are contiguous along k, so the lanes run along k: four partial sums per output, no
 * transposes, no packing. A block of 2 rows × 4 outputs keeps 8 accumulators (8 multiply-adds per
 * 6 loads; 3 rows would need 12 and spill on x64's 16 vector registers).
 *
 * Bits, the same for every output whatever block computes it, which thread, and whatever the batch:
 *   lanes   l_q = Σ_{k ≡ q mod 4, k < K − K mod 4} A[i,k]·W[j,k], from +0 in k order, by the module's
 *           multiply-add (fused or not, the micro-kernel's `madd`);
 *   sum     s = (l0 + l1) + (l2 + l3);
 *   tail    s = s + A[i,k]·W[j,k] for the last K mod 4 k's in order (a product rounded, then added);
 *   then    s + bias[j], then relu as pmax(s, 0) (NaN stays NaN).
 * So a sample predicted alone equals its row of a batch (the kernels pick this one by N alone).
 */
import type { ModuleBuilder } from "./builder.js";
import { f32, f32x4, forRange, get, hasFlag, i32, i32x4, select, set, v128, when, type Expr, type Stmt } from "./emit.js";
import { EPI } from "./microkernel.js";
import { transpose4 } from "./pack.js";
import type { SgemmConfig } from "./sgemm.js";

/** Outputs below which linear layers take this kernel (from 16 the sgemm's tiles are full). */
export const DOT_MAX_N = 16;

const c = i32.const, add = i32.add, mul = i32.mul;

/**
 * Emit `dot(epi, m0, m1, n, k, a, lda, w, ldw, y, ldy, bias)`: rows [m0, m1) of Y as above (pitches
 * in floats; bias read only with EPI.BIAS). Exported.
 */
export function emitDot(m: ModuleBuilder, cfg: SgemmConfig): void {
  const f = m.func("dot", Array<"i32">(12).fill("i32"));
  const [epi, m0, m1, n, k, a, lda, w, ldw, y, ldy, bias] = f.i32Params();
  const madd = cfg.fma ? f32x4.relaxed_madd : f32x4.madd;
  const i = f.local("i32"), j = f.local("i32"), kb = f.local("i32"), kEnd = f.local("i32"), kk = f.local("i32");
  const lda4 = f.local("i32"), ldw4 = f.local("i32"), ldy4 = f.local("i32");
  const pa = f.locals("i32", 2), pw = f.locals("i32", 4);
  const acc = [f.locals("v128", 4), f.locals("v128", 4)];
  const av = f.locals("v128", 2), wv = f.locals("v128", 4), t = f.locals("v128", 4);
  const s = f.local("v128"), sf = f.local("f32");

  /** Outputs [j, j + C) of rows i … i + R − 1. */
  const block = (R: number, C: number): Stmt[] => {
    const body: Stmt[] = [];
    for (let q = 0; q < C; q++) body.push(set(pw[q]!, add(get(w), mul(add(get(j), c(q)), get(ldw4)))));
    for (let r = 0; r < R; r++) for (let q = 0; q < C; q++) body.push(set(acc[r]![q]!, v128.zero()));
    body.push(forRange(kb, c(0), get(kEnd), 16,
      ...Array.from({ length: R }, (_, r) => set(av[r]!, v128.load(add(get(pa[r]!), get(kb))))),
      ...Array.from({ length: C }, (_, q) => set(wv[q]!, v128.load(add(get(pw[q]!), get(kb))))),
      ...Array.from({ length: R }, (_, r) => Array.from({ length: C }, (_, q) => set(acc[r]![q]!, madd(get(av[r]!), get(wv[q]!), get(acc[r]![q]!))))).flat(),
    ));
    for (let r = 0; r < R; r++) {
      const out = add(get(y), add(mul(add(get(i), c(r)), get(ldy4)), mul(get(j), c(4))));
      const aAt = (x: Expr<"i32">) => f32.load(add(get(pa[r]!), mul(x, c(4))));
      const wAt = (q: number, x: Expr<"i32">) => f32.load(add(get(pw[q]!), mul(x, c(4))));
      if (C === 4) {
        // Lane q of (t0 + t1) + (t2 + t3) is (l0 + l1) + (l2 + l3) of output j + q.
        const tr = transpose4(acc[r]!, t);
        const [c0, c1, c2, c3] = tr.cols as [Expr<"v128">, Expr<"v128">, Expr<"v128">, Expr<"v128">];
        const col = (x: Expr<"i32">) => i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(
          v128.load32_splat(add(get(pw[0]!), mul(x, c(4)))), 1, i32.reinterpret_f32(wAt(1, x))), 2, i32.reinterpret_f32(wAt(2, x))), 3, i32.reinterpret_f32(wAt(3, x)));
        body.push(...tr.setup, set(s, f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3))),
          forRange(kk, i32.shr_u(get(kEnd), c(2)), get(k), 1,
            set(s, f32x4.add(get(s), f32x4.mul(v128.load32_splat(add(get(pa[r]!), mul(get(kk), c(4)))), col(get(kk)))))),
          when(hasFlag(get(epi), EPI.BIAS), set(s, f32x4.add(get(s), v128.load(add(get(bias), mul(get(j), c(4))))))),
          when(hasFlag(get(epi), EPI.RELU), set(s, f32x4.pmax(get(s), v128.zero()))),
          v128.store(out, get(s)));
      } else {
        for (let q = 0; q < C; q++) {
          const lane = (l: number) => f32x4.extract_lane(get(acc[r]![q]!), l);
          body.push(set(sf, f32.add(f32.add(lane(0), lane(1)), f32.add(lane(2), lane(3)))),
            forRange(kk, i32.shr_u(get(kEnd), c(2)), get(k), 1, set(sf, f32.add(get(sf), f32.mul(aAt(get(kk)), wAt(q, get(kk)))))),
            when(hasFlag(get(epi), EPI.BIAS), set(sf, f32.add(get(sf), f32.load(add(get(bias), mul(get(j), c(4))), 4 * q)))),
            // pmax(s, 0): 0 where s < 0, else s (NaN stays NaN).
            when(hasFlag(get(epi), EPI.RELU), set(sf, select(f32.const(0), get(sf), f32.lt(get(sf), f32.const(0))))),
            f32.store(out, get(sf), 4 * q));
        }
      }
    }
    return body;
  };
  /** Rows i … i + R − 1: every output, by fours, then the last N mod 4 in one block. */
  const rows = (R: number): Stmt[] => [
    ...Array.from({ length: R }, (_, r) => set(pa[r]!, add(get(a), mul(add(get(i), c(r)), get(lda4))))),
    forRange(j, c(0), i32.sub(get(n), c(3)), 4, ...block(R, 4)),
    ...[3, 2, 1].map((C) => when(i32.eq(i32.sub(get(n), get(j)), c(C)), ...block(R, C))),
  ];
  f.body(
    set(lda4, mul(get(lda), c(4))), set(ldw4, mul(get(ldw), c(4))), set(ldy4, mul(get(ldy), c(4))),
    set(kEnd, mul(i32.and(get(k), c(-4)), c(4))),
    forRange(i, get(m0), i32.sub(get(m1), c(1)), 2, ...rows(2)),
    when(i32.lt_s(get(i), get(m1)), ...rows(1)),
  );
}
