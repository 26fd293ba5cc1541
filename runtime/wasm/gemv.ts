/**
 * One row times a transposed matrix, for batch-1 linear layers (a single sample's predict):
 *
 *   y[0..n] = act(x[0..k] · W[0..n, 0..k]ᵀ + bias)      W row-major with row pitch ldw (floats)
 *
 * The sgemm would pack all of W (a transposed panel: 4×4 register transposes, stored) on every
 * call and then run 4-row micro-kernel tiles with one row in use. Here the same transposes feed
 * the multiply-adds straight from registers and nothing is stored: W is read once, in place
 * (a cache of packed weights could not know when a caller writes Net.params in place).
 *
 * Bits: each y[j] is computed exactly as the sgemm computes row 0 of Y (microkernel.ts), so a
 * sample predicted alone equals its row of a batch, bit for bit: Σ over KC blocks in order, each
 * block summed from +0 with k = 0, 1, … in one f32x4 lane by the module's multiply-add (fused or
 * not, the same `madd` as the micro-kernel), the block sums added left to right (Y + acc), then
 * + bias, then relu as pmax(·, 0) (NaN stays NaN, as the micro-kernel's and PyTorch's relu).
 *
 * Lanes are four consecutive outputs j; a group reads four rows of W four k at a time and
 * transposes them (pack.ts's transpose4) into four vectors W[j..j+3, k+i]. The chain through k
 * is sequential per lane, so one group's multiply-adds wait on each other (latency 4 cycles);
 * GEMV_GROUPS groups run side by side to hide it. The last partial group recomputes the four rows
 * n−4..n−1 (same bits, written again), so n ≥ 4 is required: callers use the sgemm below that.
 *
 * With GEMV_DIRECT the matrix is B[k, n] row-major (a batch-1 input gradient, dy·W): a group's
 * four outputs are four consecutive floats of row k, loaded as they are, no transpose. And
 * gemvOuter is the K = 1 product (a batch-1 weight gradient). A batch-1 train step of W2's model,
 * one thread, interleaved runs on the shared machine: 363–365 µs best against 663–1011 with the
 * sgemm for all three.
 */
import type { FuncBuilder, ModuleBuilder } from "./builder.js";
import { brIf, call, callValue, f32x4, forRange, get, hasFlag, i32, i32x4, ifElse, loop, select, set, v128, when, type Local, type Stmt } from "./emit.js";
import { EPI } from "./microkernel.js";
import { transpose4 } from "./pack.js";
import type { SgemmConfig } from "./sgemm.js";
import { emitFiniteBlock } from "./sgemm-check.js";

/**
 * Groups of 4 outputs computed side by side in the main pass. Measured (784→512 and 512→512,
 * FMA module, best of 61 on a shared 2-core EPYC): 1 group 172 µs, 2: 140, 3: 100, 4: 88, 5: 105,
 * 6: 112, 8: 142 (V8 keeps every hoisted row load live: more groups spill); the sgemm takes 197
 * and a bare read of both matrices (allFinite) 57.
 */
export const GEMV_GROUPS = 4;

const c = i32.const, add = i32.add, mul = i32.mul;

/** gemv's flag (beside EPI.BIAS and EPI.RELU) for B[k, n] row-major instead of W[n, k]. */
export const GEMV_DIRECT = 64;

/**
 * `gemvRows<G>(x, w, ldwBytes, k, y, bias, epi)`: outputs y[0..4G) from rows w, w + ldwBytes, …
 * (byte addresses), epilogue flags as the micro-kernel's EPI (BIAS, RELU; never ACCUMULATE).
 */
