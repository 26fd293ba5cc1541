/**
 * Single-precision matrix multiply, GotoBLAS-style:
 *
 *   Y[m0..m1, 0..N] (= or +=) op(A)[m0..m1, 0..K] · op(B)[0..K, 0..N]  (+ bias[j]) (relu)
 *
 * Loops, outermost first (block sizes in BLOCK):
 *   jc: columns of Y in NC-wide panels
 *     pc: K in KC-deep blocks          pack op(B)[pc.., jc..] → Bp (kc×nc, NR-wide slivers; L3/L2)
 *       ic: rows m0..m1 in MC blocks   pack op(A)[ic.., pc..] → Ap (mc×kc, MR-tall slivers; L2)
 *         jr: NR-column slivers of Bp  (one B sliver, kc·NR·4 = 8 KiB, stays in L1)
 *           ir: MR-row slivers of Ap   micro-kernel: MR×NR tile of Y
 *
 * One generic kernel with runtime sizes, not code specialized per shape: the only hot loop is the
 * micro-kernel's k loop, which does not depend on M, N or K; the outer loops cost a few
 * instructions per tile. So one module, compiled once, serves every matmul of every graph and
 * can be shared with worker threads; the compiler need not wait for per-graph compilation.
 *
 * Reduction order: every Y element is Σ over KC blocks in order, each block summed k = 0, 1, …
 * in one f32x4 lane (multiply then add, or one fused multiply-add in the FMA variant — see
 * microkernel.ts), added to Y after each block; bias then relu after the last. This sequence
 * depends on K only — not on m0/m1, the tile an element falls in, or whether the tile is an edge
 * tile — so splitting rows across threads gives bit-identical results. (Both threads run the same
 * compiled module, so they also agree on fusing.) With SPLIT_ROWS or SPLIT_COLS the call instead
 * computes whatever chunks of rows or columns it claims from a counter shared with the other
 * threads' calls (sgemm-split.ts), with the same per-element sequence.
 *
 * Edge tiles (fewer than MR rows or NR columns left) reuse the same micro-kernel on a scratch
 * tile: packing zero-pads the operands, the kernel computes a full tile into `tile`, and only
 * the valid part is copied to Y (and, to accumulate, from Y), so nothing outside Y is touched.
 */
import type { FuncBuilder, ModuleBuilder } from "./builder.js";
import {
  brIf, call, callValue, f32, forRange, get, hasFlag, i32, ifElse, loop, ret, select, seq, set, when, type Expr, type Local, type Stmt,
} from "./emit.js";
import { EPI, TILE, emitMicroKernel, type TileShape } from "./microkernel.js";
import { emitPack } from "./pack.js";
import { emitFiniteBlock } from "./sgemm-check.js";
import { splitLoops, type SplitParts } from "./sgemm-split.js";

/** sgemm flags. */
export const SGEMM = { TRANS_A: 1, TRANS_B: 2, ACCUMULATE: 4, BIAS: 8, RELU: 16, SPLIT_ROWS: 32, SPLIT_COLS: 64 } as const;

/**
 * Block sizes: KC·NR·4 = 8 KiB B sliver (L1 32 KiB), MC·KC·4 = 128 KiB Ap (L2 512 KiB),
 * KC·NC·4 = 2 MiB Bp (L3). MC is a multiple of MR and NC of NR. Re-measured with the FMA kernel
 * (KC 256–512, MC 64–256, NC 1024/2048, and K split into equal blocks): nothing beat these on
 * any benchmark shape by more than run-to-run noise, so both variants use them.
 */
export interface Blocking { readonly MC: number; readonly KC: number; readonly NC: number }
export const BLOCK: Blocking = { MC: 128, KC: 256, NC: 2048 };

/**
 * Bytes of the scratch region a split call (sgemm-split.ts) packs a whole operand into: 4 MiB,
 * a 1024×1024 operand. The unsplit call uses its start as Bp (KC·NC·4 = 2 MiB).
 */
export const SPLIT_FULL_BYTES = 4 << 20;

