/**
 * Worker threads that share networks' arenas. A kernel call is cut by the kernel into chunks
 * (row or column blocks of an output, fixed by the problem, never by timing or thread count);
 * the calling thread and the workers claim chunks one at a time from a shared ticket counter
 * until none is left, and the call returns when every chunk is done. Each output element is
 * computed by exactly one chunk with the same reduction order as an unsplit call, so the bits are
 * the same whatever the thread count and whichever thread ran which chunk.
 *
 * Why chunks claimed dynamically: on a machine whose cores are busy with other work, a worker is
 * descheduled at any moment, for a scheduler time slice (milliseconds). With one fixed share per
 * thread the caller then waits for the rest of that share; here it keeps claiming chunks, so it
 * waits for at most the one chunk the descheduled worker holds — and, sleeping, it hands that
 * worker its core. A worker that has not started when the caller runs out of chunks has its job
 * taken back (compare-and-swap of ctrl[7]) and is not waited for at all.
 *
 * Tickets are a pool-wide counter that only grows: call k owns tickets [base, end) and a worker
 * claims ticket v only while v < end by compare-and-swap, so a worker that wakes up late, from a
 * call long finished, finds its tickets gone and cannot take one of a later call. The done
 * counter follows the ticket counter: the caller returns when it reaches end.
 *
 * Synchronization is shared memory (Atomics.wait / notify; layout in workers.ts): no message per
 * job, so a split costs microseconds. Lifetime: one pool per process, shared by every network
 * through leases (`acquirePool`). The pool only ever grows while leased — a network compiled for
 * more threads adds workers, it never replaces the pool under networks that still hold its `run` —
 * and a released network detaches its memory from every worker (the leases: ./pool.ts).
 */
import { KilnError } from "./errors.js";
import { Judge, timedAlone } from "./judge.js";
import type { KernelSet, SplitSite } from "./kernels/types.js";
import { spinMs, workerHost, CTRL_INTS, MAX_CHUNK_ARGS, type ComputeWorker } from "./workers.js";

interface Lane {
  worker: ComputeWorker;
  ctrl: Int32Array;
  args: Float64Array;
  attached: Set<number>;
  seq: number;
  /** Chunks run by the workers this lane had before (see RECYCLE_AFTER). */
  jobsBefore: number;
  /** Memories this worker has dropped: see RECYCLE_AFTER. */
  detached: number;
}

type Exports = Record<string, (...a: number[]) => unknown>;

/** Arena's limit on threads per network. */
const MAX_THREADS = 64;
/** Export index of the job that drops a memory's instance in a worker (see worker.mjs). */
const DETACH = -1;
/** How long the caller spins for a worker's chunk before sleeping (KILN_SPIN_US). */
const SPIN_MS = spinMs();
/**
 * A worker allocates almost nothing, so its garbage collector seldom runs, and each memory it
 * dropped stays mapped until it does: a worker that has dropped this many is replaced by a fresh
 * one (tens of milliseconds, once per this many released networks), which keeps a process that
 * compiles network after network flat in memory.
 */
const RECYCLE_AFTER = 16;
/** How long a call waits for a worker to finish its last job before leaving it out (see idle). */
const IDLE_SPIN_MS = 0.01;

/** Arguments of a split call: table[thread][chunk] is chunk's argument list on that thread. */
export type ChunkArgs = readonly (readonly (readonly number[])[])[];

export class ThreadPool {
  private readonly lanes: Lane[] = [];
  /** [0] next ticket to claim, [1] tickets done (see the file comment). */
  private readonly tickets = new Int32Array(new SharedArrayBuffer(64));
  private readonly memoryIds = new WeakMap<WebAssembly.Memory, number>();
  private nextMemoryId = 1;
  /** The kernels on each memory for this thread (tests run chunks through it). */
  private readonly localExports = new Map<number, Exports>();
  private readonly canBlock = workerHost().canBlock;
  private closed = false;
  /** Per call: whether lane i − 1 was handed the job. */
  private readonly posted = new Uint8Array(MAX_THREADS);
  /** Worker jobs the caller took back because the worker had not started them (KILN_DEBUG, tests). */
  takenBack = 0;
  /** Calls that ran on the calling thread alone: solo spell, or every worker still busy (tests). */
  ranAlone = 0;

  /** The kernel module's exports, the default set a call runs (a generated module's come with its call). */
  private readonly kernels: KernelSet;

