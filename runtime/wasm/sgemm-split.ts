/**
 * The sgemm's split mode: Y = op(A)·op(B) computed by every thread of a pool at once, each
 * claiming chunks of Y's rows (SPLIT_ROWS) or columns (SPLIT_COLS) from one shared counter until
 * none is left:
 *
 *   loop: start = counter; if start ≥ side: done
 *         len = what is left / (2·parts), whole tiles, in [MIN_CHUNK, chunk]
 *         compare-and-swap counter: start → start + len (else retry from the value seen)
 *         compute Y[start .. start + len) (rows or columns) over all of K
 *
 * Why chunks, not one fixed share per thread: a share is done when its thread is, and on a busy
 * machine one of the two threads loses its core for a scheduler time slice now and then — with
 * fixed halves the other then waits (measured: 2 threads 1.0–1.4× of 1 at 1024³ under load,
 * while the same halves on two cores run 1.9×). With chunks the thread that runs takes the
 * chunks the other does not get to; a late or descheduled thread holds up at most one chunk.
 *
 * Packing: a chunk of rows needs all of op(B), a chunk of columns all of op(A). Each thread packs
 * that whole operand once, into its scratch's FULL region (SPLIT_FULL_BYTES), while computing
 * its first chunk (each KC block just before its first use), and reuses it for its later chunks;
 * the chunk's own share of the other operand is packed per chunk (each element once). So the
 * packing is what a fixed split does (every thread packs the shared operand, the split one is
 * packed once) — none repeated per chunk. A thread that claims no chunk packs nothing.
 *
 *   FULL, rows mode:    op(B) as KC blocks of NR-wide slivers, block pc at pc·npad floats
 *                       (npad = n rounded up to NR); a chunk packs its rows' A block into AP.
 *   FULL, columns mode: op(A) as KC blocks of MR-tall slivers, block pc at pc·mpad floats;
 *                       a chunk packs its columns' B block into AP (so chunk·KC ≤ MC·KC).
 *
 * Each Y element is still Σ over KC blocks in order, each block one micro-kernel lane, with the
 * same epilogue: which thread or chunk computes it changes no bit (see sgemm.ts).
 */
import type { FuncBuilder } from "./builder.js";
import { block as wasmBlock, br, brIf, call, forRange, get, hasFlag, i32, loop, select, set, when, type Expr, type FuncRef, type Local, type Stmt } from "./emit.js";

/** What the split loops use of the enclosing sgemm function (its params, kernels and layout). */
export interface SplitParts {
  readonly f: FuncBuilder;
  /** (flags, m, n, k, a, lda, b, ldb, y, ldy, bias, scratch, counter, chunk, parts) of sgemm. */
  readonly p: { flags: Local<"i32">; m: Local<"i32">; n: Local<"i32">; k: Local<"i32">; a: Local<"i32">; lda: Local<"i32">; b: Local<"i32">; ldb: Local<"i32">; y: Local<"i32">; ldy: Local<"i32">; bias: Local<"i32">; scratch: Local<"i32">; counter: Local<"i32">; chunk: Local<"i32">; parts: Local<"i32"> };
  readonly packA: FuncRef;
  readonly packB: FuncRef;
  readonly macro: FuncRef;
  readonly MR: number; readonly NR: number; readonly MC: number; readonly KC: number;
  /** Byte offsets from the scratch base: FULL (the whole operand) and AP (the chunk's block). */
  readonly FULL: number; readonly AP: number;
  /** Set `epi` for the k block starting at pc of depth kc (same rule as the unsplit loop). */
  readonly epilogue: (epi: Local<"i32">, pc: Local<"i32">, kc: Local<"i32">) => Stmt;
  /** macroKernel's check argument for the k block at pc of depth kc (0 but on the last with a check). */
  readonly checkAt: (pc: Local<"i32">, kc: Local<"i32">) => Expr<"i32">;
  readonly transA: number; readonly transB: number;
}

const add = i32.add, mul = i32.mul, c = i32.const;
const min = (a: Expr<"i32">, b: Expr<"i32">) => i32.min_s(a, b);
/** Smallest chunk (rows or columns) but the last: below it the tiles reuse a packed block too little. */
const MIN_CHUNK = 16;
const roundUp = (x: Expr<"i32">, to: number) => i32.and(add(x, c(to - 1)), c(-to));