/** Scratch layout (byte offsets from the scratch base, which should be 64-byte aligned). */
export function scratchLayout(b: Blocking, t: TileShape) {
  const BP = 0, AP = BP + Math.max(b.KC * b.NC * 4, SPLIT_FULL_BYTES), TILE_BUF = AP + b.MC * b.KC * 4, BIAS_BUF = TILE_BUF + t.mr * t.nr * 4;
  // A split call's chunk counter (in the calling thread's scratch; a cache line of its own), and
  // beside it the cell a checked call's threads set when they store a non-finite value (written
  // only then: it does not contend with the counter).
  const COUNTER = Math.ceil((BIAS_BUF + t.nr * 4) / 64) * 64;
  return { BP, AP, TILE_BUF, BIAS_BUF, COUNTER, CHECK: COUNTER + 4, bytes: COUNTER + 64 };
}

/** What an sgemm is emitted with: tile, blocking, and whether to fuse multiply-adds. */
export interface SgemmConfig { readonly tile: TileShape; readonly block: Blocking; readonly fma: boolean }
/** Core SIMD: multiply then add. */
export const SGEMM_PLAIN: SgemmConfig = { tile: TILE, block: BLOCK, fma: false };
/** Relaxed SIMD: relaxed_madd (fused where the hardware has FMA; see features.ts). */
export const SGEMM_FMA: SgemmConfig = { tile: TILE, block: BLOCK, fma: true };
export const sgemmConfig = (fma: boolean): SgemmConfig => (fma ? SGEMM_FMA : SGEMM_PLAIN);

/** Bytes of scratch one sgemm call (one thread) needs, whichever variant the module has. */
export const SGEMM_SCRATCH_BYTES = Math.max(
  scratchLayout(SGEMM_PLAIN.block, SGEMM_PLAIN.tile).bytes, scratchLayout(SGEMM_FMA.block, SGEMM_FMA.tile).bytes);

const add = i32.add, mul = i32.mul, c = i32.const;
const min = (a: Expr<"i32">, b: Expr<"i32">) => i32.min_s(a, b);

/** Copy a rows×cols block of floats between two row-pitched regions. */
function copyBlock(
  f: FuncBuilder, dst: Expr<"i32">, dstPitch: Expr<"i32">, src: Expr<"i32">, srcPitch: Expr<"i32">,
  rows: Expr<"i32">, cols: Expr<"i32">,
): Stmt {
  const i = f.local("i32"), j = f.local("i32");
  return forRange(i, c(0), rows, 1,
    forRange(j, c(0), cols, 1,
      f32.store(add(dst, add(mul(get(i), dstPitch), mul(get(j), c(4)))),
        f32.load(add(src, add(mul(get(i), srcPitch), mul(get(j), c(4))))))));
}

