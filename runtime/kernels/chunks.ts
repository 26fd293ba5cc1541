/**
 * How a kernel call is cut for threads: into chunks whose boundaries depend only on the problem
 * (never on the thread count or on timing), each computing its own output elements with the
 * reduction order of an unsplit call — so any thread may run any chunk and the bits stay the same.
 * The pool (../threads.ts) hands chunks out one at a time: a thread that loses its core holds up
 * the call by at most the chunk it is running.
 */
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
  const site = splitSite();
  return onThreads(() => pool.run(ctx.memory, name, table, local, alone, site), threads);
}