/** Statements of the rows mode (rows = true) or the columns mode; they return when no chunk is left. */
export function splitLoops(s: SplitParts, rows: boolean): Stmt[] {
  const { f, p } = s;
  const start = f.local("i32"), len = f.local("i32"), pc = f.local("i32"), kc = f.local("i32"), epi = f.local("i32");
  const packed = f.local("i32"), pad = f.local("i32"), blk = f.local("i32"), ic = f.local("i32"), seen = f.local("i32");
  // Guided self-scheduling: a chunk is 1/(2·parts) of what is left, in whole tiles, at least
  // MIN_CHUNK and at most the call's chunk — large first (few per thread), small at the end, so
  // the threads finish close together even when one started late or lost its core.
  const unit = rows ? s.MR : s.NR;
  const chunkOf = (rest: Expr<"i32">) => min(get(p.chunk), i32.max_s(c(MIN_CHUNK),
    roundUp(i32.div_u(add(rest, i32.sub(get(twoParts), c(1))), get(twoParts)), unit)));
  const twoParts = f.local("i32");
  const tA = hasFlag(get(p.flags), s.transA), tB = hasFlag(get(p.flags), s.transB);
  const full = add(get(p.scratch), c(s.FULL)), ap = add(get(p.scratch), c(s.AP));
  // op(A)[i, pc] and op(B)[pc, j], as byte addresses (A is transposed: A[pc, i]; B: B[j, pc]).
  const aAt = (i: Expr<"i32">) => add(get(p.a), mul(c(4), select(add(mul(get(pc), get(p.lda)), i), add(mul(i, get(p.lda)), get(pc)), tA)));
  const bAt = (j: Expr<"i32">) => add(get(p.b), mul(c(4), select(add(mul(j, get(p.ldb)), get(pc)), add(mul(get(pc), get(p.ldb)), j), tB)));
  const side = rows ? p.m : p.n;
  const yAt = (i: Expr<"i32">, j: Expr<"i32">) => add(get(p.y), mul(c(4), add(mul(i, get(p.ldy)), j)));

  // One k block of a chunk: pack the whole operand's block on the first chunk, the chunk's block
  // always, then the tiles.
  const kBlock: Stmt[] = rows
    ? [
      when(i32.eqz(get(packed)), call(s.packB, get(blk), bAt(c(0)), mul(get(p.ldb), c(4)), get(kc), get(p.n), tB)),
      call(s.packA, ap, aAt(get(start)), mul(get(p.lda), c(4)), get(kc), get(len), i32.eqz(tA)),
      call(s.macro, ap, get(blk), get(kc), get(len), get(p.n), yAt(get(start), c(0)), mul(get(p.ldy), c(4)), get(p.bias), get(epi), get(p.scratch), s.checkAt(pc, kc)),
    ]
    : [
      when(i32.eqz(get(packed)), call(s.packA, get(blk), aAt(c(0)), mul(get(p.lda), c(4)), get(kc), get(p.m), i32.eqz(tA))),
      call(s.packB, ap, bAt(get(start)), mul(get(p.ldb), c(4)), get(kc), get(len), tB),
      // MC rows at a time, so the A block the tiles sweep stays in L2 (see sgemm.ts).
      forRange(ic, c(0), get(p.m), s.MC,
        call(s.macro, add(get(blk), mul(get(ic), mul(get(kc), c(4)))), ap, get(kc), min(c(s.MC), i32.sub(get(p.m), get(ic))), get(len),
          yAt(get(ic), get(start)), mul(get(p.ldy), c(4)), add(get(p.bias), mul(get(start), c(4))), get(epi), get(p.scratch), s.checkAt(pc, kc))),
    ];

  return [
    // Floats of one KC block of the whole operand: its other side rounded up to whole slivers.
    set(pad, rows ? roundUp(get(p.n), s.NR) : roundUp(get(p.m), s.MR)),
    set(twoParts, mul(c(2), i32.max_s(get(p.parts), c(1)))),
    set(packed, c(0)),
    set(start, i32.atomic_load(get(p.counter))),
    wasmBlock(loop(
      // Claim [start, start + len) by compare-and-swap, len from what is left (see above).
      wasmBlock(loop(
        brIf(3, i32.ge_s(get(start), get(side))), // no chunk left: out of the outer block
        set(len, i32.sub(get(side), get(start))),
        set(len, min(get(len), chunkOf(get(len)))),
        set(seen, i32.atomic_cmpxchg(get(p.counter), get(start), add(get(start), get(len)))),
        brIf(1, i32.eq(get(seen), get(start))), // ours
        set(start, get(seen)), // another thread claimed first: try again from where it left off
        br(0),
      )),
      set(pc, c(0)),
      // do … while (pc < k): once even for K = 0 (Y = 0 + bias).
      loop(
        set(kc, min(c(s.KC), i32.sub(get(p.k), get(pc)))),
        s.epilogue(epi, pc, kc),
        set(blk, add(full, mul(get(pc), mul(get(pad), c(4))))),
        ...kBlock,
        set(pc, add(get(pc), c(s.KC))),
        brIf(0, i32.lt_s(get(pc), get(p.k))),
      ),
      set(packed, c(1)),
      set(start, i32.atomic_load(get(p.counter))),
      br(0), // the next chunk
    )),
  ];
}
