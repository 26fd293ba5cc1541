/**
 * Compute threads on the two platforms kiln runs on, behind one small interface the thread pool
 * (threads.ts) uses: Node's worker_threads, or a browser's Web Workers. Both run the same
 * protocol on shared blocks and receive by message each module they run (the kernel module, fused
 * loops' modules) with the shared memory to instantiate it on. Per worker, `ctrl` (CTRL_INTS int32)
 * and `args` (MAX_CHUNK_ARGS float64):
 *   ctrl[0] job sequence (−1: exit)   ctrl[1] last finished job   ctrl[2] instance id
 *   ctrl[3] export index              ctrl[4] arguments per chunk ctrl[5] scratch for a timed wait
 *   ctrl[6] 1 once the worker listens (a browser starts workers only when the creating thread
 *           yields to its event loop; until then the caller leaves it out)
 *   ctrl[7] last claimed job: a job runs on the worker only if it moves ctrl[7] from seq − 1 to
 *           seq first; the caller moves it to take back a job the worker has not started
 *   ctrl[8], ctrl[9] the job's tickets [base, end)   ctrl[10] chunks this worker has run
 *   args    chunk c's arguments at [c·n, c·n + n), n = ctrl[4]
 * and, shared by the pool's workers, `tickets`: [0] next ticket, [1] tickets done. A worker with
 * job [base, end) claims ticket v by moving tickets[0] from v to v + 1 while v < end, runs chunk
 * v − base, adds 1 to tickets[1] and notifies it; it stops when v reaches end.
 * Export index −1 is not a kernel: the worker drops the instance of memory ctrl[2].
 */
import { envSetting, hasNodeBuiltins, nodeBuiltin } from "./host.js";

/** What a worker is sent for each memory it must run kernels on. */
export interface AttachMessage {
  readonly id: number;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly names: readonly string[];
}

export interface ComputeWorker {
  attach(message: AttachMessage): void;
  terminate(): void;
}

export interface WorkerHost {
  /** "node" or "web"; null when this platform has no shared-memory threads. */
  readonly kind: "node" | "web" | null;
  /** Why there are no threads here (kind null), in words for a console note. */
  readonly unavailable: string;
  /** Whether this thread may sleep in Atomics.wait (a browser's main thread may not: it spins). */
  readonly canBlock: boolean;
  /** Logical cores (navigator.hardwareConcurrency or os.availableParallelism). */
  readonly cores: number;
  spawn(ctrl: Int32Array, args: Float64Array, tickets: Int32Array): ComputeWorker;
}

/** Int32 words of a worker's control block. */
export const CTRL_INTS = 16;
/** Float64 words of a worker's argument block: every chunk's arguments of one job. */
export const MAX_CHUNK_ARGS = 1024;

/**
 * How long a waiting thread spins before sleeping, in ms (KILN_SPIN_US, default 500 µs): a
 * sleeping worker takes 50–150 µs to wake on a VM, longer than many split kernels, so it must be
 * spinning when the next one comes — and between two split kernels a step runs unsplit ones
 * (checks, updates, small products) or the user's code runs (several networks stepped in turn):
 * with 100 µs the worker slept through those gaps and the lecture's 50-layer net interleaved with
 * two others ran at 13.5 ms a step on 2 threads against 6.5 with 500 (bench/numerics.ts). On a
 * busy machine a long spin takes the core from the thread being waited for, but there the pool's
 * judge (threads.ts) runs alone and hands out no job, so the worker spins once and sleeps.
 */
export const spinMs = (): number => envSetting("KILN_SPIN_US", "microseconds, a number ≥ 0", 500, (t) => (/^[0-9]+(\.[0-9]*)?$/.test(t) ? Number(t) : undefined)) / 1000;

let host: WorkerHost | undefined;

/** The worker host of this platform (chosen once). */
export function workerHost(): WorkerHost {
  host ??= hasNodeBuiltins() ? nodeHost() : webHost();
  return host;
}

function nodeHost(): WorkerHost {
  const wt = nodeBuiltin<typeof import("node:worker_threads")>("node:worker_threads", "threads");
  const os = nodeBuiltin<typeof import("node:os")>("node:os", "threads");
  return {
    kind: "node",
    unavailable: "",
    canBlock: true,
    cores: os.availableParallelism(),
    spawn(ctrl, args, tickets) {
      const { port1, port2 } = new wt.MessageChannel();
      // No loader flags: the worker is plain JavaScript, and an inherited loader (tsx) would
      // talk to this thread while it blocks in Atomics.wait — a deadlock.
      const worker = new wt.Worker(new URL("./worker.mjs", import.meta.url), {
        workerData: { ctrlBuffer: ctrl.buffer, argsBuffer: args.buffer, ticketsBuffer: tickets.buffer, port: port2 },
        transferList: [port2],
        execArgv: [],
      });
      worker.unref(); // an idle pool never keeps the process alive
      port1.unref();
      return { attach: (m) => port1.postMessage(m), terminate: () => void worker.terminate() };
    },
  };
}

