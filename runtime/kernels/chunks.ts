/**
 * How a kernel call is cut for threads: into chunks whose boundaries depend only on the problem
 * (never on the thread count or on timing), each computing its own output elements with the
 * reduction order of an unsplit call — so any thread may run any chunk and the bits stay the same.
 * The pool (../threads.ts) hands chunks out one at a time: a thread that loses its core holds up
 * the call by at most the chunk it is running.
 */
import { fusedParts, type FusedInstance } from "../wasm/fused-run.js";
import { MAX_CHUNK_ARGS } from "../workers.js";
import { onThreads, splitSite, type KernelContext, type SplitCall } from "./types.js";

/**
 * The prepared call of `name` over `chunks` chunks: `args(c, t)` is chunk c's argument list when
 * thread t runs it (t matters only for per-thread scratch). Everything is built and bound here, once.
 * `alone`, when given, is one call computing the same bits as all the chunks (an unsplit SGEMM):
 * what runs on this thread alone. Without it the chunks run one after the other.
 */
export function chunked(ctx: KernelContext, name: string, chunks: number, args: (chunk: number, thread: number) => number[], alone?: () => void): SplitCall {
  // The module's export `name`: on this side `${name}Raw` where the kernels wrap it (sgemm, gemv).
  const exports = ctx.wasm as unknown as Record<string, (...a: number[]) => void>;
  const fn = exports[`${name}Raw`] ?? exports[name]!;
  const local = Array.from({ length: chunks }, (_, c) => fn.bind(null, ...args(c, 0)) as () => void);
  const pool = ctx.pool;
  if (!pool || pool.threads < 2 || chunks < 2) {
    return onThreads(alone ?? (chunks === 1 ? local[0]! : () => { for (let c = 0; c < chunks; c++) local[c]!(); }), 1);
  }
  const threads = Math.min(pool.threads, chunks);
  const table = Array.from({ length: threads }, (_, t) => Array.from({ length: chunks }, (_, c) => args(c, t)));
  // Checked here, when the call is prepared: the pool copies the table only when it splits (the
  // judge's choice, which depends on timing), so a table too large would fail now and then.
  if (chunks * table[0]![0]!.length > MAX_CHUNK_ARGS) throw new Error(`chunked ${name}: ${chunks} chunks of ${table[0]![0]!.length} arguments exceed the pool's ${MAX_CHUNK_ARGS}`);
  const site = splitSite();
  return onThreads(() => pool.run(ctx.memory, name, table, local, alone, site), threads);
}

/**
 * A fused elementwise loop in parts (runtime/wasm/fused.ts `fusedPart`): chunks of the split axis
 * (rows, or a flat domain's elements in multiples of 16), each about FUSED_CHUNK_ELEMENTS, claimed
 * by whichever thread comes first — the workers instantiate the loop's module on the arena too.
 * Every element is computed by the same operations whichever part it falls in, so the bits are
 * those of the whole call, which is what runs alone. Below FUSED_SPLIT_ELEMENTS the loop stays
 * whole: a hand-off costs a few microseconds, a chunk of 16K floats' relu about as much.
 */
const FUSED_SPLIT_ELEMENTS = 1 << 16;
const FUSED_CHUNK_ELEMENTS = 1 << 14;

export function fusedSplit(ctx: KernelContext, loop: FusedInstance, views: readonly ArrayBufferView[], whole: () => void): SplitCall | null {
  const pool = ctx.pool;
  if (!pool || pool.threads < 2) return null;
  const parts = fusedParts(loop);
  if (!parts || parts.work < FUSED_SPLIT_ELEMENTS) return null;
  const offsets = views.map((v) => v.byteOffset);
  // Chunks of whole units, at most what the pool's argument block takes (offsets + lo, hi each).
  const units = Math.ceil(parts.extent / parts.unit);
  const maxChunks = Math.floor(MAX_CHUNK_ARGS / (offsets.length + 2));
  const chunks = Math.min(maxChunks, Math.max(1, Math.round(parts.work / FUSED_CHUNK_ELEMENTS)), units);
  if (chunks < 2) return null;
  const per = Math.ceil(units / chunks) * parts.unit;
  const bounds = Array.from({ length: Math.ceil(parts.extent / per) }, (_, c) => [c * per, Math.min(parts.extent, (c + 1) * per)] as const);
  const table = Array.from({ length: Math.min(pool.threads, bounds.length) }, () => bounds.map(([lo, hi]) => [...offsets, lo, hi]));
  const local = bounds.map(([lo, hi]) => parts.part.bind(null, ...offsets, lo, hi) as () => void);
  const site = splitSite(), kernels = { module: parts.module, names: ["fusedPart"] };
  return onThreads(() => pool.run(ctx.memory, "fusedPart", table, local, whole, site, kernels), table.length);
}
