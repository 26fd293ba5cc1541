/**
 * Networks in one process are independent: any number of them, compiled for any thread counts,
 * called in any interleaving, each gives bit for bit what it gives alone (issue 9). Also: a
 * disposed or unreferenced network gives back its hold on the shared thread pool.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import {
  compile, dropout, KilnError, layerNorm, linear, mse, relu, seq, sgd, softmaxCrossEntropy, type LayerNode, type Net,
} from "../src/index.js";
import { poolStats } from "../runtime/pool.js";
import { randomModel } from "./helpers/models.js";
import { maxRelErr, rand } from "./helpers/run.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const w2 = () => seq(linear(784, 256), layerNorm(256), relu, dropout(0.1), linear(256, 10));

describe("two nets with different thread counts", () => {
  it("the issue's snippet: compiling a 4-thread net does not change what a 2-thread net predicts", () => {
    const loss = softmaxCrossEntropy(), optimizer = sgd({ lr: 0.01 });
    const r = rand(1);
    const x = Float32Array.from({ length: 256 * 784 }, () => r());
    const a = compile(w2(), { inputs: 784, batch: 256, seed: 0, threads: 2, loss, optimizer });
    const before = a.predict(x);
    const b = compile(w2(), { inputs: 784, batch: 256, seed: 0, threads: 4, loss, optimizer });
    b.predict(x);
    expect(Array.from(a.predict(x))).toEqual(Array.from(before));
    const ref = compile(w2(), { inputs: 784, batch: 256, seed: 0, loss, optimizer, optimize: false });
    expect(maxRelErr(a.predict(x), ref.predict(x))).toBeLessThan(1e-5);
    a.dispose(); b.dispose();
  }, 60_000);
});

type Call = { net: number; op: "trainStep" | "gradients" | "predict"; data: number };
interface Case { model: LayerNode; inputs: number; outputs: number; batch: number; threads: number; mse: boolean; seed: number }

/** Inputs for a call: deterministic in (case seed, data index), so a replay sees the same numbers. */
function dataOf(c: Case, data: number, evalBatch: number) {
  const r = rand(c.seed * 1000 + data);
  const n = evalBatch;
  const x = Float32Array.from({ length: n * c.inputs }, () => 2 * r() - 1);
  const y = c.mse ? Float32Array.from({ length: c.batch * c.outputs }, () => r()) : Int32Array.from({ length: c.batch }, () => Math.floor(r() * c.outputs));
  return { x, y };
}

/** Run `calls` (those of net `i`) on `net`; returns every result as numbers. */
function play(net: Net, c: Case, call: Call): number[] {
  if (call.op === "predict") return Array.from(net.predict(dataOf(c, call.data, 1 + (call.data % 5)).x));
  const { x, y } = dataOf(c, call.data, c.batch);
  if (call.op === "trainStep") return [net.trainStep(x, y)];
  const g = net.gradients(x, y);
  return [g.loss, ...Object.values(g.grads).flatMap((a) => Array.from(a))];
}

const compileCase = (c: Case, optimize = true) => compile(c.model, {
  inputs: c.inputs, batch: c.batch, seed: c.seed, ...(optimize ? { threads: c.threads } : { optimize: false }),
  loss: c.mse ? mse() : softmaxCrossEntropy(), optimizer: sgd({ lr: 0.01, momentum: 0.9 }),
});

describe("random sets of nets, random thread counts, random interleavings", () => {
  const WIDTHS = [3, 37, 100, 130, 300];
  for (let trial = 0; trial < Number(process.env.KILN_NETS_CASES ?? 5); trial++) {
    it(`trial ${trial}: each net gives bit for bit what it gives alone, and agrees with the reference`, () => {
      const r = rand(4242 + trial);
      const cases: Case[] = Array.from({ length: 2 + Math.floor(r() * 4) }, (_, i) => {
        const inputs = WIDTHS[Math.floor(r() * WIDTHS.length)]!;
        const batch = [1, 7, 64, 300, 600][Math.floor(r() * 5)]!;
        const [body, w] = randomModel(r, inputs, 2 + Math.floor(r() * 3), batch > 1, WIDTHS, true);
        const outputs = Math.max(2, Math.min(w, 10));
        return { model: seq(body as never, linear(w, outputs)), inputs, outputs, batch, threads: 1 + Math.floor(r() * 8), mse: r() < 0.3, seed: trial * 10 + i };
      });
      const calls: Call[] = Array.from({ length: 14 }, (_, k) => ({
        net: Math.floor(r() * cases.length), op: (["trainStep", "gradients", "predict"] as const)[Math.floor(r() * 3)]!, data: k,
      }));
      // Together, interleaved.
      const nets = cases.map((c) => compileCase(c));
      const together = calls.map((call) => play(nets[call.net]!, cases[call.net]!, call));
      nets.forEach((n) => n.dispose());
      // Each alone, then the reference interpreter.
      cases.forEach((c, i) => {
        const mine = calls.map((call, k) => [call, k] as const).filter(([call]) => call.net === i);
        const alone = compileCase(c), ref = compileCase(c, false);
        for (const [call, k] of mine) {
          const a = play(alone, c, call), b = play(ref, c, call);
          const where = `net ${i} (threads ${c.threads}, batch ${c.batch}) call ${k} ${call.op}`;
          expect(together[k], where).toEqual(a);
          // After training, a diverging net amplifies rounding without bound: compare until then.
          if (a.every((v) => Math.abs(v) < 1e3)) expect(maxRelErr(a, b), `${where} vs reference`).toBeLessThan(1e-5);
        }
        alone.dispose();
      });
    }, 120_000);
  }
});