interface WebGlobals {
  Worker?: new (url: string, options?: { name?: string }) => { postMessage(m: unknown): void; terminate(): void };
  Blob?: new (parts: string[], options: { type: string }) => unknown;
  URL: { createObjectURL?(blob: unknown): string };
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  document?: unknown;
}

function webHost(): WorkerHost {
  const g = globalThis as unknown as WebGlobals;
  const cores = g.navigator?.hardwareConcurrency ?? 1;
  const unavailable =
    typeof g.Worker !== "function" || typeof g.Blob !== "function" ? "this platform has no Web Workers"
      : g.crossOriginIsolated !== true ? "the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp), so it cannot share memory with Web Workers"
        : "";
  let url: string | undefined;
  return {
    kind: unavailable === "" ? "web" : null,
    unavailable,
    // A window may not sleep in Atomics.wait; a worker may.
    canBlock: g.document === undefined,
    cores,
    spawn(ctrl, args, tickets) {
      // The worker's code travels as a Blob made from webWorkerMain's source: no file for a
      // bundler or server to find, and it needs nothing but what it is sent.
      url ??= g.URL.createObjectURL!(new g.Blob!([`(${webWorkerMain.toString()})()`], { type: "text/javascript" }));
      const worker = new g.Worker!(url, { name: "kiln compute" });
      worker.postMessage({ ctrl: ctrl.buffer, args: args.buffer, tickets: tickets.buffer, spinMs: spinMs() });
      return { attach: (m) => worker.postMessage(m), terminate: () => worker.terminate() };
    },
  };
}

/**
 * A Web Worker's loop (runs as its own script: it may use nothing from outside this function).
 * Same protocol as worker.mjs, but it sleeps with Atomics.waitAsync so that the messages
 * attaching memories, which a browser delivers only through the event loop, can arrive.
 */
function webWorkerMain(): void {
  type Exports = Record<string, (...a: number[]) => unknown>;
  const scope = globalThis as unknown as { onmessage: ((e: { data: Record<string, unknown> }) => void) | null; close(): void };
  const instances = new Map<number, { exports: Exports; names: readonly string[] }>();
  let arrived: (() => void) | null = null;
  scope.onmessage = (e) => {
    const m = e.data;
    if (m["ctrl"] !== undefined) {
      const buffer = (k: string) => m[k] as SharedArrayBuffer;
      void loop(new Int32Array(buffer("ctrl")), new Float64Array(buffer("args")), new Int32Array(buffer("tickets")), m["spinMs"] as number);
      return;
    }
    const memory = m["memory"] as WebAssembly.Memory;
    const exports = new WebAssembly.Instance(m["module"] as WebAssembly.Module, { env: { memory } }).exports as Exports;
    instances.set(m["id"] as number, { exports, names: m["names"] as string[] });
    arrived?.();
  };
  async function loop(ctrl: Int32Array, args: Float64Array, tickets: Int32Array, spin: number): Promise<void> {
    let seen = 0;
    Atomics.store(ctrl, 6, 1);
    for (;;) {
      const until = performance.now() + spin;
      while (Atomics.load(ctrl, 0) === seen && performance.now() < until);
      if (Atomics.load(ctrl, 0) === seen) {
        const w = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: unknown } }).waitAsync(ctrl, 0, seen);
        if (w.async) await w.value;
        continue;
      }
      const seq = Atomics.load(ctrl, 0);
      if (seq < 0) { scope.close(); return; }
      seen = seq;
      if (Atomics.compareExchange(ctrl, 7, seq - 1, seq) !== seq - 1) continue; // the caller took it back
      if (ctrl[3] === -1) {
        instances.delete(ctrl[2]!);
      } else {
        while (!instances.has(ctrl[2]!)) await new Promise<void>((resolve) => { arrived = resolve; });
        const inst = instances.get(ctrl[2]!)!;
        const fn = inst.exports[inst.names[ctrl[3]!]!]!;
        const n = ctrl[4]!, base = ctrl[8]!, end = ctrl[9]!;
        for (;;) {
          const v = Atomics.load(tickets, 0);
          if (((v - end) | 0) >= 0) break;
          if (Atomics.compareExchange(tickets, 0, v, (v + 1) | 0) !== v) continue;
          const c = (v - base) | 0;
          fn(...Array.from(args.subarray(c * n, c * n + n)));
          ctrl[10] = ctrl[10]! + 1;
          Atomics.add(tickets, 1, 1);
          Atomics.notify(tickets, 1);
        }
      }
      Atomics.store(ctrl, 1, seq);
      Atomics.notify(ctrl, 1);
    }
  }
}
