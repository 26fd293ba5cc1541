/**
 * checkNumerics inside the kernels (src/numerics-kernels.ts, runtime/wasm/fused.ts `check`): a
 * fused kernel's checked variant stores the same bits as the kernel and returns 1 exactly when
 * its checked outputs are all finite, whatever loop (vector body, scalar head or tail, strided)
 * stored the bad value; and checked nets give the same bits at 1 and 2 threads, check on or off.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { size } from "../compiler/ir/types.js";
import { fusedSpec } from "../compiler/ops/elementwise_codegen.js";
import { scalarOps } from "../compiler/ops/index.js";
import { emitFusedElementwise } from "../runtime/wasm/fused.js";
import { prepareFused } from "../runtime/wasm/fused-run.js";
import { setPoolJudging, threadJobs } from "../runtime/pool.js";
import { createMemory } from "../runtime/wasm/module.js";
import { adam, compile, dropout, layerNorm, linear, NumericsError, relu, seq, sgd, type Net } from "../src/index.js";
import { DEFAULT_OPS, randomCase, rng } from "./helpers/fused-cases.js";

const memory = createMemory(16 << 20);
let top = 4096;
/** Fresh floats (or int32s) in the shared memory, one float past a 16-byte boundary when skewed. */
function alloc(n: number, skew: boolean, int = false): Float32Array | Int32Array {
  const off = top + (skew ? 4 : 0);
  top = Math.ceil((off + 4 * Math.max(n, 1) + 4) / 64) * 64;
  return int ? new Int32Array(memory.buffer, off, Math.max(n, 1)) : new Float32Array(memory.buffer, off, Math.max(n, 1));
}
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe("a fused kernel's checked variant", () => {
  it("stores the kernel's bits and returns 1 exactly when every checked output is finite (random kernels, a bad value anywhere)", () => {
    const r = rng(7);
    let bad = 0, good = 0;
    for (let t = 0; t < 300; t++) {
      top = 4096;
      const c = randomCase(r, DEFAULT_OPS);
      const spec = fusedSpec(c.attrs, c.shapes.map((shape, j) => ({ shape, dtype: c.dtypes[j]! })))!;
      const n = size(c.attrs.shape), skew = r() < 0.5;
      const ins = c.shapes.map((s, j) => alloc(size(s), skew, c.dtypes[j] === "i32"));
      ins.forEach((a, j) => { for (let i = 0; i < a.length; i++) a[i] = c.dtypes[j] === "i32" ? t : c.sample(r); });
      // Half the cases: one input element ±∞ or NaN (or huge, to overflow inside the kernel).
      if (r() < 0.5) {
        const floats = ins.filter((a): a is Float32Array => a instanceof Float32Array);
        const a = floats[Math.floor(r() * floats.length)]!;
        a[Math.floor(r() * a.length)] = [Infinity, -Infinity, NaN, 3e38][Math.floor(r() * 4)]!;
      }
      const check = c.attrs.outputs.map((_o, j) => j).filter(() => r() < 0.7);
      if (check.length === 0) check.push(0);
      const outs = [c.attrs.outputs.map(() => alloc(n, skew) as Float32Array), c.attrs.outputs.map(() => alloc(n, skew) as Float32Array)];
      prepareFused(emitFusedElementwise(spec, scalarOps), [...ins, ...outs[0]!], memory)();
      const flag = prepareFused(emitFusedElementwise(spec, scalarOps, check), [...ins, ...outs[1]!], memory)() as unknown;
      outs[0]!.forEach((o, j) => expect(bits(outs[1]![j]!), `case ${t} output ${j}`).toEqual(bits(o)));
      const finite = check.every((j) => outs[0]![j]!.subarray(0, n).every((v) => Number.isFinite(v)));
      expect(flag, `case ${t}: shape [${c.attrs.shape.join(",")}]`).toBe(finite ? 1 : 0);
      if (finite) good++; else bad++;
    }
    expect(bad).toBeGreaterThan(30); // both answers were exercised
    expect(good).toBeGreaterThan(30);
  });

  it("leaves unchecked modules as they were, and refuses a check of an output it does not have", () => {
    const spec = { shape: [3, 5], inputs: [{ strides: [5, 1], dtype: 0 }], code: [{ op: "relu", args: [0], num: [] }], outputs: [1] };
    expect(emitFusedElementwise(spec, scalarOps, [])).toEqual(emitFusedElementwise(spec, scalarOps));
    expect(() => emitFusedElementwise(spec, scalarOps, [1])).toThrow(/bad checked output/);
  });
});

/** W2's shape at batch 64: its linear, layerNorm and gradient products split over 2 threads. */
const model = () => seq(linear(96, 256), layerNorm(256), relu, dropout(0.1), linear(256, 256), relu, linear(256, 10));
const xs = new Float32Array(64 * 96).map((_, i) => Math.sin(i * 0.37));
const ys = new Int32Array(64).map((_, i) => i % 10);
const state = (net: Net) => [...Object.values(net.params), ...Object.values(net.optimizerState)].map((a) => bits(a));