/** Emit the module's sgemm functions; returns the exported driver. */
export function emitSgemm(m: ModuleBuilder, cfg: SgemmConfig = SGEMM_PLAIN): FuncBuilder {
  const { block, tile, fma } = cfg;
  const { mr: MR, nr: NR } = tile;
  if (block.MC % MR !== 0 || block.NC % NR !== 0) throw new Error(`sgemm: MC=${block.MC} must be a multiple of MR=${MR}, NC=${block.NC} of NR=${NR}`);
  const { BP, AP, TILE_BUF, BIAS_BUF } = scratchLayout(block, tile);
  const micro = emitMicroKernel(m, tile, { fma });
  const packA = emitPack(m, MR), packB = emitPack(m, NR);

  // edgeTile(ap, bp, kc, c, ldc, bias, epi, rows, cols, scratch): a partial tile via the buffer.
  const edge = m.func("edgeTile", Array<"i32">(10).fill("i32"), [], false);
  {
    const [ap, bp, kc, cp, ldc, bias, epi, rows, cols, scratch] = edge.i32Params();
    const tileBuf = add(get(scratch), c(TILE_BUF)), biasTile = add(get(scratch), c(BIAS_BUF));
    edge.body(
      when(hasFlag(get(epi), EPI.ACCUMULATE), copyBlock(edge, tileBuf, c(NR * 4), get(cp), get(ldc), get(rows), get(cols))),
      when(hasFlag(get(epi), EPI.BIAS), copyBlock(edge, biasTile, c(0), get(bias), c(0), c(1), get(cols))),
      call(micro, get(ap), get(bp), get(kc), tileBuf, c(NR * 4), biasTile, get(epi)),
      copyBlock(edge, get(cp), get(ldc), tileBuf, c(NR * 4), get(rows), get(cols)),
    );
  }

  // macro(ap, bp, kc, mc, nc, c, ldc, bias, epi, scratch, check): all tiles of one packed block
  // pair. With check ≠ 0 (checkNumerics, on the last k block) the block of Y is then checked by
  // this thread while it is in its cache (sgemm-check.ts), and the i32 at `check` set to 1 if a
  // value is not finite. A plain store: the caller reads it only after the pool's done counter
  // (an atomic) says every chunk is in.
  const finite = emitFiniteBlock(m);
  const macro = m.func("macroKernel", Array<"i32">(11).fill("i32"), [], false);
  {
    const [ap, bp, kc, mc, nc, cp, ldc, bias, epi, scratch, check] = macro.i32Params();
    const ir = macro.local("i32"), jr = macro.local("i32");
    const apS = add(get(ap), mul(get(ir), mul(get(kc), c(4)))); // sliver ir/MR: (ir/MR)·kc·MR·4
    const bpS = add(get(bp), mul(get(jr), mul(get(kc), c(4))));
    const cT = add(get(cp), add(mul(get(ir), get(ldc)), mul(get(jr), c(4))));
    const biasS = add(get(bias), mul(get(jr), c(4)));
    macro.body(
      forRange(jr, c(0), get(nc), NR,
        forRange(ir, c(0), get(mc), MR,
          ifElse(i32.and(i32.le_s(add(get(ir), c(MR)), get(mc)), i32.le_s(add(get(jr), c(NR)), get(nc))),
            [call(micro, apS, bpS, get(kc), cT, get(ldc), biasS, get(epi))],
            [call(edge, apS, bpS, get(kc), cT, get(ldc), biasS, get(epi),
              min(c(MR), i32.sub(get(mc), get(ir))), min(c(NR), i32.sub(get(nc), get(jr))), get(scratch))]))),
      when(i32.ne(get(check), c(0)),
        when(i32.eqz(callValue("i32", finite, get(cp), get(ldc), get(mc), get(nc))), i32.store(get(check), c(1)))),
    );
  }

  // sgemm(flags, m0, m1, n, k, a, lda, b, ldb, y, ldy, bias, scratch, counter, chunk, parts, check);
  // leading dims in floats; counter, chunk (the largest) and parts (threads) only with SPLIT_ROWS
  // or SPLIT_COLS (then m0 = 0, m1 = M). check: 0, or the byte address of an i32 this call sets
  // to 1 if a value it stores to Y is NaN or ±∞ (checkNumerics; each block checked by the thread
  // that computed it, see macroKernel) and leaves alone otherwise.
  const f = m.func("sgemm", Array<"i32">(17).fill("i32"));
  const [flags, m0, m1, n, k, a, lda, b, ldb, y, ldy, bias, scratch, counter, chunk, parts, check] = f.i32Params();
  const jc = f.local("i32"), pc = f.local("i32"), ic = f.local("i32");
  const nc = f.local("i32"), kc = f.local("i32"), mc = f.local("i32"), epi = f.local("i32");
  const tA = hasFlag(get(flags), SGEMM.TRANS_A), tB = hasFlag(get(flags), SGEMM.TRANS_B);
  const bp = add(get(scratch), c(BP)), ap = add(get(scratch), c(AP));
  // Add to Y unless this is the first k block of a beta = 0 product; bias and relu once the
  // last k block (pc + kc ≥ k) is in.
  const epilogue = (e: Local<"i32">, pc: Local<"i32">, kc: Local<"i32">): Stmt => seq(
    set(e, select(c(EPI.ACCUMULATE), c(0), i32.or(i32.gt_s(get(pc), c(0)), hasFlag(get(flags), SGEMM.ACCUMULATE)))),
    when(i32.ge_s(add(get(pc), get(kc)), get(k)), set(e, i32.or(get(e), i32.or(
      select(c(EPI.BIAS), c(0), hasFlag(get(flags), SGEMM.BIAS)), select(c(EPI.RELU), c(0), hasFlag(get(flags), SGEMM.RELU)))))),
  );
  // The check address for the k block at pc of depth kc: Y's values are final after the last one.
  const checkAt = (pc: Local<"i32">, kc: Local<"i32">): Expr<"i32"> => select(get(check), c(0), i32.ge_s(add(get(pc), get(kc)), get(k)));
  const split: SplitParts = {
    f, p: { flags, m: m1, n, k, a, lda, b, ldb, y, ldy, bias, scratch, counter, chunk, parts }, packA, packB, macro,
    MR, NR, MC: block.MC, KC: block.KC, FULL: BP, AP, epilogue, checkAt, transA: SGEMM.TRANS_A, transB: SGEMM.TRANS_B,
  };
  f.body(
    when(hasFlag(get(flags), SGEMM.SPLIT_ROWS), ...splitLoops(split, true), ret()),
    when(hasFlag(get(flags), SGEMM.SPLIT_COLS), ...splitLoops(split, false), ret()),
    forRange(jc, c(0), get(n), block.NC,
      set(nc, min(c(block.NC), i32.sub(get(n), get(jc)))),
      set(pc, c(0)),
      // do … while (pc < k): runs once even for K = 0, so Y still gets 0 (+ bias, relu).
      loop(
        set(kc, min(c(block.KC), i32.sub(get(k), get(pc)))),
        epilogue(epi, pc, kc),
        // op(B)[pc, jc] is B[jc, pc] when B is transposed.
        call(packB, bp, add(get(b), mul(c(4), select(add(mul(get(jc), get(ldb)), get(pc)), add(mul(get(pc), get(ldb)), get(jc)), tB))),
          mul(get(ldb), c(4)), get(kc), get(nc), tB),
        forRange(ic, get(m0), get(m1), block.MC,
          set(mc, min(c(block.MC), i32.sub(get(m1), get(ic)))),
          // op(A)[ic, pc] is A[pc, ic] when A is transposed; rows of op(A) lie along k (pack's
          // "transposed" layout) exactly when A is not.
          call(packA, ap, add(get(a), mul(c(4), select(add(mul(get(pc), get(lda)), get(ic)), add(mul(get(ic), get(lda)), get(pc)), tA))),
            mul(get(lda), c(4)), get(kc), get(mc), i32.eqz(tA)),
          call(macro, ap, bp, get(kc), get(mc), get(nc), add(get(y), mul(c(4), add(mul(get(ic), get(ldy)), get(jc)))),
            mul(get(ldy), c(4)), add(get(bias), mul(get(jc), c(4))), get(epi), get(scratch), checkAt(pc, kc))),
        set(pc, add(get(pc), c(block.KC))),
        brIf(0, i32.lt_s(get(pc), get(k))),
      )),
  );
  // sgemmBatch(flags, m, n, k, a, lda, b, ldb, y, ldy, scratch, check, e0, e1, strideA, strideB,
  // strideY): entries [e0, e1) of a batched product (compiler/ops/matmul.ts), each the whole
  // unsplit sgemm on operands `stride` bytes apart: a batch split across threads by entries.
  const g = m.func("sgemmBatch", Array<"i32">(17).fill("i32"));
  const [gFlags, gm, gn, gk, ga, glda, gb, gldb, gy, gldy, gScratch, gCheck, e0, e1, sA, sB, sY] = g.i32Params();
  const e = g.local("i32");
  g.body(forRange(e, get(e0), get(e1), 1,
    call(f, get(gFlags), c(0), get(gm), get(gn), get(gk), add(get(ga), mul(get(e), get(sA))), get(glda),
      add(get(gb), mul(get(e), get(sB))), get(gldb), add(get(gy), mul(get(e), get(sY))), get(gldy), c(0), get(gScratch), c(0), c(0), c(0), get(gCheck))));
  return f;
}

/** Where a split call's counter lives: this many bytes into the calling thread's scratch. */
export const SPLIT_COUNTER = scratchLayout(BLOCK, TILE).COUNTER;
/** Where a checked call's non-finite flag lives (sgemm's and gemv's `check`), in the calling thread's scratch. */
export const CHECK_CELL = scratchLayout(BLOCK, TILE).CHECK;
