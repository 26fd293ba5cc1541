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
 * Row-major: each pass sweeps the rows in order, four at a time, left to right; a column's running
 * sums live in memory between groups of four rows (one load and one store per group) and its
 * constants are loaded once per group. Each column gets the same operations in the same order as
 * a loop down the column, so the same bits as the kernels before, which went down 16 columns at a
 * time with the sums in registers: there a row of 1024 floats put every row of the group in the
 * same L1 set (a 4 KiB stride) and each of the three passes missed. Kernels alone, before → now:
 * forward 278 → 140 µs at 256 × 1024, 34 → 23 at 128 × 512, 6.0 → 5.3 at 50 × 300; backward
 * 0.5–0.9× the time from 50 × 300 to 1024 × 512; within noise for 7 × 1100; tiny batches (64 × 3)
 * lose 0.2 µs. The columns go in blocks of BLOCK (their sums then stay in L1). Eight rows a group
 * spilled registers (1.3–2.3× slower); unrolling the columns gained nothing.
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
import { VEC, eachLane, lanePair, pick, type LanePair, type LaneType, type Lanes } from "./lanes.js";

/** STATS: the statistics alone, no y (its readers recompute it: compiler/passes/recomputeXhat.ts). */
export const BATCHNORM = { AFFINE: 1, XHAT: 2, STATS: 4 } as const;

type I = Expr<"i32">;

/** Columns per block: the per-column arrays of one block (≤ 7 × 2 KiB) stay in L1. */
const BLOCK = 512;
/** Bytes of scratch batchNormBwd needs (its seven per-column arrays of one block). */
export const BATCHNORM_SCRATCH_BYTES = 7 * BLOCK * 4;

/** Addresses inside a block's passes; `off` = 4·(column − b0), as eachLane gives it. */
interface Column {
  /** Per-column array: base[column]. */
  readonly col: (base: Local<"i32">, off: I) => I;
  /** X[r + k, column] inside a row pass, for row k of the group of rows being visited. */
  readonly at: (base: Local<"i32">, off: I, k: number) => I;
  /** Scratch array k's float for the column. */
  readonly tmp: (k: number, off: I) => I;
}

/**
 * A pass of a block: over its columns once, or over its rows in groups — `rows(R)` visits rows
 * r … r + R − 1 of a column in order, so a column's running sums are loaded and stored once per
 * group instead of once per row, and its constants loaded once.
 */
type Pass = { readonly once: Stmt[] } | { readonly rows: (R: number) => Stmt[] };

/** Rows per group of a row pass (then single rows for the rest). */
const R = 4;

function blockLoops(
  f: FuncBuilder, rows: Local<"i32">, n: Local<"i32">, c0: Local<"i32">, c1: Local<"i32">, scratch: Local<"i32"> | null,
  program: <T extends LaneType>(L: Lanes<T>, C: Column, off: I) => Pass[],
): Stmt[] {
  const b0 = f.local("i32"), w = f.local("i32"), r = f.local("i32"), rR = f.local("i32"), colBase = f.local("i32"), pitch = f.local("i32");
  const rowBase = f.locals("i32", R);
  const C: Column = {
    col: (base, off) => i32.add(i32.add(get(base), get(colBase)), off),
    at: (base, off, k) => i32.add(i32.add(get(base), get(rowBase[k]!)), off),
    tmp: (k, off) => i32.add(get(scratch!), displaced(off, k * BLOCK * 4)),
  };
  // Every pass emitted for both lane types by eachLane; pass k of the vector and scalar programs match.
  const kinds = program(VEC, C, i32.const(0)).map((p) => "once" in p);
  const sweep = (k: number, group: number) => eachLane(f, get(w), (L, off) => {
    const p = program(L, C, off)[k]!;
    return "once" in p ? p.once : p.rows(group);
  });
  const bases = (group: number) => Array.from({ length: group }, (_, k) =>
    set(rowBase[k]!, i32.add(get(colBase), i32.mul(i32.add(get(r), i32.const(k)), get(pitch)))));
  const loops = kinds.map((once, k) => once ? sweep(k, 1) : [
    forRange(r, i32.const(0), get(rR), R, ...bases(R), ...sweep(k, R)),
    forRange(r, get(rR), get(rows), 1, ...bases(1), ...sweep(k, 1)),
  ]);
  return [
    set(pitch, i32.shl(get(n), i32.const(2))),
    set(rR, i32.and(get(rows), i32.const(-R))),
    forRange(b0, get(c0), get(c1), BLOCK,
      set(w, i32.min_s(i32.const(BLOCK), i32.sub(get(c1), get(b0)))),
      set(colBase, i32.shl(get(b0), i32.const(2))),
      ...loops.flat()),
  ];
}

