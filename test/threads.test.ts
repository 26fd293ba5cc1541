/**
 * The thread pool's chunk protocol (runtime/threads.ts): chunks claimed by either thread give the
 * same bits as one unsplit call; a worker that holds a chunk and stops running (descheduled)
 * holds the caller up by that chunk only; a worker that wakes after its call is over takes
 * nothing of later calls; a closed pool refuses work. Misbehaving workers are test workers
 * (helpers/stall-worker.cjs) speaking the same protocol; nothing here asserts a timing.
 */
import { MessageChannel, Worker } from "node:worker_threads";
import { afterAll, describe, expect, it } from "vitest";
import { Arena } from "../runtime/arena.js";
import { KilnError } from "../runtime/errors.js";
import { kernels } from "../runtime/kernels/index.js";
import { splitSite, type KernelContext, type ThreadPoolLike } from "../runtime/kernels/types.js";
import { ThreadPool } from "../runtime/threads.js";
import { KERNEL_EXPORTS, SGEMM_SCRATCH_BYTES, instantiateKernels, kernelModule } from "../runtime/wasm/module.js";
import { emitFusedElementwise } from "../runtime/wasm/fused.js";
import { fusedInstance, prepareFused } from "../runtime/wasm/fused-run.js";
import { fusedSplit } from "../runtime/kernels/chunks.js";
import { scalarOps } from "../compiler/ops/index.js";
import type { ComputeWorker } from "../runtime/workers.js";
import { rand } from "./helpers/run.js";

const stallWorker = (ctrl: Int32Array, args: Float64Array, tickets: Int32Array): ComputeWorker => {
  const { port1, port2 } = new MessageChannel();
  const w = new Worker(new URL("./helpers/stall-worker.cjs", import.meta.url), {
    workerData: { ctrlBuffer: ctrl.buffer, argsBuffer: args.buffer, ticketsBuffer: tickets.buffer, port: port2 }, transferList: [port2], execArgv: [],
  });
  w.unref(); port1.unref();
  return { attach: (m) => port1.postMessage(m), terminate: () => void w.terminate() };
};

type Lane = { ctrl: Int32Array };
const laneOf = (pool: ThreadPool, i = 0): Lane => (pool as unknown as { lanes: Lane[] }).lanes[i]!;
async function listening(pool: ThreadPool): Promise<void> {
  for (let i = 0; i < pool.threads - 1; i++) {
    for (let k = 0; k < 500 && Atomics.load(laneOf(pool, i).ctrl, 6) === 0; k++) await new Promise((done) => setTimeout(done, 10));
    expect(Atomics.load(laneOf(pool, i).ctrl, 6)).toBe(1);
  }
}
const spinUntil = (ok: () => boolean) => { const end = Date.now() + 20_000; while (!ok()) if (Date.now() > end) throw new Error("spun 20 s"); };

// One SGEMM problem, split by matmul.ts into one part per thread; and a relu cut by hand into
// 8 chunks of 4096 floats, for the protocol itself.
const [M, N, K] = [256, 256, 64];
const [CHUNKS, L] = [8, 4096];
const arena = new Arena(1);
const f32 = (n: number) => arena.f32(arena.allocPersistent(4 * n), n);
const r = rand(7);
const a = f32(M * K).map(() => r() - 0.5), b = f32(K * N).map(() => r() - 0.5), bias = f32(N).map(() => r() - 0.5);
const scratch = [0, 1, 2].map(() => arena.allocPersistent(SGEMM_SCRATCH_BYTES));
const wasm = instantiateKernels(arena.memory);
const ctxOf = (pool: ThreadPoolLike | null): KernelContext => ({ memory: arena.memory, wasm, sgemmScratch: scratch, pool });
const reference = f32(M * N);
kernels.linear.prepare!([a, b, bias, reference], [M, N, K, 0, 0, 1], ctxOf(null))!(); // one unsplit call
const x = f32(CHUNKS * L).map(() => r() - 0.5);
const reluReference = f32(CHUNKS * L);
wasm.relu(x.byteOffset, reluReference.byteOffset, CHUNKS * L);

/** A pool seen by a kernel, whose calling thread runs `before(c)` ahead of each chunk it claims; counts those chunks. */
function instrumented(pool: ThreadPool, before: (mine: number) => void = () => {}) {
  const seen = { calls: 0, mine: 0, chunks: 0 };
  const like: ThreadPoolLike = {
    threads: pool.threads,
    run: (memory, name, table, local, alone, _site, kernels) => {
      seen.calls++; seen.chunks += local.length;
      pool.run(memory, name, table, local.map((f) => () => { before(seen.mine); seen.mine++; f(); }), alone, undefined, kernels);
    },
  };
  return { like, seen };
}