function emitRows(m: ModuleBuilder, G: number, cfg: SgemmConfig, direct: boolean): FuncBuilder {
  const f = m.func(`gemvRows${G}${direct ? "d" : "t"}${cfg.fma ? "_fma" : ""}`, ["i32", "i32", "i32", "i32", "i32", "i32", "i32"], [], false);
  const [x, w, ld, k, y, bias, epi] = f.i32Params();
  const KC = cfg.block.KC;
  const madd = cfg.fma ? f32x4.relaxed_madd : f32x4.madd;
  const pc = f.local("i32"), kk = f.local("i32"), end = f.local("i32"), end4 = f.local("i32");
  // Byte offset of row r of the group from w (loop-invariant: r·ld).
  const rowOff = f.locals("i32", 4 * G);
  const sum = f.locals("v128", G), acc = f.locals("v128", G);
  const xs = f.locals("v128", 4), r = f.locals("v128", 4), t = f.locals("v128", 4);
  const at = (row: number, byte: Local<"i32">) => add(add(get(w), get(rowOff[row]!)), get(byte));
  const kb = f.local("i32"); // 4·kk
  const q = f.local("i32"); // the row being read: w + kb, then one pitch further per row
  const tr = transpose4(r, t);

  // Four k's: x[k..k+3] broadcast once, then per group 4 row loads, a transpose, 4 multiply-adds.
  const four: Stmt[] = [
    set(kb, mul(get(kk), c(4))),
    ...xs.map((v, i) => set(v, v128.load32_splat(add(get(x), get(kb)), 4 * i))),
    set(q, add(get(w), get(kb))),
    ...sum.flatMap((_, g) => [
      // Each row's address one pitch after the last (an add per row): the 4G row offsets as
      // loop invariants did not fit in registers (V8 reloaded each from the stack, then added).
      ...r.flatMap((rv, i) => [set(rv, v128.load(get(q))), ...(4 * g + i < 4 * G - 1 ? [set(q, add(get(q), get(ld)))] : [])]),
      ...tr.setup,
      ...tr.cols.map((col, i) => set(acc[g]!, madd(get(xs[i]!), col, get(acc[g]!)))),
      // A scheduling fence, not a result: V8 (TurboFan) keeps loads in program order but sinks
      // the arithmetic to the end of the loop body, so without an effect after each group all
      // 4G row loads are live at once and spill. A store of the group's partial sums to its own
      // outputs (rewritten with the final values below; y never overlaps x or W: the planner
      // aliases elementwise ops only) makes the group's shuffles and multiply-adds run before
      // the next group's loads: 88 → 75 µs for W2's two layers (784→512, 512→512), one thread.
      v128.store(get(y), get(acc[g]!), 16 * g),
    ]),
  ];
  // One k (the tail of K mod 4): the column W[j..j+3, k] assembled lane by lane (bit moves).
  const one: Stmt[] = [
    set(kb, mul(get(kk), c(4))),
    set(xs[0]!, v128.load32_splat(add(get(x), get(kb)))),
    ...sum.map((_, g) => {
      const lane = (i: number) => i32.load(at(4 * g + i, kb));
      const col = i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(lane(0)), 1, lane(1)), 2, lane(2)), 3, lane(3));
      return set(acc[g]!, madd(get(xs[0]!), col, get(acc[g]!)));
    }),
  ];

  // Direct layout (B[k, n] row-major): the group's columns are 4G consecutive floats of row k.
  const oneDirect: Stmt[] = [
    set(xs[0]!, v128.load32_splat(add(get(x), mul(get(kk), c(4))))),
    set(kb, add(get(w), mul(get(kk), get(ld)))),
    ...sum.map((_, g) => set(acc[g]!, madd(get(xs[0]!), v128.load(get(kb), 16 * g), get(acc[g]!)))),
  ];
  const blockLoops = direct ? [forRange(kk, get(pc), get(end), 1, ...oneDirect)]
    : [forRange(kk, get(pc), get(end4), 4, ...four), forRange(kk, get(end4), get(end), 1, ...one)];

  f.body(
    ...rowOff.map((o, i) => set(o, mul(get(ld), c(i)))),
    set(pc, c(0)),
    // do … while (pc < k), like the sgemm: K = 0 still gives y = 0 (+ bias, relu).
    loop(
      set(end, i32.min_s(add(get(pc), c(KC)), get(k))),
      set(end4, add(get(pc), i32.and(i32.sub(get(end), get(pc)), c(-4)))),
      ...acc.map((a) => set(a, v128.zero())),
      ...blockLoops,
      // The first block's sum is Y; each later block is added to it (the micro-kernel's C + acc).
      ...sum.map((s, g) => ifElse(i32.eqz(get(pc)), [set(s, get(acc[g]!))], [set(s, f32x4.add(get(s), get(acc[g]!)))])),
      set(pc, add(get(pc), c(KC))),
      brIf(0, i32.lt_s(get(pc), get(k))),
    ),
    when(hasFlag(get(epi), EPI.BIAS), ...sum.map((s, g) => set(s, f32x4.add(get(s), v128.load(get(bias), 16 * g))))),
    when(hasFlag(get(epi), EPI.RELU), ...sum.map((s) => set(s, f32x4.pmax(get(s), v128.zero())))),
    ...sum.map((s, g) => v128.store(get(y), get(s), 16 * g)),
  );
  return f;
}

