/**
 * A two-thread pool of a test file's own, its worker listening before the first test and its
 * judge off: on a busy machine the judge runs calls alone (the unsplit call, the same bits), and
 * then the calls a test makes would not split at all. Closed after the file's tests.
 */
import { afterAll, beforeAll } from "vitest";
import { Arena } from "../../runtime/arena.js";
import type { KernelContext } from "../../runtime/kernels/types.js";
import { ThreadPool } from "../../runtime/threads.js";
import { KERNEL_EXPORTS, kernelModule } from "../../runtime/wasm/module.js";
import { rand } from "./run.js";

export interface SplitArena {
  readonly arena: Arena;
  /** A context on this pool. */
  readonly ctx: KernelContext;
  /** n floats in the arena, uniform in [−0.5, 0.5) from the arena's seed when `random`, else 0 (filled in place: a typed array's map would copy out of the arena). */
  f32(n: number, random?: boolean): Float32Array;
}

export function splitPool(): { pool: ThreadPool; workerIdle: () => void; splitArena: (seed: number) => SplitArena } {
  const pool = new ThreadPool(2, kernelModule(), KERNEL_EXPORTS);
  pool.judge.judging = false;
  const ctrl = (pool as unknown as { lanes: { ctrl: Int32Array }[] }).lanes[0]!.ctrl;
  beforeAll(async () => {
    for (let k = 0; k < 500 && Atomics.load(ctrl, 6) === 0; k++) await new Promise((done) => setTimeout(done, 10));
  });
  afterAll(() => pool.close());
  /** Wait until the worker has finished its last job: a call finding it busy runs alone (unsplit). */
  const workerIdle = () => { const end = Date.now() + 20_000; while (Atomics.load(ctrl, 1) !== Atomics.load(ctrl, 0) && Date.now() < end); };
  /** A two-thread arena whose kernels split on this pool; released after the file's tests. */
  const arenas: Arena[] = [];
  afterAll(() => arenas.forEach((a) => a.release()));
  const splitArena = (seed: number): SplitArena => {
    const arena = new Arena(2);
    arenas.push(arena);
    const r = rand(seed);
    const f32 = (n: number, random = false) => {
      const v = arena.f32(arena.allocPersistent(4 * Math.max(1, n)), n);
      if (random) for (let i = 0; i < n; i++) v[i] = r() - 0.5;
      return v;
    };
    return { arena, ctx: { ...arena.context, pool }, f32 };
  };
  return { pool, workerIdle, splitArena };
}