/** relu in CHUNKS chunks through the pool: each chunk must be written exactly once, by either thread. */
function reluOn(like: ThreadPoolLike): Float32Array {
  const y = f32(CHUNKS * L);
  const at = (c: number) => [x.byteOffset + 4 * c * L, y.byteOffset + 4 * c * L, L];
  const local = Array.from({ length: CHUNKS }, (_, c) => wasm.relu.bind(null, ...(at(c) as [number, number, number])));
  like.run(arena.memory, "relu", Array.from({ length: like.threads }, () => Array.from({ length: CHUNKS }, (_, c) => at(c))), local);
  return y;
}

/** linear through the kernel's own chunking on this pool: Y must equal the unsplit reference bit for bit. */
function linearOn(like: ThreadPoolLike): Float32Array {
  const y = f32(M * N);
  const call = kernels.linear.prepare!([a, b, bias, y], [M, N, K, 0, 0, 1], ctxOf(like))!;
  expect((call as { threads?: number }).threads).toBe(like.threads);
  call();
  return y;
}

const pools: ThreadPool[] = [];
afterAll(() => { for (const p of pools) p.close(); arena.release(); });
const newPool = (spawn?: typeof stallWorker, threads = 2) => { const p = new ThreadPool(threads, kernelModule(), KERNEL_EXPORTS, spawn); pools.push(p); return p; };