  /**
   * `threads` counts the calling thread: a pool of 2 has one worker. `spawnWorker` starts one
   * worker on its blocks (the platform's, unless a test brings a worker of its own).
   */
  constructor(threads: number, module: WebAssembly.Module, names: readonly string[],
    private readonly spawnWorker: (ctrl: Int32Array, args: Float64Array, tickets: Int32Array) => ComputeWorker = (c, a, t) => workerHost().spawn(c, a, t)) {
    this.kernels = { module, names };
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

  private spawn(jobsBefore: number): Lane {
    const ctrl = new Int32Array(new SharedArrayBuffer(4 * CTRL_INTS));
    const args = new Float64Array(new SharedArrayBuffer(8 * MAX_CHUNK_ARGS));
    return { worker: this.spawnWorker(ctrl, args, this.tickets), ctrl, args, attached: new Set(), seq: 0, jobsBefore, detached: 0 };
  }

  /**
   * Run the chunks of one kernel call: `local[c]()` is chunk c on this thread, `table[t][c]` the
   * arguments of `exportName` for chunk c on thread t (they may differ per thread only in
   * per-thread scratch). Threads beyond table.length, or beyond the chunks, are not used. When
   * the pool runs alone (see ./judge.ts) it calls `alone` instead, which must compute the same bits —
   * by default every chunk in order here.
   */
  run(memory: WebAssembly.Memory, exportName: string, table: ChunkArgs, local: readonly (() => void)[], alone?: () => void, site?: SplitSite, kernels?: KernelSet): void {
    if (this.closed) throw new KilnError(`thread pool: ${exportName} called on a closed pool (was the network disposed?)`);
    const chunks = local.length;
    if (table.length < 1 || table.some((t) => t.length !== chunks)) throw new KilnError(`thread pool: ${exportName} needs one argument list per chunk (${chunks}) on every thread`);
    const set = kernels ?? this.kernels;
    const fn = set.names.indexOf(exportName);
    if (fn < 0) throw new KilnError(`thread pool: unknown kernel ${exportName}`);
    const lanes = Math.min(this.lanes.length, table.length - 1, chunks - 1);
    let used = 0;
    const n = site ? ++site.calls : 0;
    if (this.judge.maySplit(site, n)) {
      const start = performance.now();
      const base = Atomics.load(this.tickets, 0), end = (base + chunks) | 0, id = this.idOf(memory, set);
      for (let i = 1; i <= lanes; i++) {
        const lane = this.lanes[i - 1]!;
        // Not yet listening (a browser starts workers only when its creator yields), or still
        // inside an earlier job (descheduled): leave this worker out of the call.
        this.posted[i] = Atomics.load(lane.ctrl, 6) === 1 && this.idle(lane) ? 1 : 0;
        if (this.posted[i] === 0) continue;
        if (!lane.attached.has(id)) {
          lane.worker.attach({ id, memory, module: set.module, names: set.names });
          lane.attached.add(id);
        }
        this.post(lane, id, fn, table[i]!, base, end);
        used++;
      }
      if (used > 0) return this.share(local, base, end, lanes, start, site);
    }
    this.ranAlone++;
    const start = performance.now();
    if (alone) alone();
    else for (let c = 0; c < chunks; c++) local[c]!(); // no other thread can claim: tickets untouched
    if (site && n > 1) timedAlone(site, performance.now() - start); // the first pays for cold caches
  }

  /** Claim chunks here until none is left, take back jobs not started, wait for chunks held. */
  private share(local: readonly (() => void)[], base: number, end: number, lanes: number, start: number, site?: SplitSite): void {
    const t = this.tickets;
    const t0 = performance.now();
    let mine = 0;
    for (;;) {
      const v = Atomics.load(t, 0);
      if (((v - end) | 0) >= 0) break;
      if (Atomics.compareExchange(t, 0, v, (v + 1) | 0) !== v) continue;
      local[(v - base) | 0]!();
      Atomics.add(t, 1, 1);
      mine++;
    }
    const own = performance.now() - t0, chunk = own / Math.max(1, mine), chunks = (end - base) | 0;
    if (site && mine === chunks) timedAlone(site, own); // the workers took no chunk: this was a call alone
    for (let i = 1; i <= lanes; i++) {
      const lane = this.lanes[i - 1]!;
      if (this.posted[i] === 0) continue;
      if (Atomics.compareExchange(lane.ctrl, 7, lane.seq - 1, lane.seq) === lane.seq - 1) {
        Atomics.store(lane.ctrl, 1, lane.seq); // never started: it will skip this job
        this.takenBack++;
      }
    }
    // A worker holds a chunk. Running, it finishes within about one chunk's time of us: spin
    // that long, then sleep (a longer spin only takes the core from a worker that was descheduled).
    if (Atomics.load(t, 1) !== end) this.until(t, 1, end, "its chunks", Math.min(SPIN_MS, Math.max(0.02, chunk)));
    // Alone, the call takes its site's measured time; without a site, all its chunks timed as ours.
    this.judge.verdict(performance.now() - start, site && site.aloneMs === site.aloneMs ? site.aloneMs : chunks * chunk);
  }

  /**
   * Whether a worker is done with its last job. One that ran the last chunk of the previous call
   * is a few instructions from saying so when we start the next: give it IDLE_SPIN_MS.
   */
  private idle(lane: Lane): boolean {
    if (Atomics.load(lane.ctrl, 1) === lane.seq) return true;
    const until = performance.now() + IDLE_SPIN_MS;
    while (performance.now() < until) if (Atomics.load(lane.ctrl, 1) === lane.seq) return true;
    return false;
  }

  /** Whether splits pay now (./judge.ts): tests of the split itself turn `judge.judging` off. */
  readonly judge = new Judge();

  /** Drop `memory` from every worker that instantiated kernels on it (its network was released). */
  detach(memory: WebAssembly.Memory): void {
    const id = this.memoryIds.get(memory);
    if (id === undefined || this.closed) return;
    this.localExports.delete(id);
    const ids = [id, ...(this.moduleIds.get(memory)?.values() ?? [])];
    this.lanes.forEach((lane, i) => {
      const held = ids.filter((x) => lane.attached.delete(x));
      if (held.length === 0) return;
      this.until(lane.ctrl, 1, lane.seq, "its last job"); // a job whose chunks are all done may still be ending
      for (const x of held) {
        this.post(lane, x, DETACH, [], 0, 0);
        this.until(lane.ctrl, 1, lane.seq, "detach");
      }
      // Safe whenever the lane is idle: the new worker is sent the memories it runs on anew.
      if (++lane.detached >= RECYCLE_AFTER) {
        this.stop(lane);
        this.lanes[i] = this.spawn(lane.jobsBefore + lane.ctrl[10]!);
      }
    });
    this.memoryIds.delete(memory);
    this.moduleIds.delete(memory);
  }

  /** Stop the workers; any later `run` is an error. */
  close(): void {
    this.closed = true;
    for (const lane of this.lanes) this.stop(lane);
    this.lanes.length = 0;
    this.localExports.clear();
  }

  /** Chunks each worker has run since the pool started (shows that threads are in use). */
  jobsPerWorker(): number[] {
    return this.lanes.map((l) => l.jobsBefore + Atomics.load(l.ctrl, 10));
  }

  private stop(lane: Lane): void {
    Atomics.store(lane.ctrl, 0, -1);
    Atomics.notify(lane.ctrl, 0);
    lane.worker.terminate();
  }

  /** Hand a job to one worker: its argument table copied into the shared block (no allocation). */
  private post(lane: Lane, id: number, fn: number, chunks: readonly (readonly number[])[], base: number, end: number): void {
    const n = chunks.length > 0 ? chunks[0]!.length : 0;
    if (n * chunks.length > MAX_CHUNK_ARGS) throw new KilnError(`thread pool: ${chunks.length} chunks of ${n} arguments, at most ${MAX_CHUNK_ARGS} numbers`);
    for (let c = 0; c < chunks.length; c++) {
      const a = chunks[c]!;
      for (let k = 0; k < n; k++) lane.args[c * n + k] = a[k]!; // no iterator, no allocation
    }
    lane.ctrl[2] = id;
    lane.ctrl[3] = fn;
    lane.ctrl[4] = n;
    lane.ctrl[8] = base;
    lane.ctrl[9] = end;
    lane.seq++;
    Atomics.store(lane.ctrl, 0, lane.seq);
    Atomics.notify(lane.ctrl, 0);
  }

  /** Wait until a[i] === value: spin `spin` ms first (a thread asleep in Atomics.wait takes 50–150 µs to wake on a VM), then sleep. */
  private until(a: Int32Array, i: number, value: number, what: string, spin = SPIN_MS): void {
    const stop = performance.now() + spin;
    while (Atomics.load(a, i) !== value && performance.now() < stop);
    const start = Date.now();
    for (let v = Atomics.load(a, i); v !== value; v = Atomics.load(a, i)) {
      if (this.canBlock) Atomics.wait(a, i, v, 1000);
      // A worker that died or never started must not hang the process.
      if (Date.now() - start > 60_000) throw new KilnError(`thread pool: a worker did not finish ${what} within 60 s`);
    }
  }

  /** The kernels on `memory` for this thread (tests run chunks through it, as a kernel's `local`). */
  exportsFor(memory: WebAssembly.Memory): Exports {
    const id = this.idOf(memory);
    let exports = this.localExports.get(id);
    if (!exports) {
      exports = new WebAssembly.Instance(this.kernels.module, { env: { memory } }).exports as Exports;
      this.localExports.set(id, exports);
    }
    return exports;
  }

  /**
   * The id the workers know an instance by: one per memory for the kernel module, one per memory
   * and module for a generated one (a fused loop's, runtime/wasm/fused-run.ts). All of a memory's
   * are dropped when it is detached.
   */
  private idOf(memory: WebAssembly.Memory, set: KernelSet = this.kernels): number {
    let id = this.memoryIds.get(memory);
    if (id === undefined) { id = this.nextMemoryId++; this.memoryIds.set(memory, id); }
    if (set === this.kernels) return id;
    let perModule = this.moduleIds.get(memory);
    if (!perModule) this.moduleIds.set(memory, (perModule = new Map()));
    let mid = perModule.get(set.module);
    if (mid === undefined) { mid = this.nextMemoryId++; perModule.set(set.module, mid); }
    return mid;
  }
  private readonly moduleIds = new WeakMap<WebAssembly.Memory, Map<WebAssembly.Module, number>>();
}
