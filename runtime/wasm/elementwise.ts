/**
 * Elementwise SIMD kernels and the typed bindings of every non-matmul export. Each kernel is one
 * loop over byte-offset buffers, written lane-generically (lanes.ts) so the vector body and the
 * scalar tail compute identical bits. Where the unfused graph computes the same formula op by op
 * in float32 (relu, bias add, the SGD update), the fused kernel performs the same IEEE operations
 * in the same order, so it reproduces the reference kernels bit for bit.
 */
import type { FuncBuilder, ModuleBuilder } from "./builder.js";
import { block, branchOn, brIf, f32, forRange, get, hasFlag, i32, loop, set, stmt, type Expr, type Local, type Stmt } from "./emit.js";
import { SCALAR, VEC, accInit, accLocals, accReduce, accUpdate, eachLane, lanePair, pick, sum, type LaneType, type Lanes } from "./lanes.js";
import { BATCHNORM, BATCHNORM_SCRATCH_BYTES, emitBatchNorm } from "./batchnorm.js";
import { LAYERNORM, emitLayerNorm } from "./norm.js";
import { emitSoftmaxCrossEntropy } from "./softmax.js";

export { BATCHNORM, BATCHNORM_SCRATCH_BYTES, LAYERNORM };
export const SGD = { WEIGHT_DECAY: 1, MOMENTUM: 2, NESTEROV: 4 } as const;

type I = Expr<"i32">;
const at = (base: I, off: I) => i32.add(base, off);
const i32s = (f: FuncBuilder, n: number): Local<"i32">[] => Array.from({ length: n }, (_, i) => f.param(i, "i32"));

/** A loop over rows of a [rows, n] matrix: `body` gets the row's byte offset. */
function eachRow(f: FuncBuilder, rows: I, n: I, body: (rowOff: I) => Stmt[]): Stmt {
  const r = f.local("i32"), off = f.local("i32");
  return forRange(r, i32.const(0), rows, 1, set(off, i32.mul(get(r), i32.shl(n, i32.const(2)))), ...body(get(off)));
}

export function emitElementwise(m: ModuleBuilder): void {
  // relu(x, y, n): y = pmax(x, 0) = x < 0 ? 0 : x (NaN and −0 stay, as PyTorch's and the reference's).
  {
    const f = m.func("relu", ["i32", "i32", "i32"]);
    const [x, y, n] = i32s(f, 3);
    f.body(...eachLane(f, get(n), (L, off) => [L.store(at(get(y), off), L.pmax(L.load(at(get(x), off)), L.const(0)))], 4));
  }
  // reluBackward(dy, x, dx, n): dx = x ≤ 0 ? 0 : dy (PyTorch's threshold_backward: a NaN x passes
  // dy; the reference's dy·step(x) except that a NaN dy at x ≤ 0 gives 0 here, NaN there).
  {
    const f = m.func("reluBackward", ["i32", "i32", "i32", "i32"]);
    const [dy, x, dx, n] = i32s(f, 4);
    f.body(...eachLane(f, get(n), (L, off) => [L.store(at(get(dx), off), L.reluGate(L.load(at(get(x), off)), L.load(at(get(dy), off))))], 4));
  }
  // addBias(x, bias, y, rows, n): y[r, j] = x[r, j] + bias[j].
  {
    const f = m.func("addBias", ["i32", "i32", "i32", "i32", "i32"]);
    const [x, bias, y, rows, n] = i32s(f, 5);
    f.body(eachRow(f, get(rows), get(n), (row) => eachLane(f, get(n), (L, off) => [
      L.store(at(at(get(y), row), off), L.add(L.load(at(at(get(x), row), off)), L.load(at(get(bias), off)))),
    ], 4)));
  }
  // colSum(x, y, rows, n, accumulate): y[j] (=|+=) Σ_r x[r, j], rows in order (the bias gradient).
  {
    const f = m.func("colSum", ["i32", "i32", "i32", "i32", "i32"]);
    const [x, y, rows, n, acc] = i32s(f, 5);
    f.body(
      branchOn(get(acc), (keep) => keep ? [] : eachLane(f, get(n), (L, off) => [L.store(at(get(y), off), L.const(0))])),
      eachRow(f, get(rows), get(n), (row) => eachLane(f, get(n), (L, off) => [
        L.store(at(get(y), off), L.add(L.load(at(get(y), off)), L.load(at(at(get(x), row), off)))),
      ], 4)),
    );
  }
  // allFinite(x, n) → 1 if no element is NaN or ±∞, else 0: x·0 is ±0 exactly for finite x and
  // NaN otherwise, and a sum of zeros stays 0 while one NaN makes it NaN. (Input validation: a
  // JavaScript loop over a Float32Array costs ~2 ns per element, this ~0.05.) A product, not
  // x − x: the sum's additions then share no pipe with it (x86 cores issue vector multiplies and
  // adds on separate pipes): 23 → 18.5 µs per MB in cache, before zeroSumCheck's own loop.
  zeroSumCheck(m, "allFinite", (L, v) => L.mul(v(), L.const(0)));
  // allUnit(x, n) → 1 if every element is in [0, 1], else 0 (NaN fails): v − pmax(v, 0) is v's
  // negative part and (1 − v) − pmax(1 − v, 0) its excess over 1, both exactly 0 in range and
  // ≤ 0 (or NaN, for NaN and ±∞) outside; a sum of terms ≤ 0 is 0 only if every term is.
  // (binaryCrossEntropy's targets, checked at memory speed like allFinite's.)
  zeroSumCheck(m, "allUnit", (L, v) => {
    const over = () => L.sub(L.const(1), v());
    return L.add(L.sub(v(), L.pmax(v(), L.const(0))), L.sub(over(), L.pmax(over(), L.const(0))));
  });
  emitSgd(m);
  emitLayerNorm(m);
  emitBatchNorm(m);
  emitSoftmaxCrossEntropy(m);
}