describe("chunks", () => {
  it("give the same bits whichever thread claims them: all here, most on the worker, any mix", async () => {
    const pool = newPool();
    await listening(pool);
    const jobs = () => pool.jobsPerWorker()[0]!;
    // The caller waits before its first chunk until the worker has run one, and dawdles before
    // the others: the worker runs several.
    const before = jobs();
    const slow = instrumented(pool, (mine) => {
      if (mine === 0) spinUntil(() => jobs() > before);
      const end = performance.now() + 2;
      while (performance.now() < end);
    });
    expect(Array.from(reluOn(slow.like))).toEqual(Array.from(reluReference));
    expect(slow.seen.chunks).toBe(8);
    expect(jobs() - before + slow.seen.mine).toBe(8); // every chunk ran exactly once, on one side or the other
    expect(jobs() - before).toBeGreaterThan(0);
    // Unhindered, a few times: whatever the split of chunks between the threads, the same bits.
    for (let i = 0; i < 5; i++) expect(Array.from(reluOn(instrumented(pool).like))).toEqual(Array.from(reluReference));
    // The kernels' own split (SGEMM: one part per thread) on the same pool: the unsplit call's bits.
    for (let i = 0; i < 3; i++) expect(Array.from(linearOn(instrumented(pool).like))).toEqual(Array.from(reference));
    // A worker that stopped listening: the caller runs every chunk.
    Atomics.store(laneOf(pool).ctrl, 0, -1); Atomics.notify(laneOf(pool).ctrl, 0);
    await new Promise((done) => setTimeout(done, 50));
    const alone = instrumented(pool), taken = pool.takenBack;
    expect(Array.from(reluOn(alone.like))).toEqual(Array.from(reluReference));
    expect(alone.seen.mine).toBe(8);
    expect(pool.takenBack).toBe(taken + 1);
  }, 60_000);

  it("a worker that stops in the middle of a chunk holds the caller up by that chunk only", async () => {
    const pool = newPool(stallWorker);
    await listening(pool);
    const ctrl = laneOf(pool).ctrl;
    Atomics.store(ctrl, 11, 1); // hold: keep one chunk until every other chunk is done
    // The caller starts only once the worker holds its chunk: it must then run all the others.
    const held = instrumented(pool, (mine) => { if (mine === 0) spinUntil(() => Atomics.load(ctrl, 13) >= 1); });
    expect(Array.from(reluOn(held.like))).toEqual(Array.from(reluReference));
    expect(Atomics.load(ctrl, 13)).toBe(1);
    expect(held.seen.mine).toBe(7); // 8 chunks, one held by the stalled worker
    expect(pool.jobsPerWorker()).toEqual([1]);
  }, 60_000);

  it("a worker that wakes after its call is over takes no chunk of a later call, and detaching waits for it", async () => {
    const pool = newPool(stallWorker, 3);
    await listening(pool);
    const late = laneOf(pool, 0).ctrl, other = laneOf(pool, 1).ctrl;
    Atomics.store(late, 11, 2); // late: claim the job, then no chunk until they are all done
    // The late worker must be inside this first job when the next call starts. Should the other
    // worker claim every chunk before we claim one (we lost the core), the late worker may not
    // have claimed its job before we took it back: then it is idle, would be handed the next
    // call's job and hold that call up for good. Call again until it holds a job.
    for (let tries = 0; Atomics.load(late, 1) === Atomics.load(late, 0) && tries < 100; tries++) {
      const first = instrumented(pool, (mine) => { if (mine === 0) spinUntil(() => Atomics.load(late, 7) === Atomics.load(late, 0)); });
      expect(Array.from(reluOn(first.like))).toEqual(Array.from(reluReference));
      expect(Atomics.load(late, 10)).toBe(0);
    }
    expect(Atomics.load(late, 1)).not.toBe(Atomics.load(late, 0));
    // The next call leaves the late worker out (it is still inside its first job) and hands out
    // its own tickets; the late worker wakes in the middle of it and must find its tickets gone.
    // (Should the other worker claim every chunk of a call — we lost the core — try again.)
    for (let tries = 0; Atomics.load(late, 12) === 0 && tries < 100; tries++) {
      const jobs = Atomics.load(other, 10);
      const second = instrumented(pool, (mine) => {
        if (mine !== 0) return;
        Atomics.store(late, 12, 1); Atomics.notify(late, 12);
        spinUntil(() => Atomics.load(late, 1) === Atomics.load(late, 0)); // its first job is over
      });
      expect(Array.from(reluOn(second.like))).toEqual(Array.from(reluReference));
      expect(Atomics.load(late, 10)).toBe(0); // not one chunk of this call
      expect(second.seen.mine + Atomics.load(other, 10) - jobs).toBe(8);
    }
    expect(Atomics.load(late, 12)).toBe(1);
    // Every worker in again: the same bits, and detaching waits for the workers to be idle.
    Atomics.store(late, 11, 0);
    for (let i = 0; i < 3; i++) expect(Array.from(linearOn(instrumented(pool).like))).toEqual(Array.from(reference));
    pool.detach(arena.memory);
    expect(Array.from(linearOn(instrumented(pool).like))).toEqual(Array.from(reference)); // attached again on demand
  }, 60_000);

  it("a fused loop's parts run on the worker, which instantiates the loop's module; the whole call's bits, and a detach drops it", async () => {
    const pool = newPool();
    await listening(pool);
    // sigmoid(x)·mask + x over 256 × 300 (76,800 elements: split), with a dropout mask.
    const [B, F] = [256, 300];
    const spec = {
      shape: [B, F], inputs: [{ strides: [F, 1], dtype: 0 }, { strides: [0, 0], dtype: 1 }],
      code: [{ op: "sigmoid", args: [0], num: [] }, { op: "mask", args: [1], num: [0.25, 9, 4] }, { op: "mul", args: [2, 3], num: [] }, { op: "add", args: [4, 0], num: [] }],
      outputs: [5],
    };
    const bytes = emitFusedElementwise(spec, scalarOps);
    const xs = f32(B * F).map(() => 4 * r() - 2), step = new Int32Array(arena.memory.buffer, arena.allocPersistent(16), 1);
    step[0] = 3;
    const whole = f32(B * F);
    prepareFused(bytes, [xs, step, whole], arena.memory)();
    const jobs = () => pool.jobsPerWorker()[0]!;
    for (let round = 0; round < 2; round++) {
      const y = f32(B * F), before = jobs();
      const slow = instrumented(pool, (mine) => { if (mine === 0) spinUntil(() => jobs() > before); });
      const call = fusedSplit(ctxOf(slow.like), fusedInstance(bytes, arena.memory), [xs, step, y], () => { throw new Error("ran alone"); })!;
      expect(call.threads).toBe(2);
      call();
      expect(jobs() - before, "chunks the worker ran").toBeGreaterThan(0);
      expect(jobs() - before + slow.seen.mine).toBe(slow.seen.chunks);
      expect(Array.from(y)).toEqual(Array.from(whole));
      pool.detach(arena.memory); // the worker drops the loop's instance too; the next round attaches it again
    }
  }, 60_000);

  it("runs alone while its only worker is still inside an earlier job: the same bits", async () => {
    const pool = newPool(stallWorker);
    await listening(pool);
    const ctrl = laneOf(pool).ctrl;
    Atomics.store(ctrl, 11, 2);
    const first = instrumented(pool, (mine) => { if (mine === 0) spinUntil(() => Atomics.load(ctrl, 7) === Atomics.load(ctrl, 0)); });
    expect(Array.from(reluOn(first.like))).toEqual(Array.from(reluReference));
    const alone = pool.ranAlone;
    expect(Array.from(linearOn(instrumented(pool).like))).toEqual(Array.from(reference));
    expect(pool.ranAlone).toBe(alone + 1);
    Atomics.store(ctrl, 11, 0);
    Atomics.store(ctrl, 12, 1); Atomics.notify(ctrl, 12);
  }, 60_000);

  it("a closed pool refuses work with a KilnError, and a malformed split is refused before any chunk runs", () => {
    const pool = newPool();
    const { like, seen } = instrumented(pool);
    expect(() => like.run(arena.memory, "sgemm", [[[1]], [[1], [2]]], [() => {}])).toThrow(/one argument list per chunk/);
    expect(() => like.run(arena.memory, "nope", [[[1]]], [() => {}])).toThrow(/unknown kernel/);
    expect(seen.mine).toBe(0);
    pool.close();
    expect(() => linearOn(like)).toThrow(KilnError);
    expect(() => linearOn(like)).toThrow(/closed pool/);
  });
});

