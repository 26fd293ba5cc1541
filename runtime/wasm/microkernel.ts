/**
 * The sgemm micro-kernel: one MR×NR tile of C from an MR-row sliver of packed A and an NR-column
 * sliver of packed B, both laid out k-major (see pack.ts):
 *
 *   for k in 0..kc:   acc[r][v] += splat(Ap[k·MR + r]) · Bp[k·NR + 4v .. 4v+3]     (r < MR, v < NR/4)
 *
 * The MR·NR/4 accumulators, NR/4 B vectors and one broadcast A value live in the 16 xmm
 * registers V8 allocates on x64 (one is its scratch), so MR·NR/4 + NR/4 + 2 ≤ 15. Per k step
 * the kernel issues NR/4 + MR loads for MR·NR/4 multiply-adds: bigger tiles mean fewer loads
 * per flop. The k loop is unrolled so pointer bumps and the branch amortize, and loads use
 * constant memarg offsets from two moving pointers.
 *
 * Epilogue, applied by flags (the driver sets BIAS/RELU only on the last k block):
 *   ACCUMULATE: acc = C + acc      (beta = 1, or a later k block of the same tile)
 *   BIAS:       acc = acc + bias[j]
 *   RELU:       acc = pmax(0, acc) = 0 < acc ? acc : 0   (NaN → 0, −0 → +0, like x > 0 ? x : 0)
 * Each lane's result depends only on its own row and column, never on the tile it sits in, so
 * the driver may split rows anywhere and get bit-identical output.
 */
import type { FuncBuilder, ModuleBuilder } from "./builder.js";
import { f32x4, forRange, get, i32, set, v128, when, type Local, type Stmt } from "./emit.js";

export const EPI = { ACCUMULATE: 1, BIAS: 2, RELU: 4 } as const;

export interface TileShape {
  readonly mr: number; // rows of C per tile
  readonly nr: number; // columns of C per tile, a multiple of 4
  readonly unroll: number; // k steps per loop trip, a power of two
}

/**
 * Emit `microkernel(ap, bp, kc, c, ldcBytes, bias, flags)`: C[0..MR, 0..NR] at byte offset c with
 * row pitch ldcBytes, bias at byte offset `bias` (NR floats, read only with BIAS).
 */
export function emitMicroKernel(m: ModuleBuilder, shape: TileShape, exported = false): FuncBuilder {
  const { mr, nr, unroll } = shape;
  const nv = nr / 4;
  if (!Number.isInteger(nv) || nv < 1) throw new Error(`micro-kernel: NR=${nr} must be a positive multiple of 4`);
  if (mr * nv + nv + 2 > 99) throw new Error(`micro-kernel: ${mr}×${nr} needs more than 15 vector registers`);
  const f = m.func(`microkernel_${mr}x${nr}`, ["i32", "i32", "i32", "i32", "i32", "i32", "i32"], [], exported);
  const [ap, bp, kc, c, ldc, bias, flags] = f.i32Params();
  const k = f.local("i32"), kMain = f.local("i32"), row = f.local("i32");
  const a = f.local("v128");
  const b = f.locals("v128", nv);
  const acc = Array.from({ length: mr }, () => f.locals("v128", nv));
  const eachAcc = (g: (x: Local<"v128">, r: number, v: number) => Stmt): Stmt[] =>
    acc.flatMap((accRow, r) => accRow.map((x, v) => g(x, r, v)));

  // One k step at constant offsets u·MR·4 (A) and u·NR·4 (B) from the moving pointers.
  const step = (u: number): Stmt[] => [
    ...b.map((bv, v) => set(bv, v128.load(get(bp), (u * nr + 4 * v) * 4))),
    ...acc.flatMap((accRow, r) => [
      set(a, v128.load32_splat(get(ap), (u * mr + r) * 4)),
      ...accRow.map((x, v) => set(x, f32x4.madd(get(a), get(b[v]!), get(x)))),
    ]),
  ];
  const advance = (steps: number): Stmt[] => [
    set(ap, i32.add(get(ap), i32.const(steps * mr * 4))),
    set(bp, i32.add(get(bp), i32.const(steps * nr * 4))),
  ];
  // Visit each row of C: `row` walks c, c + ldc, … ; body sees the row index r.
  const eachRow = (g: (r: number) => Stmt[]): Stmt[] => [
    set(row, get(c)),
    ...acc.flatMap((_, r) => [...g(r), set(row, i32.add(get(row), get(ldc)))]),
  ];
  const flag = (bit: number) => i32.and(get(flags), i32.const(bit));

  f.body(
    ...eachAcc((x) => set(x, v128.zero())),
    set(kMain, i32.and(get(kc), i32.const(-unroll))),
    forRange(k, i32.const(0), get(kMain), unroll, ...step(0).concat(...range(1, unroll).map(step)), ...advance(unroll)),
    forRange(k, get(kMain), get(kc), 1, ...step(0), ...advance(1)),
    when(flag(EPI.ACCUMULATE), ...eachRow((r) => acc[r]!.map((x, v) => set(x, f32x4.add(v128.load(get(row), 16 * v), get(x)))))),
    when(flag(EPI.BIAS), ...eachAcc((x, _r, v) => set(x, f32x4.add(get(x), v128.load(get(bias), 16 * v))))),
    when(flag(EPI.RELU), ...eachAcc((x) => set(x, f32x4.pmax(v128.zero(), get(x))))),
    ...eachRow((r) => acc[r]!.map((x, v) => v128.store(get(row), get(x), 16 * v))),
  );
  return f;
}

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
