/**
 * Worker threads that share a network's arena. A kernel call is split by the caller into parts
 * (rows of an output); part 0 runs on the calling thread, the others on workers, and the call
 * returns when all are done. Each output element is computed by exactly one part with the same
 * reduction order as an unsplit call, so results are bit-identical whatever the thread count.
 *
 * Synchronization is a shared control block per worker (Atomics.wait / notify): no message per
 * job, so a split costs microseconds.
 */
import { KilnError } from "./errors.js";
import { kernelModule, KERNEL_EXPORTS } from "./wasm/module.js";
import { spinMs, workerHost, type ComputeWorker } from "./workers.js";

interface Lane {
  readonly worker: ComputeWorker;
  readonly ctrl: Int32Array;
  readonly args: Float64Array;
  readonly attached: Set<number>;
  seq: number;
  /** Parts this worker ran (a part run by the caller while the worker was starting is not counted). */
  jobs: number;
}

const MAX_ARGS = 32;
/** How long the caller spins for a worker's part before sleeping (KILN_SPIN_US; the worker spins likewise for its next job). */
const SPIN_MS = spinMs();

export class ThreadPool {
  private readonly lanes: Lane[] = [];
  private readonly memoryIds = new WeakMap<WebAssembly.Memory, number>();
  private nextMemoryId = 1;
  /** The kernels on each memory for this thread, to run a part whose worker has not started yet. */
  private readonly localExports = new Map<number, Record<string, (...a: number[]) => unknown>>();
  private readonly canBlock = workerHost().canBlock;
  private readonly late: Uint8Array;

  /** `threads` counts the calling thread: a pool of 2 has one worker. */
  constructor(readonly threads: number, private readonly module: WebAssembly.Module, private readonly names: readonly string[]) {
    this.late = new Uint8Array(threads);
    for (let i = 1; i < threads; i++) {
      const ctrl = new Int32Array(new SharedArrayBuffer(64));
      const args = new Float64Array(new SharedArrayBuffer(8 * MAX_ARGS));
      this.lanes.push({ worker: workerHost().spawn(ctrl, args), ctrl, args, attached: new Set(), seq: 0, jobs: 0 });
    }
  }

  /**
   * Run `local()` here and `exportName(...parts[i])` on worker i − 1 (parts[0] is ignored: the
   * caller's own share is `local`), then wait for every part.
   */
  run(memory: WebAssembly.Memory, exportName: string, parts: readonly (readonly number[])[], local: () => void): void {
    const fn = this.names.indexOf(exportName);
    if (fn < 0) throw new KilnError(`thread pool: unknown kernel ${exportName}`);
    const id = this.idOf(memory);
    const used = Math.min(parts.length - 1, this.lanes.length);
    let late = 0; // parts of workers still starting (ctrl[6] = 0): flagged in this.late, run here after local()
    for (let i = 1; i <= used; i++) {
      const lane = this.lanes[i - 1]!;
      this.late[i] = Atomics.load(lane.ctrl, 6) === 0 ? 1 : 0;
      if (this.late[i] === 1) { late++; continue; }
      if (!lane.attached.has(id)) {
        lane.worker.attach({ id, memory, module: this.module, names: this.names });
        lane.attached.add(id);
      }
      lane.jobs++;
      const a = parts[i]!;
      for (let k = 0; k < a.length; k++) lane.args[k] = a[k]!; // no iterator, no allocation
      lane.ctrl[2] = id;
      lane.ctrl[3] = fn;
      lane.ctrl[4] = a.length;
      lane.seq++;
      Atomics.store(lane.ctrl, 0, lane.seq);
      Atomics.notify(lane.ctrl, 0);
    }
    local();
    if (late !== 0) this.runLate(memory, id, exportName, parts, used);
    for (let i = 0; i < used; i++) {
      const lane = this.lanes[i]!;
      if (this.late[i + 1] === 1) continue;
      // Spin briefly first: a thread asleep in Atomics.wait takes 50–150 µs to wake on a VM.
      const until = performance.now() + SPIN_MS;
      while (Atomics.load(lane.ctrl, 1) !== lane.seq && performance.now() < until);
      const start = Date.now();
      while (Atomics.load(lane.ctrl, 1) !== lane.seq) {
        if (this.canBlock) Atomics.wait(lane.ctrl, 1, Atomics.load(lane.ctrl, 1), 1000);
        // A worker that died or never started must not hang the process.
        if (Date.now() - start > 60_000) throw new KilnError(`thread pool: a worker did not finish ${exportName} within 60 s`);
      }
    }
  }

  /** Stop the workers (tests; the pool is otherwise process-wide). */
  close(): void {
    for (const lane of this.lanes) {
      Atomics.store(lane.ctrl, 0, -1);
      Atomics.notify(lane.ctrl, 0);
      void lane.worker.terminate();
    }
    this.lanes.length = 0;
  }

  /** Parts each worker has run since the pool started (shows that threads are in use). */
  jobsPerWorker(): number[] {
    return this.lanes.map((l) => l.jobs);
  }

  /** Run here the parts 1..used flagged late (their workers have not started): same kernels, same bits. */
  private runLate(memory: WebAssembly.Memory, id: number, exportName: string, parts: readonly (readonly number[])[], used: number): void {
    let exports = this.localExports.get(id);
    if (!exports) {
      exports = new WebAssembly.Instance(this.module, { env: { memory } }).exports as Record<string, (...a: number[]) => unknown>;
      this.localExports.set(id, exports);
    }
    const fn = exports[exportName]!;
    for (let i = 1; i <= used; i++) if (this.late[i] === 1) fn(...parts[i]!);
  }

  private idOf(memory: WebAssembly.Memory): number {
    let id = this.memoryIds.get(memory);
    if (id === undefined) { id = this.nextMemoryId++; this.memoryIds.set(memory, id); }
    return id;
  }
}

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

let pool: ThreadPool | undefined;

/**
 * The process-wide pool, grown to at least `threads` (workers are shared by every network; a
 * network splits its kernels over the number of threads it was compiled for).
 */
export function sharedPool(threads: number): ThreadPool | null {
  const host = workerHost();
  if (host.kind === null) { noteSingleThread(host.unavailable); return null; }
  if (!pool || pool.threads < threads) {
    pool?.close();
    pool = new ThreadPool(threads, kernelModule(), KERNEL_EXPORTS);
  }
  return pool;
}
