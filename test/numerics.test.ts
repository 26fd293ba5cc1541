/**
 * checkNumerics (src/numerics.ts): the first non-finite value of a step is named — program,
 * step, value, equation, op, layer — and a failed step changes nothing; off, nothing changes.
 * The per-op table is in numerics-ops.test.ts.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { adam, compile, init, KilnError, linear, NumericsError, printIR, relu, seq, sgd, type Net } from "../src/index.js";
import { main } from "../src/cli/main.js";
import { trainLoop } from "../examples/lib/train.js";
import type { Dataset } from "../src/data/dataset.js";

/** 12 layers at σ² = 3/n: the activations grow ~1.5× per layer, and lr 1 blows up on step 1. */
const deep = () => {
  const w = init.normal({ variance: (n) => 3 / n });
  return seq(...Array.from({ length: 12 }, (_, i) => seq(linear(i === 0 ? 8 : 16, 16, { init: w }), relu)) as [never], linear(16, 4, { init: w }));
};
const x = new Float32Array(6 * 8).map((_, i) => 40 * Math.sin(i * 1.3));
const y = new Int32Array([0, 1, 2, 3, 0, 1]);
const copy = (net: Net) => ({
  params: Object.fromEntries(Object.entries(net.params).map(([k, v]) => [k, v.slice()])),
  optim: Object.fromEntries(Object.entries(net.optimizerState).map(([k, v]) => [k, v.slice()])),
});
const explode = (optimize = true) => compile(deep(), { inputs: 8, batch: 6, seed: 1, optimize, checkNumerics: true, optimizer: sgd({ lr: 1e6, momentum: 0.9 }) });

afterEach(() => { delete process.env.KILN_CHECK_NUMERICS; });