describe("checkNumerics on two threads", () => {
  // The products must really split: on a busy machine the pool's judge would run them alone.
  // A net held for the whole describe keeps the process pool (and its judge setting) alive.
  let holder: Net;
  beforeAll(() => { holder = compile(model(), { inputs: 96, batch: 64, threads: 2 }); holder.predict(xs); setPoolJudging(false); });
  afterAll(() => { setPoolJudging(true); holder.dispose(); });

  it("gives the same bits as one thread and as the unchecked net, step after step", () => {
    for (const optimizer of [sgd({ lr: 0.05, momentum: 0.9, weightDecay: 1e-3 }), adam({ lr: 0.01 })]) {
      const jobs = threadJobs()[0]!;
      const nets = [1, 2].flatMap((threads) => [false, true].map((checkNumerics) => compile(model(), { inputs: 96, batch: 64, seed: 4, threads, checkNumerics, optimizer })));
      // Four steps, and more (all nets in step) while the worker has run no chunk: on a loaded
      // machine the pool's judge may run a few steps alone.
      for (let s = 0; s < 4 || (threadJobs()[0]! <= jobs && s < 400); s++) {
        const losses = nets.map((n) => n.trainStep(xs, ys));
        for (const l of losses) expect(l).toBe(losses[0]);
      }
      for (const n of nets.slice(1)) {
        expect(state(n)).toEqual(state(nets[0]!));
        expect(bits(n.predict(xs))).toEqual(bits(nets[0]!.predict(xs)));
      }
      expect(threadJobs()[0]!, "the worker ran chunks").toBeGreaterThan(jobs);
      for (const n of nets) n.dispose();
    }
  }, 60_000); // four nets of two optimizers: 0.6 s alone, over 5 s while other test files share the two cores

  it("reports a NaN made in chunks both threads ran at the op and index one thread reports, and undoes the step", () => {
    const errors = [1, 2].map((threads) => {
      const net = compile(model(), { inputs: 96, batch: 64, seed: 4, threads, checkNumerics: true, optimizer: sgd({ lr: 0.05, momentum: 0.9 }) });
      net.trainStep(xs, ys);
      // Rows 20… of the second linear overflow: every chunk past the first holds ∞ (row blocks, any thread).
      const w = net.params["4.weight"]!;
      for (let i = 20 * 256; i < w.length; i++) w[i] = 3e38;
      // The product is cut into row blocks any thread may run (whether the worker runs some is the pool's call).
      const linears = net.programs().get("train")!.steps.filter((s) => s.kernel === "linear");
      expect(linears.filter((s) => s.threads === threads).length).toBeGreaterThanOrEqual(2);
      const before = state(net);
      const e = (() => { try { net.trainStep(xs, ys); } catch (err) { return err as NumericsError; } })();
      expect(e).toBeInstanceOf(NumericsError);
      expect(state(net)).toEqual(before);
      expect(net.step).toBe(1);
      net.dispose();
      return { op: e!.op, layer: e!.layer, index: e!.index, bad: e!.bad, value: e!.value, message: e!.message };
    });
    expect(errors[0]!.layer).toMatch(/^seq\[4\] linear\(256→256\)/);
    expect([errors[0]!.index, errors[0]!.bad]).toEqual([20, "Infinity"]); // row 0, column 20: the first overflowing unit
    expect(errors[1]).toEqual(errors[0]);
  });

  // The second linear's product [64, 256] is cut into column chunks from its counter: the first
  // chunk is the caller's (it claims before the worker wakes), the last ones the worker's when it
  // runs any; each thread checks what it computed (test/matmul-check.test.ts pins the worker's).
  it.each([[5, "the first chunk"], [250, "the last chunk"]] as const)("reports an overflow in output column %i (%s) of a split product at that op and index at 1 and 2 threads, and undoes the step", (column, _where) => {
    const errors = [1, 2].map((threads) => {
      const net = compile(model(), { inputs: 96, batch: 64, seed: 4, threads, checkNumerics: true, optimizer: adam({ lr: 0.01 }) });
      net.trainStep(xs, ys);
      net.params["4.weight"]!.fill(3e38, column * 256, (column + 1) * 256); // output unit `column` overflows
      const before = state(net);
      // The failed step is undone, so it can be taken again: until the worker ran chunks in it
      // (on a busy machine it may be asleep or without a core for a whole step).
      let e: NumericsError | undefined, workerRan = false;
      for (let attempt = 0; attempt < 50 && !workerRan; attempt++) {
        const jobs = threadJobs()[0] ?? 0;
        const t = performance.now();
        while (performance.now() - t < 2); // the worker done with its last job and spinning for the next
        e = (() => { try { net.trainStep(xs, ys); } catch (err) { return err as NumericsError; } })();
        workerRan = threads === 1 || threadJobs()[0]! > jobs;
        expect(e).toBeInstanceOf(NumericsError);
        expect(state(net)).toEqual(before);
        expect(net.step).toBe(1);
      }
      expect(workerRan, "the worker ran chunks of the failed step").toBe(true);
      net.dispose();
      return { op: e!.op, layer: e!.layer, index: e!.index, bad: e!.bad, value: e!.value, message: e!.message };
    });
    expect([errors[0]!.op, errors[0]!.index, errors[0]!.bad]).toEqual(["linear", column, "Infinity"]); // row 0
    expect(errors[0]!.layer).toMatch(/^seq\[4\] linear\(256→256\)/);
    expect(errors[1]).toEqual(errors[0]);
  });
});
