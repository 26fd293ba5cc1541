/**
 * Layer normalization over the rows of X[rows, n], forward and backward, fused with the affine
 * y = x̂·γ + β, over rows [r0, r1) (kiln calls it on all rows, on one thread: see
 * runtime/kernels/norm.ts; each row is independent, and dγ/dβ accumulate over the range).
 *
 * Forward, per row (two passes for the variance, as the reference does, so it stays accurate
 * when |mean| ≫ std):
 *   μ = Σx / n,   σ² = Σ(x − μ)² / n,   rstd = 1/√(σ² + ε),   x̂ = (x − μ)·rstd,   y = x̂·γ + β
 * and μ, rstd, σ² are stored per row (the op's statistics outputs), x̂ too with XHAT (when
 * something besides the affine reads it, e.g. a loss right after the layerNorm).
 *
 * Backward, with g = dy·γ (the gradient reaching x̂):
 *   dx = rstd · (g − mean(g) − x̂·mean(g·x̂)),   dγ += Σ_rows dy·x̂,   dβ += Σ_rows dy
 * One pass gathers mean(g), mean(g·x̂) and the parameter gradients; a second writes dx (the row
 * is in L1 by then). x̂ is recomputed from x, μ, rstd rather than stored.
 */
import type { FuncBuilder, ModuleBuilder } from "./builder.js";
import { branchOn, f32, f64, forRange, get, hasFlag, i32, set, when, type Expr, type Local, type Stmt } from "./emit.js";
import { blockedSum } from "./reduce.js";
import {
  accInit, accLocals, accReduce, accUpdate, eachLane, lanePair, pick, setPair, sum, type Acc, type LanePair, type LaneType, type Lanes,
} from "./lanes.js";

/** STATS: the statistics alone, no y (its readers recompute it: compiler/passes/recomputeXhat.ts). */
export const LAYERNORM = { AFFINE: 1, PARAM_GRADS: 2, ZERO_PARAM_GRADS: 4, XHAT: 8, STATS: 16 } as const;

type I = Expr<"i32">;

/** Row loops are unrolled 4 vectors deep, with an accumulator per vector for the sums. */
const U = 4;
const add = <T extends LaneType>(L: Lanes<T>, acc: Acc, slot: number, x: Expr<T>): Stmt => accUpdate(L, acc, slot, L.add, x);
/** Statements that set `out` to Σ acc / n. */
const meanOf = (acc: Acc, out: LanePair, nf: Local<"f32">): Stmt[] => {
  const r = accReduce(acc, sum);
  return [...r.setup, ...setPair(out, f32.div(r.value, get(nf)))];
};

/** layerNormFwd(x, y, gamma, beta, xhat, mean, rstd, variance, r0, r1, n, eps: f32, flags) */
function emitForward(m: ModuleBuilder): FuncBuilder {
  const f = m.func("layerNormFwd", ["i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32", "f32", "i32"]);
  const [x, y, gamma, beta, xh, mean, rstd, variance, r0, r1, n] = Array.from({ length: 11 }, (_, i) => f.param(i, "i32"));
  const eps = f.param(11, "f32"), flags = f.param(12, "i32");
  const r = f.local("i32"), rowX = f.local("i32"), rowY = f.local("i32"), rowH = f.local("i32"), total = f.local("f64");
  const mu = lanePair(f), rs = lanePair(f), d = lanePair(f);
  const at = (base: I, off: I) => i32.add(base, off);
  const xMinusMu = <T extends LaneType>(L: Lanes<T>, off: I) => L.sub(L.load(at(get(rowX), off)), get(pick(L, mu)));
  // y = x̂ or x̂·γ + β; x̂ goes through a local so a stored x̂ and the one scaled for y are the same bits.
  const normalizeRow = (affine: boolean, keep: boolean) => eachLane(f, get(n), (L, off) => {
    if (!affine) return [L.store(at(get(rowY), off), L.mul(xMinusMu(L, off), get(pick(L, rs))))];
    return [
      set(pick(L, d), L.mul(xMinusMu(L, off), get(pick(L, rs)))),
      ...(keep ? [L.store(at(get(rowH), off), get(pick(L, d)))] : []),
      L.store(at(get(rowY), off), L.add(L.mul(get(pick(L, d)), L.load(at(get(gamma), off))), L.load(at(get(beta), off)))),
    ];
  }, U);
  f.body(
    forRange(r, get(r0), get(r1), 1,
      set(rowX, i32.add(get(x), i32.mul(get(r), i32.shl(get(n), i32.const(2))))),
      set(rowY, i32.add(get(y), i32.mul(get(r), i32.shl(get(n), i32.const(2))))),
      set(rowH, i32.add(get(xh), i32.mul(get(r), i32.shl(get(n), i32.const(2))))),
      // Row sums in float32 blocks added in float64 (reduce.ts blockedSum): exact enough for the
      // widest rows (2^24) as well as the narrow ones.
      ...blockedSum(f, get(n), total, (L, off, addTerm) => [addTerm(L.load(at(get(rowX), off)))]),
      ...setPair(mu, f32.demote_f64(f64.div(get(total), f64.convert_i32_s(get(n))))),
      ...blockedSum(f, get(n), total, (L, off, addTerm) => [set(pick(L, d), xMinusMu(L, off)), addTerm(L.mul(get(pick(L, d)), get(pick(L, d))))]),
      ...setPair(rs, f32.demote_f64(f64.div(get(total), f64.convert_i32_s(get(n))))), // σ², then rstd = 1/√(σ² + ε)
      f32.store(i32.add(get(variance), i32.shl(get(r), i32.const(2))), get(rs.f32)),
      ...setPair(rs, f32.div(f32.const(1), f32.sqrt(f32.add(get(rs.f32), get(eps))))),
      f32.store(i32.add(get(mean), i32.shl(get(r), i32.const(2))), get(mu.f32)),
      f32.store(i32.add(get(rstd), i32.shl(get(r), i32.const(2))), get(rs.f32)),
      when(i32.eqz(hasFlag(get(flags), LAYERNORM.STATS)), branchOn(hasFlag(get(flags), LAYERNORM.AFFINE), (affine) => affine
        ? [branchOn(hasFlag(get(flags), LAYERNORM.XHAT), (keep) => normalizeRow(true, keep))]
        : normalizeRow(false, false))),
    ),
  );
  return f;
}