const v = <T extends LaneType>(L: Lanes<T>, pair: LanePair) => get(pick(L, pair));
/** g(k) for rows k = 0 … group − 1 of a row group, in order. */
const each = (group: number, g: (k: number) => Stmt[]): Stmt[] => Array.from({ length: group }, (_, k) => g(k)).flat();

/** batchNormFwd(x, y, gamma, beta, xhat, mean, rstd, variance, rows, n, c0, c1, eps: f32, flags) */
function emitForward(m: ModuleBuilder): void {
  const f = m.func("batchNormFwd", [...Array<"i32">(12).fill("i32"), "f32", "i32"]);
  const [x, y, gamma, beta, xhat, mean, rstd, variance, rows, n, c0, c1] = Array.from({ length: 12 }, (_, i) => f.param(i, "i32"));
  const eps = f.param(12, "f32"), flags = f.param(13, "i32");
  const mf = f.local("f32"), d = lanePair(f), q = lanePair(f), mu = lanePair(f), rs = lanePair(f), ga = lanePair(f), be = lanePair(f);
  // The running sums live in `variance`: Σx, then Σ(x − μ)², each divided by m in place.
  const body = (affine: boolean, storeXhat: boolean, stats = false) => blockLoops(f, rows, n, c0, c1, null, <T extends LaneType>(L: Lanes<T>, C: Column, off: I): Pass[] => {
    const X = (k: number) => L.load(C.at(x, off, k)), acc = C.col(variance, off);
    const put = (pair: LanePair, e: Expr<T>) => set(pick(L, pair), e);
    return [
      { once: [L.store(acc, L.const(0))] },
      { rows: (g) => [put(q, L.load(acc)), ...each(g, (k) => [put(q, L.add(v(L, q), X(k)))]), L.store(acc, v(L, q))] },
      { once: [L.store(C.col(mean, off), L.div(L.load(acc), L.splat(get(mf)))), L.store(acc, L.const(0))] },
      { rows: (g) => [put(mu, L.load(C.col(mean, off))), put(q, L.load(acc)),
        ...each(g, (k) => [put(d, L.sub(X(k), v(L, mu))), put(q, L.add(v(L, q), L.mul(v(L, d), v(L, d))))]), L.store(acc, v(L, q))] },
      { once: [
        put(q, L.div(L.load(acc), L.splat(get(mf)))), // σ²
        L.store(acc, v(L, q)),
        L.store(C.col(rstd, off), L.div(L.const(1), L.sqrt(L.add(v(L, q), L.splat(get(eps)))))),
      ] },
      ...(stats ? [] : [{ rows: (g: number) => [
        put(mu, L.load(C.col(mean, off))), put(rs, L.load(C.col(rstd, off))),
        ...(affine ? [put(ga, L.load(C.col(gamma, off))), put(be, L.load(C.col(beta, off)))] : []),
        ...each(g, (k) => {
          const h = L.mul(L.sub(X(k), v(L, mu)), v(L, rs));
          return affine
            ? [put(d, h), ...(storeXhat ? [L.store(C.at(xhat, off, k), v(L, d))] : []), L.store(C.at(y, off, k), L.add(L.mul(v(L, d), v(L, ga)), v(L, be)))]
            : [L.store(C.at(y, off, k), h)];
        }),
      ] }]),
    ];
  });
  f.body(
    set(mf, f32.convert_i32_s(get(rows))),
    branchOn(hasFlag(get(flags), BATCHNORM.STATS), (stats) => stats ? body(false, false, true) : [
      branchOn(hasFlag(get(flags), BATCHNORM.AFFINE), (affine) => affine
        ? [branchOn(hasFlag(get(flags), BATCHNORM.XHAT), (storeXhat) => body(true, storeXhat))]
        : body(false, false))]),
  );
}