/** The judge's verdicts, fed split calls' times directly (ms): no timing is measured here. */
describe("the judge", () => {

  it("keeps splitting through one stall of a VM's core, and runs alone when splits stop paying", () => {
    const pool = newPool(), j = pool.judge;
    // 40 µs calls at 1.7× alone, with one 2 ms stall in the middle of a 20 ms window: still pays.
    for (let i = 0; i < 300; i++) j.verdict(i === 150 ? 2 : 0.041, 0.07);
    expect(pool.judge.soloSpells).toBe(0);
    // The worker misses most calls and holds the caller up on the rest: 1.3× alone.
    for (let i = 0; i < 300; i++) j.verdict(0.091, 0.07);
    expect(pool.judge.soloSpells).toBe(1);
    expect(j.soloUntil).toBeGreaterThan(0);
    expect(j.soloMs).toBe(100); // the next spell, should the probe fail
  });

  it("stops a probe that has lost a tenth of a window, and windows that pay shorten the next spell", () => {
    const pool = newPool(), j = pool.judge;
    for (let i = 0; i < 300; i++) j.verdict(0.091, 0.07);
    expect(pool.judge.soloSpells).toBe(1);
    // The spell is over: the next split call opens a probe (run() sets it); losing 20 µs a call,
    // it fails after 2 ms lost — some 100 calls, not the 300 of a whole window.
    j.probing = true;
    let calls = 0;
    while (j.soloSpells === 1 && calls < 300) { j.verdict(0.09, 0.07); calls++; }
    expect(pool.judge.soloSpells).toBe(2);
    expect(calls).toBeLessThan(110);
    expect(j.soloMs).toBe(200);
    for (let i = 0; i < 300; i++) j.verdict(0.041, 0.07); // a window that pays: the next spell halves
    expect(j.soloMs).toBe(100);
    for (let i = 0; i < 300; i++) j.verdict(0.041, 0.07);
    expect(j.soloMs).toBe(50);
  });

  it("times a call site alone now and then, with the same bits", async () => {
    const pool = newPool();
    await listening(pool);
    const site = splitSite(), y = f32(CHUNKS * L);
    const at = (c: number) => [x.byteOffset + 4 * c * L, y.byteOffset + 4 * c * L, L];
    const local = Array.from({ length: CHUNKS }, (_, c) => wasm.relu.bind(null, ...(at(c) as [number, number, number])));
    const table = Array.from({ length: 2 }, () => Array.from({ length: CHUNKS }, (_, c) => at(c)));
    for (let i = 0; i < 3; i++) pool.run(arena.memory, "relu", table, local, undefined, site);
    y.fill(Number.NaN);
    const alone = pool.ranAlone;
    pool.run(arena.memory, "relu", table, local, undefined, site); // call 4: alone, timed
    expect(pool.ranAlone).toBe(alone + 1);
    expect(site.aloneMs).toBeGreaterThan(0);
    expect(Array.from(y)).toEqual(Array.from(reluReference));
  });
});