describe("release", () => {
  it("a disposed net refuses every call with a KilnError and gives back its pool lease", () => {
    const before = poolStats().leases;
    const net = compile(w2(), { inputs: 784, batch: 8, seed: 0, threads: 2 });
    expect(poolStats().leases).toBe(before + 1);
    const x = new Float32Array(8 * 784), y = new Int32Array(8);
    net.dispose();
    net.dispose(); // idempotent
    expect(poolStats().leases).toBe(before);
    for (const call of [() => net.trainStep(x, y), () => net.gradients(x, y), () => net.predict(x)]) expect(call).toThrow(KilnError);
    expect(() => net.predict(x)).toThrow(/disposed/);
    expect(net.params["0.weight"]!.length).toBe(256 * 784); // parameters stay readable
  }, 60_000);

  it("an unreferenced net is released when garbage-collected", async () => {
    const before = poolStats().leases;
    (() => {
      for (let i = 0; i < 3; i++) compile(w2(), { inputs: 784, batch: 8, seed: i, threads: 2 }).predict(new Float32Array(784));
    })();
    expect(poolStats().leases).toBe(before + 3);
    for (let k = 0; k < 20 && poolStats().leases > before; k++) {
      gc();
      await new Promise((done) => setTimeout(done, 10));
    }
    expect(poolStats().leases).toBe(before);
  }, 60_000);
});

describe("a worker that does not run", () => {
  it("has its part taken back by the caller: same bits, no wait", async () => {
    const { ThreadPool } = await import("../runtime/threads.js");
    const { kernelModule, KERNEL_EXPORTS, instantiateKernels } = await import("../runtime/wasm/module.js");
    const { Arena } = await import("../runtime/arena.js");
    const { kernels } = await import("../runtime/kernels/index.js");
    const pool = new ThreadPool(2, kernelModule(), KERNEL_EXPORTS);
    const lane = (pool as unknown as { lanes: { ctrl: Int32Array }[] }).lanes[0]!;
    for (let k = 0; k < 200 && Atomics.load(lane.ctrl, 6) === 0; k++) await new Promise((done) => setTimeout(done, 10));
    expect(Atomics.load(lane.ctrl, 6)).toBe(1); // listening
    // Stop the worker's loop: from now on it claims nothing, like a thread that never gets a core.
    Atomics.store(lane.ctrl, 0, -1); Atomics.notify(lane.ctrl, 0);
    await new Promise((done) => setTimeout(done, 100));
    const arena = new Arena(2);
    const f32 = (n: number) => arena.f32(arena.allocPersistent(4 * n), n);
    const [M, N, K] = [256, 256, 64];
    const r = rand(5);
    const a = f32(M * K), b = f32(K * N), y1 = f32(M * N), y2 = f32(M * N);
    for (const v of [a, b]) for (let i = 0; i < v.length; i++) v[i] = r() - 0.5; // in place: map would copy out of the arena
    const base = arena.context; // the 2-thread reference: a live pool
    kernels.matmul.prepare!([a, b, y1], [M, N, K, 0, 0], base)!();
    const ctx = { ...base, wasm: instantiateKernels(arena.memory), pool: { threads: 2, run: pool.run.bind(pool) } };
    kernels.matmul.prepare!([a, b, y2], [M, N, K, 0, 0], ctx)!(); // waiting for the worker would end in a 60 s error
    expect(pool.takenBack).toBe(1);
    expect(y1.some((v) => v !== 0)).toBe(true);
    expect(Array.from(y2)).toEqual(Array.from(y1));
    pool.close();
    arena.release();
  }, 30_000);
});
