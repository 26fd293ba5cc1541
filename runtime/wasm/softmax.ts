/**
 * Softmax cross-entropy, forward and backward in one pass over the logits Z[rows, c] with integer
 * labels (the fused form of log_softmax → one_hot → mul → sum → mean and its gradient):
 *
 *   m = max_j z_j,  s = Σ_j e^(z_j − m),  lse = m + ln s
 *   loss = lossScale · Σ_r (z_label − lse)                   (summed in float64; −1/rows for the mean)
 *   dZ_rj = (e^(z_j − m)·(1/s) − [j = label]) · scale         (scale = 1/rows for a mean loss)
 *
 * Shifting by the row maximum keeps every exponent ≤ 0, so e^x never overflows. e^(z − m) is
 * written into dZ on the first pass and turned into the gradient on the second. A label outside
 * [0, c) contributes nothing (the unfused graph's one-hot row of zeros).
 */
import type { ModuleBuilder } from "./builder.js";
import { f32, f64, forRange, get, i32, ifElse, set, type Expr } from "./emit.js";
import { scalarLanes, vecLanes, type FLanes } from "./fused-lanes.js";
import { expF, logF } from "./fused-math.js";
import { accInit, accLocals, accReduce, accUpdate, eachLane, lanePair, pick, pmax, setPair, sum, type LaneType, type Lanes } from "./lanes.js";

/** softmaxCrossEntropy(z, labels, loss, dz, r0, r1, c, scale: f32, lossScale: f64): loss is one float. */
export function emitSoftmaxCrossEntropy(m: ModuleBuilder): void {
  const f = m.func("softmaxCrossEntropy", ["i32", "i32", "i32", "i32", "i32", "i32", "i32", "f32", "f64"]);
  const [z, labels, loss, dz, r0, r1, c] = Array.from({ length: 7 }, (_, i) => f.param(i, "i32"));
  const scale = f.param(7, "f32"), lossScale = f.param(8, "f64");
  const r = f.local("i32"), rowZ = f.local("i32"), rowD = f.local("i32"), label = f.local("i32");
  const sTot = f.local("f32"), eL = f.local("f32"), lossSum = f.local("f64");
  const mx = accLocals(f, 4), total = accLocals(f, 2), mP = lanePair(f), sP = lanePair(f), scP = lanePair(f), e = lanePair(f);
  // e^x and ln x are the fused kernels' (fused-math.ts), on those kernels' lanes for this function.
  const vec = vecLanes(f), scalar = scalarLanes(f);
  const fl = <T extends LaneType>(L: Lanes<T>) => (L.type === "v128" ? vec : scalar) as unknown as FLanes<T, LaneType>;
  const at = (base: Expr<"i32">, off: Expr<"i32">) => i32.add(base, off);
  const lg = logF(scalar, get(sTot)), rowMax = accReduce(mx, pmax), rowSum = accReduce(total, sum);
  f.body(
    ...setPair(scP, get(scale)),
    set(lossSum, f64.const(0)),
    forRange(r, get(r0), get(r1), 1,
      set(rowZ, i32.add(get(z), i32.mul(get(r), i32.shl(get(c), i32.const(2))))),
      set(rowD, i32.add(get(dz), i32.mul(get(r), i32.shl(get(c), i32.const(2))))),
      set(label, i32.load(i32.add(get(labels), i32.shl(get(r), i32.const(2))))),
      // A label outside [0, c) selects nothing: the row adds no loss and gets a zero gradient,
      // as the reference's one-hot row of zeros gives (never a read outside the row).
      ifElse(i32.and(i32.ge_s(get(label), i32.const(0)), i32.lt_s(get(label), get(c))), [
        // Pass 1: the row maximum (vector lanes reduced, then the tail).
        ...accInit(mx, -Infinity),
        ...eachLane(f, get(c), (L, off, slot) => [accUpdate(L, mx, slot, L.pmax, L.load(at(get(rowZ), off)))], 4),
        ...rowMax.setup, ...setPair(mP, rowMax.value),
        // Pass 2: e = e^(z − m) into dZ, s = Σ e.
        ...accInit(total, 0),
        ...eachLane(f, get(c), (L, off, slot) => {
          const ex = expF(fl(L), L.sub(L.load(at(get(rowZ), off)), get(pick(L, mP))), "nonPositive"); // z − max ≤ 0
          return [
            ...ex.setup, set(pick(L, e), ex.value),
            L.store(at(get(rowD), off), get(pick(L, e))),
            accUpdate(L, total, slot, L.add, get(pick(L, e))),
          ];
        }, 2),
        ...rowSum.setup, set(sTot, rowSum.value),
        ...lg.setup,
        // z_label − lse, with lse = m + ln s rounded once to f32 as the per-row value.
        set(lossSum, f64.add(get(lossSum), f64.promote_f32(
          f32.sub(f32.load(at(get(rowZ), i32.shl(get(label), i32.const(2)))), f32.add(get(mP.f32), lg.value))))),
        set(eL, f32.load(at(get(rowD), i32.shl(get(label), i32.const(2))))),
        // Pass 3: dZ = (e · (1/s) − onehot) · scale; one division per row, not per element. The
        // label's element is fixed up after the loop.
        ...setPair(sP, f32.div(f32.const(1), get(sTot))),
        ...eachLane(f, get(c), (L, off) => [
          L.store(at(get(rowD), off), L.mul(L.mul(L.load(at(get(rowD), off)), get(pick(L, sP))), get(pick(L, scP)))),
        ], 4),
        f32.store(at(get(rowD), i32.shl(get(label), i32.const(2))),
          f32.mul(f32.sub(f32.mul(get(eL), get(sP.f32)), f32.const(1)), get(scale))),
      ], eachLane(f, get(c), (L, off) => [L.store(at(get(rowD), off), L.const(0))], 4)),
    ),
    f32.store(get(loss), f32.demote_f64(f64.mul(get(lossSum), get(lossScale)))),
  );
}
