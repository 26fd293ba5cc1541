/**
 * The sgemm micro-kernel: one MR×NR tile of C from an MR-row sliver of packed A and an NR-column
 * sliver of packed B, both laid out k-major (see pack.ts):
 *
 *   for k in 0..kc:   acc[r][v] += splat(Ap[k·MR + r]) · Bp[k·NR + 4v .. 4v+3]     (r < MR, v < NR/4)
 *
 * Two variants, chosen when the module is built (module.ts, features.ts): core SIMD multiply then
 * add (f32x4.mul + f32x4.add, two roundings), or relaxed SIMD's f32x4.relaxed_madd, which V8
 * compiles to one `vfmadd231ps acc, b, a` on x86 with FMA3 (one rounding). Per k step (machine
 * code read with node --print-wasm-code --no-liftoff): 2 B loads, 4 broadcasts, 8 multiply-adds
 * and 7 instructions of loop overhead — 29 instructions with mul + add, 21 with FMA. Zen 3 runs
 * 2 FMAs or 2 mul + 2 add per cycle (16 flops either way with 128-bit vectors), so both could
 * take 4 cycles per step, but 29 instructions do not issue in 4 cycles (6-wide dispatch) while
 * 21 do: FMA runs at the multiply-add pipes' bound, mul + add below it. Measured with
 * the kernel alone, B sliver in L1 and A streaming from L2 (kc = 256, best of many runs on a
 * shared machine): 4×8 mul + add ~35 GFLOP/s, 4×8 FMA ~47 GFLOP/s.
 *
 * Register budget: V8 (TurboFan, x64) keeps 15 xmm registers for wasm values (xmm15 is its
 * scratch), and its scheduler places every load of the loop body first — all MR broadcasts and
 * NR/4 B vectors are live at once, then the multiply-adds run. So a tile needs
 * MR·NR/4 accumulators + NR/4 + MR registers (+1 temporary for mul + add): 4×8 needs 14, fine in
 * both variants. FMA frees only the temporary, not enough for 12 accumulators: with FMA, 5×8
 * (17 registers), 6×8 (20) and 4×12 (19) spill accumulators inside the loop, and a spilled
 * accumulator's store/reload sits on its loop-carried chain — measured 18–23 GFLOP/s, half of
 * 4×8. 3×12 (15) and 2×16 (14) fit and run like 4×8 (~47–48) but would need a packing routine
 * for A slivers narrower than 4, so 4×8 stays, for both variants (one scratch layout, one tile).
 * Unrolling k fails the same way (every unrolled step's loads hoisted).
 *
 * One induction variable: per k step A advances MR·4 bytes and B NR·4 = (NR/MR)·MR·4, so the B
 * address is (NR/MR)·ap + δ with δ = bp − (NR/MR)·ap fixed; V8 folds that into one `lea`, which
 * saved a pointer bump and a zero-extension per step (+10% measured). (Tiles where MR ∤ NR bump
 * a second pointer.)
 *
 * Epilogue, applied by flags (the driver sets BIAS/RELU only on the last k block):
 *   ACCUMULATE: acc = C + acc      (beta = 1, or a later k block of the same tile)
 *   BIAS:       acc = acc + bias[j]
 *   RELU:       acc = pmax(acc, 0) = acc < 0 ? 0 : acc   (NaN and −0 stay, as PyTorch's relu)
 * Each lane's result depends only on its own row and column, never on the tile it sits in, so
 * the driver may split rows anywhere and get bit-identical output.
 */
import type { FuncBuilder, ModuleBuilder } from "./builder.js";
import { brIf, f32x4, get, i32, loop, set, v128, when, type Local, type Stmt } from "./emit.js";

export const EPI = { ACCUMULATE: 1, BIAS: 2, RELU: 4 } as const;

export interface TileShape {
  readonly mr: number; // rows of C per tile
  readonly nr: number; // columns of C per tile, a multiple of 4
}

/** The tile sgemm uses (see the register budget above). */
export const TILE: TileShape = { mr: 4, nr: 8 };

export interface MicroKernelOptions {
  /** Accumulate with relaxed_madd (one fused multiply-add) instead of multiply then add. */
  readonly fma?: boolean;
  readonly exported?: boolean;
  /** Emit tiles that exceed the register budget above (for measuring them). */
  readonly allowSpills?: boolean;
}

