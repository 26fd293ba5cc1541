/**
 * Worker threads that share a network's arena. A kernel call is split by the caller into parts
 * (rows of an output); part 0 runs on the calling thread, the others on workers, and the call
 * returns when all are done. Each output element is computed by exactly one part with the same
 * reduction order as an unsplit call, so results are bit-identical whatever the thread count.
 *
 * Synchronization is a shared control block per worker (Atomics.wait / notify): no message per
 * job, so a split costs microseconds.
 */
import { availableParallelism } from "node:os";
import { MessageChannel, Worker } from "node:worker_threads";
import { KilnError } from "./errors.js";
import { kernelModule, KERNEL_EXPORTS } from "./wasm/module.js";

interface Lane {
  readonly worker: Worker;
  readonly ctrl: Int32Array;
  readonly args: Float64Array;
  readonly port: MessageChannel["port1"];
  readonly attached: Set<number>;
  seq: number;
}

const MAX_ARGS = 32;
/** How long the caller spins for a worker's part before sleeping (KILN_SPIN_US; the worker spins likewise for its next job). */
const SPIN_MS = Number(process.env.KILN_SPIN_US ?? 1000) / 1000;

export class ThreadPool {
  private readonly lanes: Lane[] = [];
  private readonly memoryIds = new WeakMap<WebAssembly.Memory, number>();
  private nextMemoryId = 1;

  /** `threads` counts the calling thread: a pool of 2 has one worker. */
  constructor(readonly threads: number, private readonly module: WebAssembly.Module, private readonly names: readonly string[]) {
    for (let i = 1; i < threads; i++) {
      const ctrl = new Int32Array(new SharedArrayBuffer(64));
      const args = new Float64Array(new SharedArrayBuffer(8 * MAX_ARGS));
      const { port1, port2 } = new MessageChannel();
      // No loader flags: the worker is plain JavaScript, and an inherited loader (tsx) would
      // talk to this thread while it blocks in Atomics.wait — a deadlock.
      const worker = new Worker(new URL("./worker.mjs", import.meta.url), {
        workerData: { ctrlBuffer: ctrl.buffer, argsBuffer: args.buffer, port: port2 },
        transferList: [port2],
        execArgv: [],
      });
      worker.unref(); // an idle pool never keeps the process alive
      port1.unref();
      this.lanes.push({ worker, ctrl, args, port: port1, attached: new Set(), seq: 0 });
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
    for (let i = 1; i <= used; i++) {
      const lane = this.lanes[i - 1]!;
      if (!lane.attached.has(id)) {
        lane.port.postMessage({ id, memory, module: this.module, names: this.names });
        lane.attached.add(id);
      }
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
    for (let i = 0; i < used; i++) {
      const lane = this.lanes[i]!;
      // Spin briefly first: a thread asleep in Atomics.wait takes 50–150 µs to wake on a VM.
      const until = performance.now() + SPIN_MS;
      while (Atomics.load(lane.ctrl, 1) !== lane.seq && performance.now() < until);
      const start = Date.now();
      while (Atomics.load(lane.ctrl, 1) !== lane.seq) {
        Atomics.wait(lane.ctrl, 1, Atomics.load(lane.ctrl, 1), 1000);
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

  private idOf(memory: WebAssembly.Memory): number {
    let id = this.memoryIds.get(memory);
    if (id === undefined) { id = this.nextMemoryId++; this.memoryIds.set(memory, id); }
    return id;
  }
}

/** Threads a network uses unless told otherwise: the machine's cores, at most 8. */
export const defaultThreads = (): number => Math.min(8, availableParallelism());

let pool: ThreadPool | undefined;

/**
 * The process-wide pool, grown to at least `threads` (workers are shared by every network; a
 * network splits its kernels over the number of threads it was compiled for).
 */
export function sharedPool(threads: number): ThreadPool {
  if (!pool || pool.threads < threads) {
    pool?.close();
    pool = new ThreadPool(threads, kernelModule(), KERNEL_EXPORTS);
  }
  return pool;
}
