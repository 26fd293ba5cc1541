/**
 * Worker threads that share networks' arenas. A kernel call is split by the caller into parts
 * (rows of an output); part 0 runs on the calling thread, the others on workers, and the call
 * returns when all are done. Each output element is computed by exactly one part with the same
 * reduction order as an unsplit call, so results are bit-identical whatever the thread count.
 *
 * Synchronization is a shared control block per worker (Atomics.wait / notify; layout in
 * workers.ts): no message per job, so a split costs microseconds. A part runs on whichever thread
 * claims it first (compare-and-swap of ctrl[7]): when the caller has finished its own part and a
 * worker has not started its one — the machine is busy and the worker has no core, or it is
 * still starting — the caller takes it back and runs it itself (the same kernel on the same
 * bytes: the same bits) instead of waiting for a thread that is not running.
 *
 * Lifetime: one pool per process, shared by every network through leases (`acquirePool`). The
 * pool only ever grows while leased — a network compiled for more threads adds workers, it never
 * replaces the pool under networks that still hold its `run` — and a released network detaches
 * its memory from every worker. When the last lease is released the workers stop (after a short
 * grace period, so a compile/dispose loop does not restart them every time).
 */
import { KilnError } from "./errors.js";
import { kernelModule, KERNEL_EXPORTS } from "./wasm/module.js";
import { spinMs, workerHost, type ComputeWorker } from "./workers.js";

interface Lane {
  worker: ComputeWorker;
  ctrl: Int32Array;
  args: Float64Array;
  attached: Set<number>;
  seq: number;
  /** Parts this worker ran (a part the caller took back is not counted). */
  jobs: number;
  /** Memories this worker has dropped: see RECYCLE_AFTER. */
  detached: number;
}

type Exports = Record<string, (...a: number[]) => unknown>;

const MAX_ARGS = 32;
/** Arena's limit on threads per network. */
const MAX_THREADS = 64;
/** Export index of the job that drops a memory's instance in a worker (see worker.mjs). */
const DETACH = -1;
/** How long the caller spins for a worker's part before sleeping (KILN_SPIN_US). */
const SPIN_MS = spinMs();
/**
 * A worker allocates almost nothing, so its garbage collector seldom runs, and each memory it
 * dropped stays mapped until it does: a worker that has dropped this many is replaced by a fresh
 * one (tens of milliseconds, once per this many released networks), which keeps a process that
 * compiles network after network flat in memory.
 */
const RECYCLE_AFTER = 16;
/** How long the pool runs on the calling thread alone after splits stopped paying (see judge). */
const SOLO_MS = 100;
/** How long an unleased pool keeps its workers before stopping them. */
const IDLE_CLOSE_MS = 2000;

export class ThreadPool {
  private readonly lanes: Lane[] = [];
  private readonly memoryIds = new WeakMap<WebAssembly.Memory, number>();
  private nextMemoryId = 1;
  /** The kernels on each memory for this thread, to run parts taken back from workers. */
  private readonly localExports = new Map<number, Exports>();
  private readonly canBlock = workerHost().canBlock;
  private closed = false;
  /** Per call: whether part i was handed to its worker (1) or is run here (0). */
  private readonly posted = new Uint8Array(MAX_THREADS);
  /** Parts the caller ran itself because no worker had started them (KILN_DEBUG, tests). */
  takenBack = 0;

  /** `threads` counts the calling thread: a pool of 2 has one worker. */
  constructor(threads: number, private readonly module: WebAssembly.Module, private readonly names: readonly string[]) {
    this.grow(threads);
  }