/**
 * sgd(w, g, v, n, lr, momentum, weightDecay, flags): PyTorch's SGD, in the op order of
 * src/optim/sgd.ts so the fused update equals the unfused graph bit for bit:
 *   d = g + w·λ (WEIGHT_DECAY);  v = v·μ + d;  dir = NESTEROV ? d + v·μ : v;  w = w − dir·lr
 * and without MOMENTUM simply w = w − d·lr (v untouched).
 */
function emitSgd(m: ModuleBuilder): void {
  const f = m.func("sgd", ["i32", "i32", "i32", "i32", "f32", "f32", "f32", "i32"]);
  const [w, g, v, n] = i32s(f, 4);
  const lr = f.param(4, "f32"), mu = f.param(5, "f32"), wd = f.param(6, "f32"), flags = f.param(7, "i32");
  const dP = lanePair(f);
  const update = (decay: boolean, momentum: boolean, nesterov: boolean) => eachLane(f, get(n), <T extends LaneType>(L: Lanes<T>, off: I) => {
    const W = () => L.load(at(get(w), off)), V = () => L.load(at(get(v), off)), G = () => L.load(at(get(g), off));
    const d = pick(L, dP), s = (x: Local<"f32">) => L.splat(get(x));
    const setD = set(d, decay ? L.add(G(), L.mul(W(), s(wd))) : G());
    if (!momentum) return [setD, L.store(at(get(w), off), L.sub(W(), L.mul(get(d), s(lr))))];
    // v is stored, then re-read for the direction (the load is cheaper than another local).
    const dir = nesterov ? L.add(get(d), L.mul(V(), s(mu))) : V();
    return [setD, L.store(at(get(v), off), L.add(L.mul(V(), s(mu)), get(d))), L.store(at(get(w), off), L.sub(W(), L.mul(dir, s(lr))))];
  }, 4);
  f.body(branchOn(hasFlag(get(flags), SGD.WEIGHT_DECAY), (decay) => [
    branchOn(hasFlag(get(flags), SGD.MOMENTUM), (momentum) => momentum
      ? [branchOn(hasFlag(get(flags), SGD.NESTEROV), (nesterov) => update(decay, true, nesterov))]
      : update(decay, false, false)),
  ]));
}

/**
 * `name(x, n)` → 1 if the terms `term` makes of the n floats at x (each 0 for a good value, and
 * NaN or of one sign for a bad one) sum to exactly 0, else 0: a check at memory speed. (The
 * order of the sum does not matter: zeros, or terms of one sign, or a NaN.)
 *
 * Its own loop rather than eachLane's: a pointer stepping 128 bytes, eight loads at constant
 * offsets from it (which V8 folds into the address, where eachLane's i·4 + 16u costs a `lea`
 * each) and eight accumulators. The check runs on every batch a program reads; per MB of data in
 * cache, allFinite took 18.5 µs in eachLane's four-vector loop and 13 µs in this one (W4p's
 * net.gradients, 2 MB of x and targets a call: 315 → 299 µs).
 */
function zeroSumCheck(m: ModuleBuilder, name: string, term: <T extends LaneType>(L: Lanes<T>, v: () => Expr<T>) => Expr<T>): void {
  const f = m.func(name, ["i32", "i32"], ["i32"]);
  const [x, n] = i32s(f, 2);
  const U = 8;
  const acc = accLocals(f, U), total = accReduce(acc, sum);
  const p = f.local("i32"), end = f.local("i32");
  const c = i32.const;
  // while (p < end) { body; p += step } with unsigned addresses (a memory may pass 2 GiB).
  const walk = (step: number, body: Stmt[]): Stmt => block(
    brIf(0, i32.ge_u(get(p), get(end))),
    loop(...body, set(p, i32.add(get(p), c(step))), brIf(0, i32.lt_u(get(p), get(end)))));
  const endAt = (floats: Expr<"i32">) => set(end, at(get(x), i32.shl(floats, c(2))));
  f.body(
    ...accInit(acc, 0),
    set(p, get(x)),
    endAt(i32.and(get(n), c(-4 * U))),
    walk(16 * U, Array.from({ length: U }, (_, u) => accUpdate(VEC, acc, u, VEC.add, term(VEC, () => VEC.load(get(p), 16 * u))))),
    endAt(i32.and(get(n), c(-4))),
    walk(16, [accUpdate(VEC, acc, 0, VEC.add, term(VEC, () => VEC.load(get(p))))]),
    endAt(get(n)),
    walk(4, [accUpdate(SCALAR, acc, 0, SCALAR.add, term(SCALAR, () => SCALAR.load(get(p))))]),
    ...total.setup,
    stmt(f32.eq(total.value, f32.const(0))), // the function's result, left on the stack
  );
}
