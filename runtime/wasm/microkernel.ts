/**
 * The sgemm micro-kernel: one MR×NR tile of C from an MR-row sliver of packed A and an NR-column
 * sliver of packed B, both laid out k-major (see pack.ts):
 *
 *   for k in 0..kc:   acc[r][v] += splat(Ap[k·MR + r]) · Bp[k·NR + 4v .. 4v+3]     (r < MR, v < NR/4)
 *
 * Register budget: V8 (TurboFan, x64) keeps 15 xmm registers for wasm values (xmm15 is its
 * scratch). Reading its machine code (node --print-wasm-code) shows the MR·NR/4 accumulators,
 * NR/4 B vectors and one broadcast A value stay in registers without spills for 4×8 and 2×16 (8
 * accumulators); from 10 accumulators on (5×8, 6×8, 4×12, 3×16) its allocator spills inside the
 * loop. Unrolling k fails the same way: TurboFan hoists every unrolled step's loads to the top of
 * the loop body and spills. So the loop is one k step: 2 B loads, 4 broadcasts, 8 mul + 8 add and
 * 7 instructions of loop overhead (29 in all) — measured up to ~31 GFLOP/s, ~80% of the
 * 128-bit peak (16 flops/cycle at 2.45 GHz).
 *
 * One induction variable: per k step A advances MR·4 bytes and B NR·4 = (NR/MR)·MR·4, so the B
 * address is (NR/MR)·ap + δ with δ = bp − (NR/MR)·ap fixed; V8 folds that into one `lea`, which
 * saved a pointer bump and a zero-extension per step (+10% measured).
 *
 * Epilogue, applied by flags (the driver sets BIAS/RELU only on the last k block):
 *   ACCUMULATE: acc = C + acc      (beta = 1, or a later k block of the same tile)
 *   BIAS:       acc = acc + bias[j]
 *   RELU:       acc = pmax(0, acc) = 0 < acc ? acc : 0   (NaN → 0, −0 → +0, like x > 0 ? x : 0)
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

/**
 * Emit `microkernel(ap, bp, kc, c, ldcBytes, bias, flags)`: C[0..MR, 0..NR] at byte offset c with
 * row pitch ldcBytes, bias at byte offset `bias` (NR floats, read only with BIAS).
 */
export function emitMicroKernel(m: ModuleBuilder, shape: TileShape = TILE, exported = false): FuncBuilder {
  const { mr, nr } = shape;
  const nv = nr / 4;
  if (!Number.isInteger(nv) || nv < 1) throw new Error(`micro-kernel: NR=${nr} must be a positive multiple of 4`);
  if (mr * nv + nv + 1 > 15) throw new Error(`micro-kernel: ${mr}×${nr} needs more than 15 vector registers`);
  if (!Number.isInteger(nr / mr)) throw new Error(`micro-kernel: NR=${nr} must be a multiple of MR=${mr}`);
  const f = m.func(`microkernel_${mr}x${nr}`, ["i32", "i32", "i32", "i32", "i32", "i32", "i32"], [], exported);
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

  f.body(
    ...eachAcc((x) => set(x, v128.zero())),
    // The k loop runs while ap < apEnd: the A pointer doubles as the trip counter (unsigned:
    // addresses above 2 GiB are valid).
    set(apEnd, i32.add(get(ap), i32.mul(get(kc), i32.const(mr * 4)))),
    set(delta, i32.sub(get(bp), i32.mul(get(ap), i32.const(nr / mr)))), // wraps mod 2^32: fine
    when(i32.lt_u(get(ap), get(apEnd)), loop(
      ...b.map((bv, v) => set(bv, v128.load(i32.add(i32.mul(get(ap), i32.const(nr / mr)), get(delta)), 16 * v))),
      ...acc.flatMap((accRow, r) => [
        set(a, v128.load32_splat(get(ap), 4 * r)),
        ...accRow.map((x, v) => set(x, f32x4.madd(get(a), get(b[v]!), get(x)))),
      ]),
      set(ap, i32.add(get(ap), i32.const(mr * 4))),
      brIf(0, i32.lt_u(get(ap), get(apEnd))),
    )),
    when(flag(EPI.ACCUMULATE), ...eachRow((r) => acc[r]!.map((x, v) => set(x, f32x4.add(v128.load(get(row), 16 * v), get(x)))))),
    when(flag(EPI.BIAS), ...eachAcc((x, _r, v) => set(x, f32x4.add(get(x), v128.load(get(bias), 16 * v))))),
    when(flag(EPI.RELU), ...eachAcc((x) => set(x, f32x4.pmax(v128.zero(), get(x))))),
    ...eachRow((r) => acc[r]!.map((x, v) => v128.store(get(row), get(x), 16 * v))),
  );
  return f;
}
