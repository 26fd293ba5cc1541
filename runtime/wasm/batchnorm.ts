/**
 * Batch normalization over the columns of X[rows, n] (statistics per feature, across the batch),
 * forward and backward, fused with the affine y = x̂·γ + β — the same formulas as the reference
 * kernels (runtime/kernels/norm.ts), summed in float32 lanes.
 *
 * Each column is independent, so a call covers columns [c0, c1) (kiln's calls: all of them, on
 * one thread, see runtime/kernels/norm.ts); a column's sums run over rows 0, 1, … in order
 * whether it falls in a vector of four columns or in the scalar tail (lanes.ts), so any column
 * range gives the same bits. The parameter gradients are per column too.
 *
 * Forward, per column (two passes for the variance, accurate when |μ| ≫ σ):
 *   μ = Σx/m,  σ² = Σ(x − μ)²/m (biased: stored for the running-variance update),
 *   rstd = 1/√(σ² + ε),  x̂ = (x − μ)·rstd,  y = x̂·γ + β
 * Backward, with δ = Σ(x − μ)/m (the rounding of the stored μ, recovered as the reference does):
 *   Σdy·x̂ = rstd·(Σdy·(x − μ) − δ·Σdy),   dγ = Σdy·x̂,   dβ = Σdy,   c = γ·rstd,
 *   dx = c·dy − c·Σdy/m − (x − μ − δ)·c·rstd·Σdy·x̂/m
 */
import type { FuncBuilder, ModuleBuilder } from "./builder.js";
import { branchOn, displaced, f32, forRange, get, hasFlag, i32, set, type Expr, type Local, type Stmt } from "./emit.js";
import { SCALAR, VEC, lanePair, pick, type LanePair, type LaneType, type Lanes } from "./lanes.js";

export const BATCHNORM = { AFFINE: 1, XHAT: 2 } as const;

type I = Expr<"i32">;

interface Column {
  /** Byte address of X[0, col] etc.: base + 4·c0 + lane offset. */
  readonly col: (base: Local<"i32">, off: I) => I;
  /** Address of X[r, col] inside a row loop. */
  readonly at: (base: Local<"i32">, off: I) => I;
}

/**
 * One column's program: statements run once per column, and statements run once per row (inside
 * the row loop). A group of G columns interleaves G programs segment by segment — one row loop
 * for all G — so G independent add chains overlap instead of one waiting on each add's latency;
 * each column still performs the same operations in the same order, so the bits do not change.
 */
type Segment = { readonly once: Stmt[] } | { readonly perRow: Stmt[] };

/** Columns per group: 4 vectors (16 columns), then single vectors, then scalars. */
const G = 4;

function columnLoops(
  f: FuncBuilder, rows: Local<"i32">, n: Local<"i32">, c0: Local<"i32">, c1: Local<"i32">,
  program: <T extends LaneType>(L: Lanes<T>, C: Column, off: I, slot: number) => Segment[],
): Stmt[] {
  const r = f.local("i32"), p = f.local("i32");
  const i = f.local("i32"), nG = f.local("i32"), n4 = f.local("i32"), cols = f.local("i32");
  const col = (base: Local<"i32">, off: I) => i32.add(i32.add(get(base), i32.shl(get(c0), i32.const(2))), off);
  const C: Column = { col, at: (base, off) => i32.add(col(base, off), get(p)) };
  // The group's column offsets with their constants apart, for the accesses' offset immediates.
  const byte = (extra: number) => displaced(i32.shl(get(i), i32.const(2)), extra);
  const interleave = <T extends LaneType>(L: Lanes<T>, offs: I[]): Stmt[] => {
    const progs = offs.map((off, slot) => program(L, C, off, slot));
    return progs[0]!.flatMap((seg, k) => "perRow" in seg
      ? [forRange(r, i32.const(0), get(rows), 1, set(p, i32.mul(get(r), i32.shl(get(n), i32.const(2)))),
        ...progs.flatMap((pr) => (pr[k] as { perRow: Stmt[] }).perRow))]
      : progs.flatMap((pr) => (pr[k] as { once: Stmt[] }).once));
  };
  return [
    set(cols, i32.sub(get(c1), get(c0))),
    set(n4, i32.and(get(cols), i32.const(-4))),
    set(nG, i32.and(get(cols), i32.const(-4 * G))),
    forRange(i, i32.const(0), get(nG), 4 * G, ...interleave(VEC, Array.from({ length: G }, (_, g) => byte(16 * g)))),
    forRange(i, get(nG), get(n4), 4, ...interleave(VEC, [byte(0)])),
    forRange(i, get(n4), get(cols), 1, ...interleave(SCALAR, [byte(0)])),
  ];
}

const v = <T extends LaneType>(L: Lanes<T>, pair: LanePair) => get(pick(L, pair));
const pairs = (f: FuncBuilder) => Array.from({ length: G }, () => lanePair(f));