  /** Threads available to a split: the workers plus the calling thread. */
  get threads(): number {
    return this.lanes.length + 1;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Add workers until the pool has `threads` (existing workers and attached memories stay). */
  grow(threads: number): void {
    if (this.closed) throw new KilnError("thread pool: grow after close");
    while (this.lanes.length < threads - 1) this.lanes.push(this.spawn(0));
  }

  private spawn(jobs: number): Lane {
    const ctrl = new Int32Array(new SharedArrayBuffer(64));
    const args = new Float64Array(new SharedArrayBuffer(8 * MAX_ARGS));
    return { worker: workerHost().spawn(ctrl, args), ctrl, args, attached: new Set(), seq: 0, jobs, detached: 0 };
  }

  /**
   * Run `local()` here and `exportName(...parts[i])` on worker i − 1 (parts[0] is ignored: the
   * caller's own share is `local`), then wait for every part a worker has claimed and run the
   * others here. A split into more parts than the pool has threads is refused, never silently
   * left half-computed.
   */
  run(memory: WebAssembly.Memory, exportName: string, parts: readonly (readonly number[])[], local: () => void): void {
    if (this.closed) throw new KilnError(`thread pool: ${exportName} called on a closed pool (was the network disposed?)`);
    if (parts.length > this.threads) throw new KilnError(`thread pool: ${exportName} split into ${parts.length} parts, but the pool has ${this.threads} threads`);
    const fn = this.names.indexOf(exportName);
    if (fn < 0) throw new KilnError(`thread pool: unknown kernel ${exportName}`);
    const id = this.idOf(memory);
    const used = parts.length - 1;
    if (this.soloUntil !== 0) {
      if (performance.now() < this.soloUntil) {
        local();
        for (let i = 1; i <= used; i++) this.runHere(memory, id, exportName, parts[i]!);
        return;
      }
      this.soloUntil = 0; // probe: split again, and see whether it pays
    }
    for (let i = 1; i <= used; i++) {
      const lane = this.lanes[i - 1]!;
      this.posted[i] = Atomics.load(lane.ctrl, 6); // 0: the worker is still starting
      if (this.posted[i] === 0) continue;
      if (!lane.attached.has(id)) {
        lane.worker.attach({ id, memory, module: this.module, names: this.names });
        lane.attached.add(id);
      }
      this.post(lane, id, fn, parts[i]!);
    }
    const t0 = performance.now();
    local();
    const t1 = performance.now();
    let waited = 0; // for claimed parts only: a part taken back is work done here, not a wait
    for (let i = 1; i <= used; i++) {
      const lane = this.lanes[i - 1]!;
      if (this.posted[i] === 0) { this.runHere(memory, id, exportName, parts[i]!); continue; }
      if (Atomics.compareExchange(lane.ctrl, 7, lane.seq - 1, lane.seq) === lane.seq - 1) {
        // Unclaimed: the worker is not running. Take the part back; it is done when we are.
        this.runHere(memory, id, exportName, parts[i]!);
        lane.jobs--;
        Atomics.store(lane.ctrl, 1, lane.seq);
      } else {
        // Claimed: the worker runs it and, having started with us, should finish about when we
        // did — spin no longer than our own share took, then sleep (a longer spin only takes
        // the core from a worker that was descheduled).
        const w0 = performance.now();
        this.wait(lane, exportName, Math.min(SPIN_MS, Math.max(0.02, t1 - t0)));
        waited += performance.now() - w0;
      }
    }
    this.judge(t1 - t0, waited);
  }

  /**
   * Whether splitting pays on this machine now. Parts are equal shares, so a worker that had a
   * core finishes about when the caller does; a wait for it much longer than the caller's own
   * share means the worker was descheduled mid-part (another process holds the cores), and that
   * split was slower than one thread. After a few such splits in a row the pool runs every part
   * on the calling thread (the same calls: the same bits) for SOLO_MS, then tries again.
   */
  private judge(own: number, waited: number): void {
    if (waited > own + 0.05) {
      if (++this.slowSplits >= 3) { this.soloUntil = performance.now() + SOLO_MS; this.slowSplits = 0; this.soloSpells++; }
    } else {
      this.slowSplits = 0;
    }
  }

  private slowSplits = 0;
  private soloUntil = 0;
  /** Times the pool fell back to the calling thread alone (KILN_DEBUG, tests). */
  soloSpells = 0;

  /** Drop `memory` from every worker that instantiated kernels on it (its network was released). */
  detach(memory: WebAssembly.Memory): void {
    const id = this.memoryIds.get(memory);
    if (id === undefined || this.closed) return;
    this.localExports.delete(id);
    this.lanes.forEach((lane, i) => {
      if (!lane.attached.delete(id)) return;
      this.post(lane, id, DETACH, []);
      this.wait(lane, "detach");
      // Safe whenever the lane is idle: the new worker is sent the memories it runs on anew.
      if (++lane.detached >= RECYCLE_AFTER) {
        this.stop(lane);
        this.lanes[i] = this.spawn(lane.jobs);
      }
    });
    this.memoryIds.delete(memory);
  }

  /** Stop the workers; any later `run` is an error. */
  close(): void {
    this.closed = true;
    for (const lane of this.lanes) this.stop(lane);
    this.lanes.length = 0;
    this.localExports.clear();
  }

  /** Parts each worker has run since the pool started (shows that threads are in use). */
  jobsPerWorker(): number[] {
    return this.lanes.map((l) => l.jobs);
  }

  private stop(lane: Lane): void {
    Atomics.store(lane.ctrl, 0, -1);
    Atomics.notify(lane.ctrl, 0);
    lane.worker.terminate();
  }

  /** Hand a job to one worker (arguments copied into its shared block: no allocation). */
  private post(lane: Lane, id: number, fn: number, a: readonly number[]): void {
    if (a.length > MAX_ARGS) throw new KilnError(`thread pool: ${a.length} arguments, at most ${MAX_ARGS}`);
    for (let k = 0; k < a.length; k++) lane.args[k] = a[k]!; // no iterator, no allocation
    lane.ctrl[2] = id;
    lane.ctrl[3] = fn;
    lane.ctrl[4] = a.length;
    if (fn !== DETACH) lane.jobs++;
    lane.seq++;
    Atomics.store(lane.ctrl, 0, lane.seq);
    Atomics.notify(lane.ctrl, 0);
  }

  /** Wait until the worker has finished its last job. */
  private wait(lane: Lane, what: string, spin = SPIN_MS): void {
    // Spin briefly first: a thread asleep in Atomics.wait takes 50–150 µs to wake on a VM.
    const until = performance.now() + spin;
    while (Atomics.load(lane.ctrl, 1) !== lane.seq && performance.now() < until);
    const start = Date.now();
    while (Atomics.load(lane.ctrl, 1) !== lane.seq) {
      if (this.canBlock) Atomics.wait(lane.ctrl, 1, Atomics.load(lane.ctrl, 1), 1000);
      // A worker that died or never started must not hang the process.
      if (Date.now() - start > 60_000) throw new KilnError(`thread pool: a worker did not finish ${what} within 60 s`);
    }
  }

  /** Run one part on this thread: same kernels, same bytes, same bits. */
  private runHere(memory: WebAssembly.Memory, id: number, exportName: string, part: readonly number[]): void {
    let exports = this.localExports.get(id);
    if (!exports) {
      exports = new WebAssembly.Instance(this.module, { env: { memory } }).exports as Exports;
      this.localExports.set(id, exports);
    }
    exports[exportName]!(...part);
    this.takenBack++;
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
export function poolStats(): { threads: number; leases: number; takenBack: number; soloSpells: number } {
  return { threads: pool && !pool.isClosed ? pool.threads : 0, leases, takenBack: pool?.takenBack ?? 0, soloSpells: pool?.soloSpells ?? 0 };
}