describe("checkNumerics", () => {
  it("names the step, value, equation, op and layer of the first non-finite value, and the failed step changes nothing", () => {
    for (const optimize of [true, false]) {
      const net = explode(optimize);
      expect(Number.isFinite(net.trainStep(x, y))).toBe(true);
      const before = copy(net);
      let err: NumericsError | undefined;
      try { net.trainStep(x, y); } catch (e) { err = e as NumericsError; }
      expect(err).toBeInstanceOf(NumericsError);
      expect(err).toBeInstanceOf(KilnError);
      expect(err!.program).toBe("train");
      expect(err!.step).toBe(1);
      expect(net.step).toBe(1);
      expect(copy(net)).toEqual(before); // parameters and momentum buffers as before the step
      // The equation is the value's line of the program's IR text.
      expect(printIR(net.ir.train)).toContain(err!.equation);
      expect(err!.equation.startsWith(`${err!.value}:f32[`)).toBe(true);
      expect(["Infinity", "-Infinity", "NaN"]).toContain(err!.bad);
      expect(err!.layerPath).toMatch(/^\d+(\.\d)?$/);
      expect(err!.message).toMatch(/^train step 1: the first non-finite value is (-?Infinity|NaN), at index \d+/);
      expect(err!.message).toContain(`equation: ${err!.equation}`);
      expect(err!.message).toMatch(/inputs: .*\[.*\]/);
      expect(err!.message).toContain("net.step is still 1");
      if (optimize) expect(err!.op).toBe("linear");
      if (optimize) expect(err!.fused).toEqual(["matmul", "add (bias)", "relu"]);
      // The reported op really made it: its inputs were finite (else an earlier op would be named).
      expect(err!.message).not.toMatch(/inputs: [^\n]*not finite/);
    }
  });

  it("a failure in a late optimizer update puts back what the earlier updates of the step wrote", () => {
    // Only 2.weight's gradient (dy·h, h ≈ 1e4 from the bias) overflows lr·g; layer 0's updates
    // (params in order: they run first) write finite values that must be put back.
    for (const optimize of [true, false]) {
      const net = compile(seq(linear(8, 4), relu, linear(4, 4)), { inputs: 8, batch: 6, seed: 2, optimize, checkNumerics: true, optimizer: sgd({ lr: 1e37, momentum: 0.9 }) });
      const xs = new Float32Array(6 * 8).fill(0.01);
      net.trainStep(new Float32Array(6 * 8), y); // momentum buffers no longer zero
      net.params["0.bias"]!.fill(1e4);
      net.params["2.weight"]!.fill(0.5);
      const before = copy(net);
      let err: NumericsError | undefined;
      try { net.trainStep(xs, y); } catch (e) { err = e as NumericsError; }
      expect(err, "the step fails").toBeInstanceOf(NumericsError);
      expect(err!.layer).toMatch(/optimizer update of 2\.weight$/);
      expect(err!.message).toMatch(/the first non-finite value is -?Infinity/);
      expect(copy(net)).toEqual(before);
      expect(net.step).toBe(1);
    }
  });

  it("is off by default and changes no bit when off; the check changes no bit either", () => {
    const model = () => seq(linear(8, 16), relu, linear(16, 4));
    const nets = [undefined, false, true].map((checkNumerics) =>
      compile(model(), { inputs: 8, batch: 6, seed: 3, optimizer: adam({ lr: 0.01, clipGradNorm: 1 }), ...(checkNumerics === undefined ? {} : { checkNumerics }) }));
    for (let s = 0; s < 3; s++) {
      const losses = nets.map((n) => n.trainStep(x, y));
      expect(losses[1]).toBe(losses[0]);
      expect(losses[2]).toBe(losses[0]);
    }
    for (const n of nets.slice(1)) {
      expect(copy(n)).toEqual(copy(nets[0]!));
      expect(n.predict(x)).toEqual(nets[0]!.predict(x));
      for (const k of ["forward", "backward", "train", "eval"] as const) expect(printIR(n.ir[k])).toBe(printIR(nets[0]!.ir[k]));
    }
  });

  it("checks predict and gradients too, and KILN_CHECK_NUMERICS=1 turns it on", () => {
    process.env.KILN_CHECK_NUMERICS = "1";
    const net = compile(seq(linear(8, 4), relu, linear(4, 4)), { inputs: 8, batch: 6 });
    net.params["2.weight"]!.fill(3e38);
    const grads = () => net.gradients(x, y);
    const e1 = (() => { try { net.predict(x); } catch (e) { return e as NumericsError; } })()!;
    expect(e1).toBeInstanceOf(NumericsError);
    expect(e1.program).toBe("eval");
    expect(e1.layerPath).toBe("2");
    expect(e1.layer).toBe("seq[2] linear(4→4)");
    expect(e1.message).toMatch(/predict: samples 0…5/);
    expect(grads).toThrow(NumericsError);
    delete process.env.KILN_CHECK_NUMERICS;
    const off = compile(seq(linear(8, 4), relu, linear(4, 4)), { inputs: 8, batch: 6 });
    off.params["2.weight"]!.fill(3e38);
    expect(() => off.predict(x)).not.toThrow();
    expect(() => compile(linear(2, 2), { inputs: 2, batch: 1, checkNumerics: 1 as never })).toThrow(/checkNumerics must be true or false, got number 1/);
  });

  it("trainLoop stops at a non-finite loss with one line naming the step", () => {
    const net = compile(deep(), { inputs: 8, batch: 6, seed: 1, optimizer: sgd({ lr: 1e30 }) });
    const ds: Dataset = { name: "sines", count: 6, features: 8, classes: 4, images: x, labels: y } as unknown as Dataset;
    const r = trainLoop({ net, train: ds, batch: 6, steps: 50, seed: 0, every: 10 });
    expect(r.diverged).toBe(true);
    expect(r.losses.length).toBeLessThan(50);
    const step = r.losses.length - 1;
    expect(r.message).toBe(`the loss is ${r.losses.at(-1)} at step ${step}; stopped (run again with --check-numerics to find the layer and op that made the first non-finite value)`);
  });

  it("kiln train stops on a non-finite loss, and --check-numerics names the layer", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-numerics-"));
    const file = join(dir, "model.ts");
    const src = new URL("../src/index.js", import.meta.url).pathname;
    writeFileSync(file, `import { linear, relu, seq, sgd } from ${JSON.stringify(src)};
export const model = seq(linear(784, 64), relu, linear(64, 64), relu, linear(64, 10));
export const options = { inputs: 784, batch: 64, optimizer: sgd({ lr: 1e8 }) };\n`);
    const run = (extra: string[]) => main(["train", file, "--epochs", "1", "--out", join(dir, "m.safetensors"), ...extra], () => {});
    await expect(run([])).rejects.toThrow(/the loss is (NaN|-?Infinity) at step \d+ \(epoch 1\); stopped without writing .*--check-numerics/);
    await expect(run(["--check-numerics"])).rejects.toThrow(/train step \d+: the first non-finite value is .* made by seq\[\d\] linear/);
  }, 60_000);
});
