/**
 * The process's one thread pool (./threads.ts), shared by every network through leases. It is
 * created on first use, only grows while leased, and its workers stop when the last lease is
 * released (after a short grace period, so a compile/dispose loop does not restart them).
 */
import { ThreadPool } from "./threads.js";
import { kernelModule, KERNEL_EXPORTS } from "./wasm/module.js";
import { workerHost } from "./workers.js";

/** How long an unleased pool keeps its workers before stopping them. */
const IDLE_CLOSE_MS = 2000;

/** Threads a network uses unless told otherwise: the machine's cores, at most 8. */
export const defaultThreads = (): number => {
  const host = workerHost();
  if (host.kind === null) { noteSingleThread(host.unavailable); return 1; }
  return Math.min(8, host.cores);
};

let noted = false;
/** One console note per process/page saying why kiln runs on one thread. */
function noteSingleThread(why: string): void {
  if (!noted) console.info(`kiln: one thread, because ${why}`);
  noted = true;
}

/** Parts each worker of the shared pool has run (empty: no pool yet, or one thread). */
export const threadJobs = (): number[] => pool?.jobsPerWorker() ?? [];

/** A network's hold on the process pool: `release` detaches its memory, once. */
export interface PoolLease {
  readonly pool: ThreadPool;
  release(): void;
}

let pool: ThreadPool | undefined;
let leases = 0;
let idleTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * A lease on the process-wide pool, grown to at least `threads`, for kernels running on `memory`
 * (null where the platform has no shared-memory threads). The pool is created on first use and
 * stopped once no lease is left.
 */
export function acquirePool(threads: number, memory: WebAssembly.Memory): PoolLease | null {
  const host = workerHost();
  if (host.kind === null) { noteSingleThread(host.unavailable); return null; }
  if (!pool || pool.isClosed) pool = new ThreadPool(threads, kernelModule(), KERNEL_EXPORTS);
  else pool.grow(threads);
  if (idleTimer !== undefined) { clearTimeout(idleTimer); idleTimer = undefined; }
  leases++;
  const held = pool;
  let released = false;
  return {
    pool: held,
    release: () => {
      if (released) return;
      released = true;
      held.detach(memory);
      if (--leases > 0 || held !== pool) return;
      idleTimer = setTimeout(() => {
        idleTimer = undefined;
        if (leases === 0 && pool === held) { held.close(); pool = undefined; }
      }, IDLE_CLOSE_MS);
      (idleTimer as { unref?: () => void }).unref?.();
    },
  };
}

/** What the pool holds now (KILN_DEBUG and tests): threads, live leases, parts taken back. */
export function poolStats(): { threads: number; leases: number; takenBack: number; soloSpells: number; ranAlone: number } {
  return { threads: pool && !pool.isClosed ? pool.threads : 0, leases, takenBack: pool?.takenBack ?? 0, soloSpells: pool?.judge.soloSpells ?? 0, ranAlone: pool?.ranAlone ?? 0 };
}

/**
 * Whether the process pool's judge may run calls alone (Judge.judging, runtime/judge.ts): tests of what the
 * split itself does turn it off, so that a busy machine cannot make their calls skip the split.
 */
export function setPoolJudging(on: boolean): void {
  if (pool) pool.judge.judging = on;
}