/**
 * batchNormBwd(x, dy, gamma, mean, rstd, dx, dgamma, dbeta, rows, n, c0, c1, flags, scratch):
 * scratch holds BATCHNORM_SCRATCH_BYTES (16-byte aligned, this thread's).
 */
function emitBackward(m: ModuleBuilder): void {
  const f = m.func("batchNormBwd", Array<"i32">(14).fill("i32"));
  const [x, dy, gamma, mean, rstd, dx, dgamma, dbeta, rows, n, c0, c1, flags, scratch] = f.i32Params();
  const mf = f.local("f32"), d = lanePair(f), t = lanePair(f), rs = lanePair(f), sd = lanePair(f), c = lanePair(f), dl = lanePair(f);
  const s_ = lanePair(f), sx = lanePair(f), mu = lanePair(f), k0 = lanePair(f), k2 = lanePair(f);
  // Per column in scratch: Σdy, Σdy·(x − μ), Σ(x − μ), then c, k0, k2 and μ + δ for dx.
  const [S, SD, SX, CC, K0, K2, MU] = [0, 1, 2, 3, 4, 5, 6];
  const body = (affine: boolean) => blockLoops(f, rows, n, c0, c1, scratch, <T extends LaneType>(L: Lanes<T>, C: Column, off: I): Pass[] => {
    const m_ = () => L.splat(get(mf)), tmp = (k: number) => C.tmp(k, off), ld = (k: number) => L.load(tmp(k));
    const put = (pair: LanePair, e: Expr<T>) => set(pick(L, pair), e);
    return [
      { once: [L.store(tmp(S), L.const(0)), L.store(tmp(SD), L.const(0)), L.store(tmp(SX), L.const(0))] },
      { rows: (g) => [
        put(mu, L.load(C.col(mean, off))), put(s_, ld(S)), put(sd, ld(SD)), put(sx, ld(SX)),
        ...each(g, (k) => [
          put(d, L.sub(L.load(C.at(x, off, k)), v(L, mu))), put(t, L.load(C.at(dy, off, k))),
          put(s_, L.add(v(L, s_), v(L, t))), put(sd, L.add(v(L, sd), L.mul(v(L, t), v(L, d)))), put(sx, L.add(v(L, sx), v(L, d))),
        ]),
        L.store(tmp(S), v(L, s_)), L.store(tmp(SD), v(L, sd)), L.store(tmp(SX), v(L, sx)),
      ] },
      { once: [
        put(rs, L.load(C.col(rstd, off))),
        put(dl, L.div(ld(SX), m_())),                                    // δ
        put(sd, L.mul(v(L, rs), L.sub(ld(SD), L.mul(v(L, dl), ld(S))))), // Σdy·x̂
        ...(affine ? [L.store(C.col(dgamma, off), v(L, sd)), L.store(C.col(dbeta, off), ld(S)), put(c, L.mul(L.load(C.col(gamma, off)), v(L, rs)))] : [put(c, v(L, rs))]),
        L.store(tmp(CC), v(L, c)),
        L.store(tmp(K0), L.div(L.mul(v(L, c), ld(S)), m_())),
        L.store(tmp(K2), L.div(L.mul(L.mul(v(L, c), v(L, rs)), v(L, sd)), m_())),
        L.store(tmp(MU), L.add(L.load(C.col(mean, off)), v(L, dl))),   // μ + δ
      ] },
      { rows: (g) => [
        put(c, ld(CC)), put(k0, ld(K0)), put(k2, ld(K2)), put(mu, ld(MU)),
        ...each(g, (k) => [L.store(C.at(dx, off, k), L.sub(L.sub(L.mul(v(L, c), L.load(C.at(dy, off, k))), v(L, k0)),
          L.mul(L.sub(L.load(C.at(x, off, k)), v(L, mu)), v(L, k2))))]),
      ] },
    ];
  });
  f.body(set(mf, f32.convert_i32_s(get(rows))), branchOn(hasFlag(get(flags), BATCHNORM.AFFINE), body));
}

export function emitBatchNorm(m: ModuleBuilder): void {
  emitForward(m);
  emitBackward(m);
}