/**
 * Emit `microkernel(ap, bp, kc, c, ldcBytes, bias, flags)`: C[0..MR, 0..NR] at byte offset c with
 * row pitch ldcBytes, bias at byte offset `bias` (NR floats, read only with BIAS).
 */
export function emitMicroKernel(m: ModuleBuilder, shape: TileShape = TILE, opts: MicroKernelOptions = {}): FuncBuilder {
  const { mr, nr } = shape;
  const { fma = false, exported = false, allowSpills = false } = opts;
  const nv = nr / 4;
  if (!Number.isInteger(nv) || nv < 1) throw new Error(`micro-kernel: NR=${nr} must be a positive multiple of 4`);
  const registers = mr * nv + nv + mr + (fma ? 0 : 1);
  if (registers > 15 && !allowSpills) throw new Error(`micro-kernel: ${mr}×${nr} needs ${registers} vector registers, V8 has 15`);
  const f = m.func(`microkernel_${mr}x${nr}${fma ? "_fma" : ""}`, ["i32", "i32", "i32", "i32", "i32", "i32", "i32"], [], exported);
  const [ap, bp, kc, c, ldc, bias, flags] = f.i32Params();
  const apEnd = f.local("i32"), row = f.local("i32"), delta = f.local("i32");
  const a = f.local("v128");
  const b = f.locals("v128", nv);
  const acc = Array.from({ length: mr }, () => f.locals("v128", nv));
  const eachAcc = (g: (x: Local<"v128">, r: number, v: number) => Stmt): Stmt[] =>
    acc.flatMap((accRow, r) => accRow.map((x, v) => g(x, r, v)));
  // Visit each row of C: `row` walks c, c + ldc, …; g emits the statements for row r.
  const eachRow = (g: (r: number) => Stmt[]): Stmt[] => [
    set(row, get(c)),
    ...acc.flatMap((_, r) => [...g(r), set(row, i32.add(get(row), get(ldc)))]),
  ];
  const flag = (bit: number) => i32.and(get(flags), i32.const(bit));
  const madd = fma ? f32x4.relaxed_madd : f32x4.madd;
  // B address from the A pointer: one induction variable when NR/MR is an integer (see above),
  // else a second pointer bumped by NR·4 per step.
  const ratio = nr / mr, oneIv = Number.isInteger(ratio);
  const bAddr = oneIv ? i32.add(i32.mul(get(ap), i32.const(ratio)), get(delta)) : get(bp);

  f.body(
    ...eachAcc((x) => set(x, v128.zero())),
    // The k loop runs while ap < apEnd: the A pointer doubles as the trip counter (unsigned:
    // addresses above 2 GiB are valid).
    set(apEnd, i32.add(get(ap), i32.mul(get(kc), i32.const(mr * 4)))),
    ...(oneIv ? [set(delta, i32.sub(get(bp), i32.mul(get(ap), i32.const(ratio))))] : []), // wraps mod 2^32: fine
    when(i32.lt_u(get(ap), get(apEnd)), loop(
      ...b.map((bv, v) => set(bv, v128.load(bAddr, 16 * v))),
      ...acc.flatMap((accRow, r) => [
        set(a, v128.load32_splat(get(ap), 4 * r)),
        ...accRow.map((x, v) => set(x, madd(get(a), get(b[v]!), get(x)))),
      ]),
      set(ap, i32.add(get(ap), i32.const(mr * 4))),
      ...(oneIv ? [] : [set(bp, i32.add(get(bp), i32.const(nr * 4)))]),
      brIf(0, i32.lt_u(get(ap), get(apEnd))),
    )),
    when(flag(EPI.ACCUMULATE), ...eachRow((r) => acc[r]!.map((x, v) => set(x, f32x4.add(v128.load(get(row), 16 * v), get(x)))))),
    when(flag(EPI.BIAS), ...eachAcc((x, _r, v) => set(x, f32x4.add(get(x), v128.load(get(bias), 16 * v))))),
    when(flag(EPI.RELU), ...eachAcc((x) => set(x, f32x4.pmax(get(x), v128.zero())))),
    ...eachRow((r) => acc[r]!.map((x, v) => v128.store(get(row), get(x), 16 * v))),
  );
  return f;
}