/** batchNormFwd(x, y, gamma, beta, xhat, mean, rstd, variance, rows, n, c0, c1, eps: f32, flags) */
function emitForward(m: ModuleBuilder): void {
  const f = m.func("batchNormFwd", [...Array<"i32">(12).fill("i32"), "f32", "i32"]);
  const [x, y, gamma, beta, xhat, mean, rstd, variance, rows, n, c0, c1] = Array.from({ length: 12 }, (_, i) => f.param(i, "i32"));
  const eps = f.param(12, "f32"), flags = f.param(13, "i32");
  const mf = f.local("f32"), ACC = pairs(f), MU = pairs(f), RS = pairs(f), D = pairs(f);
  const body = (affine: boolean, storeXhat: boolean) => columnLoops(f, rows, n, c0, c1, <T extends LaneType>(L: Lanes<T>, C: Column, off: I, g: number): Segment[] => {
    const acc = ACC[g]!, mu = MU[g]!, rs = RS[g]!, d = D[g]!;
    const X = () => L.load(C.at(x, off)), per = (base: Local<"i32">) => C.col(base, off);
    const h = () => L.mul(L.sub(X(), v(L, mu)), v(L, rs));
    return [
      { once: [set(pick(L, acc), L.const(0))] },
      { perRow: [set(pick(L, acc), L.add(v(L, acc), X()))] },
      { once: [set(pick(L, mu), L.div(v(L, acc), L.splat(get(mf)))), L.store(per(mean), v(L, mu)), set(pick(L, acc), L.const(0))] },
      { perRow: [set(pick(L, d), L.sub(X(), v(L, mu))), set(pick(L, acc), L.add(v(L, acc), L.mul(v(L, d), v(L, d))))] },
      { once: [
        set(pick(L, acc), L.div(v(L, acc), L.splat(get(mf)))), // σ²
        L.store(per(variance), v(L, acc)),
        set(pick(L, rs), L.div(L.const(1), L.sqrt(L.add(v(L, acc), L.splat(get(eps)))))),
        L.store(per(rstd), v(L, rs)),
      ] },
      { perRow: affine
        ? [set(pick(L, d), h()), ...(storeXhat ? [L.store(C.at(xhat, off), v(L, d))] : []),
          L.store(C.at(y, off), L.add(L.mul(v(L, d), L.load(per(gamma))), L.load(per(beta))))]
        : [L.store(C.at(y, off), h())] },
    ];
  });
  f.body(
    set(mf, f32.convert_i32_s(get(rows))),
    branchOn(hasFlag(get(flags), BATCHNORM.AFFINE), (affine) => affine
      ? [branchOn(hasFlag(get(flags), BATCHNORM.XHAT), (storeXhat) => body(true, storeXhat))]
      : body(false, false)),
  );
}

/** batchNormBwd(x, dy, gamma, mean, rstd, dx, dgamma, dbeta, rows, n, c0, c1, flags) */
function emitBackward(m: ModuleBuilder): void {
  const f = m.func("batchNormBwd", Array<"i32">(13).fill("i32"));
  const [x, dy, gamma, mean, rstd, dx, dgamma, dbeta, rows, n, c0, c1, flags] = f.i32Params();
  const mf = f.local("f32");
  const MU = pairs(f), RS = pairs(f), D = pairs(f), TT = pairs(f), S = pairs(f), SD = pairs(f), SX = pairs(f), CC = pairs(f), K0 = pairs(f), K2 = pairs(f);
  const body = (affine: boolean) => columnLoops(f, rows, n, c0, c1, <T extends LaneType>(L: Lanes<T>, C: Column, off: I, g: number): Segment[] => {
    const mu = MU[g]!, rs = RS[g]!, d = D[g]!, t = TT[g]!, s = S[g]!, sd = SD[g]!, sx = SX[g]!, c = CC[g]!, k0 = K0[g]!, k2 = K2[g]!;
    const per = (base: Local<"i32">) => C.col(base, off), m_ = () => L.splat(get(mf));
    const put = (pair: LanePair, e: Expr<T>) => set(pick(L, pair), e);
    return [
      { once: [put(mu, L.load(per(mean))), put(rs, L.load(per(rstd))), put(s, L.const(0)), put(sd, L.const(0)), put(sx, L.const(0))] },
      { perRow: [
        put(d, L.sub(L.load(C.at(x, off)), v(L, mu))), put(t, L.load(C.at(dy, off))),
        put(s, L.add(v(L, s), v(L, t))), put(sd, L.add(v(L, sd), L.mul(v(L, t), v(L, d)))), put(sx, L.add(v(L, sx), v(L, d))),
      ] },
      { once: [
        put(sx, L.div(v(L, sx), m_())),                                       // δ
        put(sd, L.mul(v(L, rs), L.sub(v(L, sd), L.mul(v(L, sx), v(L, s))))), // Σdy·x̂
        ...(affine ? [L.store(per(dgamma), v(L, sd)), L.store(per(dbeta), v(L, s)), put(c, L.mul(L.load(per(gamma)), v(L, rs)))] : [put(c, v(L, rs))]),
        put(k0, L.div(L.mul(v(L, c), v(L, s)), m_())),
        put(k2, L.div(L.mul(L.mul(v(L, c), v(L, rs)), v(L, sd)), m_())),
        put(mu, L.add(v(L, mu), v(L, sx))),                                   // μ + δ
      ] },
      { perRow: [L.store(C.at(dx, off), L.sub(L.sub(L.mul(v(L, c), L.load(C.at(dy, off))), v(L, k0)),
        L.mul(L.sub(L.load(C.at(x, off)), v(L, mu)), v(L, k2))))] },
    ];
  });
  f.body(set(mf, f32.convert_i32_s(get(rows))), branchOn(hasFlag(get(flags), BATCHNORM.AFFINE), body));
}

export function emitBatchNorm(m: ModuleBuilder): void {
  emitForward(m);
  emitBackward(m);
}