/**
 * Emit `gemv(epi, n, k, x, w, ldw, y, bias, check)`: y[0..n] as above (n ≥ 4; ldw in floats; bias
 * read only with EPI.BIAS). check: 0, or the byte address of an i32 set to 1 if a value of y is
 * NaN or ±∞ (checkNumerics: y read back right after this thread stored it, while it is in L1;
 * sgemm-check.ts), else left alone. Exported.
 */
export function emitGemv(m: ModuleBuilder, cfg: SgemmConfig): FuncBuilder {
  const f = m.func("gemv", Array<"i32">(9).fill("i32"));
  const [epi, n, k, x, w, ldw, y, bias, check] = f.i32Params();
  const j = f.local("i32"), ld = f.local("i32");
  const finite = emitFiniteBlock(m);
  const step = 4 * GEMV_GROUPS;
  const outputs = (direct: boolean): Stmt[] => {
    const wide = emitRows(m, GEMV_GROUPS, cfg, direct), narrow = emitRows(m, 1, cfg, direct);
    // Outputs j.. start at row j of W (transposed) or at column j of B (direct).
    const rows = (fn: FuncBuilder, row: Local<"i32">) =>
      call(fn, get(x), add(get(w), mul(get(row), direct ? c(4) : get(ld))), get(ld), get(k), add(get(y), mul(get(row), c(4))),
        add(get(bias), mul(get(row), c(4))), get(epi));
    return [
      when(i32.ge_s(get(n), c(step)), forRange(j, c(0), i32.sub(get(n), c(step - 1)), step, rows(wide, j))),
      // j is the first output not done; finish by fours, the last four ending at n.
      when(i32.lt_s(get(j), get(n)), loop(
        set(j, select(get(j), i32.sub(get(n), c(4)), i32.le_s(add(get(j), c(4)), get(n)))),
        rows(narrow, j),
        set(j, add(get(j), c(4))),
        brIf(0, i32.lt_s(get(j), get(n))),
      )),
    ];
  };
  f.body(
    set(ld, mul(get(ldw), c(4))),
    set(j, c(0)),
    ifElse(hasFlag(get(epi), GEMV_DIRECT), outputs(true), outputs(false)),
    when(i32.ne(get(check), c(0)), when(i32.eqz(callValue("i32", finite, get(y), c(0), c(1), get(n))), i32.store(get(check), c(1)))),
  );
  emitOuter(m, cfg);
  return f;
}

/**
 * Emit `gemvOuter(epi, m0, m1, n, a, b, y, ldy, bias)`: rows [m0, m1) of the K = 1 product
 * Y = a·b (+ bias) (relu), a column times a row (a batch-1 weight gradient, dYᵀ·x). With K = 1
 * every layout of A and B is a contiguous vector. Bits as the micro-kernel's single k step:
 * madd(splat a[i], b[j..j+3], +0), + bias, pmax(0, ·); n ≥ 4 (the last four columns end at n,
 * recomputed where they overlap). Exported.
 */
function emitOuter(m: ModuleBuilder, cfg: SgemmConfig): void {
  const f = m.func("gemvOuter", Array<"i32">(9).fill("i32"));
  const [epi, m0, m1, n, a, b, y, ldy, bias] = f.i32Params();
  const madd = cfg.fma ? f32x4.relaxed_madd : f32x4.madd;
  const i = f.local("i32"), j = f.local("i32"), row = f.local("i32"), jb = f.local("i32");
  const av = f.local("v128"), v = f.local("v128");
  const tile: Stmt[] = [
    set(jb, mul(get(j), c(4))),
    set(v, madd(get(av), v128.load(add(get(b), get(jb))), v128.zero())),
    when(hasFlag(get(epi), EPI.BIAS), set(v, f32x4.add(get(v), v128.load(add(get(bias), get(jb)))))),
    when(hasFlag(get(epi), EPI.RELU), set(v, f32x4.pmax(v128.zero(), get(v)))),
    v128.store(add(get(row), get(jb)), get(v)),
  ];
  f.body(
    forRange(i, get(m0), get(m1), 1,
      set(av, v128.load32_splat(add(get(a), mul(get(i), c(4))))),
      set(row, add(get(y), mul(get(i), mul(get(ldy), c(4))))),
      forRange(j, c(0), i32.sub(get(n), c(3)), 4, ...tile),
      when(i32.ne(i32.and(get(n), c(3)), c(0)), set(j, i32.sub(get(n), c(4))), ...tile),
    ),
  );
}