/** layerNormBwd(x, dy, gamma, mean, rstd, dx, dgamma, dbeta, r0, r1, n, flags) */
function emitBackward(m: ModuleBuilder): FuncBuilder {
  const f = m.func("layerNormBwd", Array<"i32">(12).fill("i32"));
  const [x, dy, gamma, mean, rstd, dx, dgamma, dbeta, r0, r1, n, flags] = f.i32Params();
  const r = f.local("i32"), off0 = f.local("i32"), nf = f.local("f32");
  const rowX = f.local("i32"), rowDy = f.local("i32"), rowDx = f.local("i32");
  const mu = lanePair(f), rs = lanePair(f), mg = lanePair(f), mgx = lanePair(f);
  const sg = accLocals(f, U), sgx = accLocals(f, U);
  const xh = lanePair(f), g = lanePair(f);
  const at = (base: I, off: I) => i32.add(base, off);
  // x̂ and g for one step, into the xh / g locals of the lane type.
  const xhatAndG = <T extends LaneType>(L: Lanes<T>, off: I, affine: boolean): Stmt[] => [
    set(pick(L, xh), L.mul(L.sub(L.load(at(get(rowX), off)), get(pick(L, mu))), get(pick(L, rs)))),
    set(pick(L, g), affine ? L.mul(L.load(at(get(rowDy), off)), L.load(at(get(gamma), off))) : L.load(at(get(rowDy), off))),
  ];
  const rowStats = (affine: boolean, params: boolean) => eachLane(f, get(n), (L, off, slot) => [
    ...xhatAndG(L, off, affine),
    add(L, sg, slot, get(pick(L, g))),
    add(L, sgx, slot, L.mul(get(pick(L, g)), get(pick(L, xh)))),
    ...(params ? [
      L.store(at(get(dgamma), off), L.add(L.load(at(get(dgamma), off)), L.mul(L.load(at(get(rowDy), off)), get(pick(L, xh))))),
      L.store(at(get(dbeta), off), L.add(L.load(at(get(dbeta), off)), L.load(at(get(rowDy), off)))),
    ] : []),
  ], U);
  f.body(
    set(nf, f32.convert_i32_s(get(n))),
    branchOn(hasFlag(get(flags), LAYERNORM.ZERO_PARAM_GRADS), (zero) => zero ? eachLane(f, get(n), (L, off) => [
      L.store(at(get(dgamma), off), L.const(0)), L.store(at(get(dbeta), off), L.const(0)),
    ], U) : []),
    forRange(r, get(r0), get(r1), 1,
      set(off0, i32.mul(get(r), i32.shl(get(n), i32.const(2)))),
      set(rowX, at(get(x), get(off0))), set(rowDy, at(get(dy), get(off0))), set(rowDx, at(get(dx), get(off0))),
      ...setPair(mu, f32.load(at(get(mean), i32.shl(get(r), i32.const(2))))),
      ...setPair(rs, f32.load(at(get(rstd), i32.shl(get(r), i32.const(2))))),
      ...accInit(sg, 0), ...accInit(sgx, 0),
      branchOn(hasFlag(get(flags), LAYERNORM.AFFINE), (affine) => [
        branchOn(hasFlag(get(flags), LAYERNORM.PARAM_GRADS), (params) => rowStats(affine, params)),
        ...meanOf(sg, mg, nf),
        ...meanOf(sgx, mgx, nf),
        ...eachLane(f, get(n), (L, off) => [
          ...xhatAndG(L, off, affine),
          L.store(at(get(rowDx), off), L.mul(L.sub(L.sub(get(pick(L, g)), get(pick(L, mg))), L.mul(get(pick(L, xh)), get(pick(L, mgx)))), get(pick(L, rs)))),
        ], U),
      ]),
    ),
  );
  return f;
}

export function emitLayerNorm(m: ModuleBuilder): void {
  emitForward(m);
  emitBackward(m);
}
