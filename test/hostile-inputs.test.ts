/**
 * Hostile arrays at the public API (beyond net.test.ts's wrong lengths, NaN and bad labels):
 * numbers finite as doubles but ±∞ as float32, array-likes whose elements change between reads,
 * shared-memory and offset views, multi-chunk predict into `out`, and writes to net.params. Each
 * refusal is a KilnError naming what was expected and what came, and changes nothing.
 */
import { describe, expect, it } from "vitest";
import {
  adam, adamw, batchNorm, Batcher, binaryCrossEntropy, compile, compileGraph, cosine, evaluate, gelu, GraphBuilder, huber, init, InputError, KilnError,
  layer, layerNorm, linear, makeDataset, mse, relu, seq, sgd, stepDecay, warmup, type Net, type T,
} from "../src/index.js";

const make = (loss?: ReturnType<typeof mse>) =>
  compile(seq(linear(3, 4), relu, linear(4, 2)), { inputs: 3, batch: 2, seed: 1, optimizer: sgd({ lr: 0.1, momentum: 0.9 }), ...(loss ? { loss } : {}) });
const X = [0.5, -1, 2, 1, 0.25, -0.5];
const snapshot = (net: Net) => JSON.stringify([net.params, net.state, net.optimizerState, net.step].map((r) =>
  typeof r === "number" ? r : Object.entries(r).map(([k, v]) => [k, Array.from(v as ArrayLike<number | bigint>, String)])));

/** An array-like whose element i reads as first(i) the first time and later(i) after. */
function shifty(first: readonly number[], later: (i: number) => unknown): ArrayLike<number> {
  const seen = new Set<number>();
  const o: Record<number | string, unknown> = { length: first.length };
  first.forEach((v, i) => Object.defineProperty(o, i, { get: () => (seen.has(i) ? later(i) : (seen.add(i), v)) }));
  return o as unknown as ArrayLike<number>;
}

function refused(f: () => unknown, message: RegExp): void {
  let error: unknown;
  try { f(); } catch (e) { error = e; }
  expect(error).toBeInstanceOf(InputError);
  expect((error as Error).message).toMatch(message);
}

describe("numbers beyond float32's range", () => {
  it("a Float64Array or Array x holding 1e39 (±∞ as float32) is refused by trainStep, gradients and predict; nothing changes", () => {
    const net = make();
    const before = snapshot(net);
    const x64 = Float64Array.from(X);
    x64[4] = 1e39;
    refused(() => net.trainStep(x64, [0, 1]), /x\[4\]: expected a finite number, got 1e\+39 \(beyond float32's range: it would be stored as Infinity\)/);
    refused(() => net.trainStep([...X.slice(0, 5), -3.5e38], [0, 1]), /x\[5\]: .*got -3\.5e\+38 \(beyond float32's range: it would be stored as -Infinity\)/);
    refused(() => net.gradients(x64, [0, 1]), /x\[4\]: .*1e\+39/);
    refused(() => net.predict(x64), /x\[4\]: .*1e\+39/);
    expect(snapshot(net)).toBe(before);
    // The largest double that still rounds to float32's largest finite value is accepted.
    const edge = Float64Array.from(X);
    edge[0] = 3.4028235677973362e38;
    expect(Number.isFinite(net.predict(edge)[0])).toBe(true);
  });

  it("mse targets of 1e39 are refused and change nothing", () => {
    const net = make(mse());
    const before = snapshot(net);
    refused(() => net.trainStep(Float32Array.from(X), new Float64Array([0, 1, 1e39, 0])), /targets\[2\]: expected a finite number, got 1e\+39 \(beyond float32's range/);
    expect(snapshot(net)).toBe(before);
  });
});

describe("arrays that change while they are read", () => {
  it("x and labels are read once: the step trains on what was checked, never on the later values", () => {
    const reference = make(), net = make();
    reference.trainStep(Float32Array.from(X), Int32Array.of(1, 0));
    // Every element reads finite and in range once, then NaN (x) or class 10⁶ (labels).
    net.trainStep(shifty(X, () => NaN), shifty([1, 0], () => 1e6));
    expect(snapshot(net)).toBe(snapshot(reference));
    expect(Array.from(net.predict(shifty(X, () => Infinity)))).toEqual(Array.from(reference.predict(Float32Array.from(X))));
  });

  it("an array-like whose length says 10¹² is refused without allocating it", () => {
    const net = make();
    refused(() => net.trainStep({ length: 1e12 } as ArrayLike<number>, [0, 1]), /x: expected 6 values .*got 1000000000000/);
    refused(() => net.trainStep(Float32Array.from(X), { length: 1e12 } as ArrayLike<number>), /labels: expected 2 values .*got 1000000000000/);
    // predict takes any length: the declared 3·2³⁰ values are refused at the first, before anything is allocated for them
    refused(() => net.predict({ length: 3 * 2 ** 30 } as ArrayLike<number>), /x\[0\]: expected a finite number, got undefined/);
  });

  it("views of shared memory and at an offset give the same step as a plain array", () => {
    const reference = make(), net = make(), other = make();
    reference.trainStep(Float32Array.from(X), Int32Array.of(1, 0));
    const shared = new Float32Array(new SharedArrayBuffer(4 * 9), 8, 6);
    shared.set(X);
    const labels = new Int32Array(new SharedArrayBuffer(16), 4, 2);
    labels.set([1, 0]);
    net.trainStep(shared, labels);
    const offset = new Float64Array(10).fill(NaN).subarray(3, 9);
    offset.set(X);
    other.trainStep(offset, Int32Array.of(1, 0));
    expect(snapshot(net)).toBe(snapshot(reference));
    expect(snapshot(other)).toBe(snapshot(reference));
    expect(Array.from(net.predict(shared))).toEqual(Array.from(reference.predict(Float32Array.from(X))));
  });

  it("a BigInt label is named as one", () => {
    refused(() => make().trainStep(Float32Array.from(X), new BigInt64Array([0n, 1n]) as unknown as Int32Array), /labels\[0\]: expected an integer class index in \[0, 1\], got BigInt 0/);
  });
});

describe("predict over several chunks", () => {
  it("a non-finite value in a later chunk is refused before anything is written to `out`", () => {
    const net = make();
    const n = 1500; // EVAL_CHUNK is 1024
    const x = new Float32Array(3 * n).map((_, i) => Math.sin(i));
    x[3 * 1400 + 1] = NaN;
    const out = new Float32Array(2 * n).fill(7);
    refused(() => net.predict(x, out), /x\[4201\]: expected a finite number, got NaN/);
    expect(out.every((v) => v === 7)).toBe(true);
  });
});

describe("misspelt options", () => {
  // Each was ignored and its default used (no weight decay, a bias, default betas, a shuffled
  // order, …), with no error: TypeScript catches it only in an object literal at the call.
  const cases: [string, () => unknown, RegExp][] = [
    ["compile", () => compile(seq(linear(3, 2)), { inputs: 3, batch: 2, bacth: 4 } as never), /compile: unknown option "bacth" \(did you mean batch\?\); expected inputs, batch, seed, loss, optimizer/],
    ["sgd", () => sgd({ lr: 0.1, weightdecay: 0.01 } as never), /sgd: unknown option "weightdecay" \(did you mean weightDecay\?\)/],
    ["adam", () => adam({ lr: 0.1, beta: [0.9, 0.99] } as never), /adam: unknown option "beta" \(did you mean betas\?\)/],
    ["adamw", () => adamw({ lr: 0.1, weight_decay: 0.1 } as never), /adamw: unknown option "weight_decay"/],
    ["linear", () => linear(3, 2, { bais: false } as never), /linear: unknown option "bais" \(did you mean bias\?\); expected bias, init, biasInit/],
    ["layerNorm", () => layerNorm(4, { epsilon: 1e-3 } as never), /layerNorm: unknown option "epsilon"; expected eps, affine/],
    ["batchNorm", () => batchNorm(4, { mom: 0.3 } as never), /batchNorm: unknown option "mom"; expected eps, momentum/],
    ["gelu", () => gelu({ approx: "tanh" } as never), /gelu: unknown option "approx"; expected approximate/],
    ["cosine", () => cosine({ from: 0.1, step: 10 } as never), /cosine: unknown option "step" \(did you mean steps\?\)/],
    ["warmup", () => warmup({ steps: 10, to: 0.1 } as never, 0.1), /warmup: unknown option "to"; expected steps, from/],
    ["stepDecay", () => stepDecay({ from: 0.1, gamma: 0.5, every: 10, lr: 1 } as never), /stepDecay: unknown option "lr"/],
    ["huber", () => huber({ beta: 1 } as never), /huber: unknown option "beta" \(did you mean delta\?\); expected delta/],
    ["binaryCrossEntropy", () => binaryCrossEntropy({ logit: true } as never), /binaryCrossEntropy: unknown option "logit" \(did you mean logits\?\)/],
    ["init.he", () => init.he({ mode: "fanIn", distrib: "uniform" } as never), /init.he: unknown option "distrib"/],
    ["layer", () => layer({ name: "l", in: 2, out: 2, params: {}, aply: (_p: never, x: T) => x } as never), /layer "l": unknown option "aply" \(did you mean apply\?\)/],
    ["a layer's parameter", () => layer({ name: "l", in: 2, out: 2, params: { w: { shape: [2], intt: init.ones() } }, apply: (_p: never, x: T) => x } as never), /layer "l" params.w: unknown option "intt" \(did you mean init\?\)/],
    ["Batcher", () => new Batcher(makeDataset("t", new Float32Array(6), new Int32Array(2), 3, 2), { batch: 1, shufle: false } as never), /Batcher\(t\): unknown option "shufle" \(did you mean shuffle\?\)/],
    ["gradients", () => make().gradients(Float32Array.from(X), [0, 1], { inputs: true } as never), /gradients: unknown option "inputs" \(did you mean input\?\)/],
  ];
  it.each(cases)("%s names the option it does not know and the ones it does", (_what, f, message) => {
    let error: unknown;
    try { f(); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(KilnError);
    expect((error as Error).message).toMatch(message);
  });

  it("a loss, optimizer or initializer of another shape is a ModelError at once (was a TypeError deep in compile)", () => {
    const m = seq(linear(3, 2));
    expect(() => compile(m, { inputs: 3, batch: 2, loss: {} as never })).toThrow(/compile: loss must be a loss \(softmaxCrossEntropy\(\), mse\(\), .*\), got Object \(no length\)/);
    expect(() => compile(m, { inputs: 3, batch: 2, optimizer: { lr: 0.1 } as never })).toThrow(/compile: optimizer must be an optimizer \(sgd\(…\), adam\(…\), adamw\(…\)\), got Object \(no length\)/);
    expect(() => linear(3, 2, { init: 5 as never })).toThrow(/linear init must be an initializer \(init.he\(\), init.xavier\(\), init.zeros\(\), …\), got number 5/);
  });
});

describe("evaluate", () => {
  it("a net whose width is not the dataset's class count is refused (its rows were read k at a time: numbers, all wrong)", () => {
    const ds = makeDataset("toy", Float32Array.from({ length: 64 * 3 }, (_v, i) => Math.sin(i)), Int32Array.from({ length: 64 }, (_v, i) => i % 2), 3, 2);
    expect(evaluate(make(), ds).accuracy).toBeGreaterThanOrEqual(0);
    const wide = compile(seq(linear(3, 4)), { inputs: 3, batch: 2, seed: 1 });
    refused(() => evaluate(wide, ds), /evaluate: expected a net with one output per class of toy \(2\), got 4 outputs per sample/);
  });
});

describe("net.params, net.state and net.optimizerState are read-only records", () => {
  it("assigning a name is a KilnError naming the in-place way (was a TypeError); nothing changes; the records still clone", () => {
    const net = make();
    const before = snapshot(net);
    for (const [record, name, what] of [[net.params, "0.weight", "net.params"], [net.state, "x", "net.state"], [net.optimizerState, "0.weight.momentum_buffer", "net.optimizerState"]] as const) {
      if (!(name in record)) continue;
      let error: unknown;
      try { (record as Record<string, unknown>)[name] = new Float32Array(12); } catch (e) { error = e; }
      expect(error).toBeInstanceOf(InputError);
      expect((error as Error).message).toBe(`${what} is read-only: expected its arrays to be changed in place (${what}["${name}"].set(values)), got an assignment of Float32Array(12) to "${name}"`);
    }
    expect(snapshot(net)).toBe(before);
    expect(Object.keys(net.params)).toEqual(["0.weight", "0.bias", "2.weight", "2.bias"]);
    expect(Object.isFrozen(net.params)).toBe(true);
    expect(structuredClone(net.params)["0.bias"]).toEqual(net.params["0.bias"]); // posts to a worker as before
    net.params["0.bias"]!.set([1, 2, 3, 4]); // the in-place way works
    expect(Array.from(net.params["0.bias"]!)).toEqual([1, 2, 3, 4]);
  });
});

describe("compileGraph's options", () => {
  it("null, a non-boolean flag or a bad thread count is an InputError naming the option", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "data", { shape: [2, 3], dtype: "f32" });
    b.output("y", "logits", b.relu(x));
    const g = b.build();
    for (const [opts, says] of [
      [null, /expected options \{ optimize\?, threads\?, checkNumerics\? \}, got null/],
      [{ threads: 0 }, /threads must be an integer in \[1, 64\], got number 0/],
      [{ threads: 2.5 }, /threads must be an integer in \[1, 64\], got number 2\.5/],
      [{ threads: "2" }, /threads must be an integer in \[1, 64\], got string "2"/],
      [{ optimize: "yes" }, /optimize must be true or false, got string "yes"/],
      [{ checkNumerics: 1 }, /checkNumerics must be true or false, got number 1/],
    ] as const) {
      expect(() => compileGraph(g, opts as never)).toThrow(InputError);
      expect(() => compileGraph(g, opts as never)).toThrow(says);
    }
    const p = compileGraph(g, { threads: 1 });
    p.input("x").set([-1, 2, -3, 4, -5, 6]);
    p.run();
    expect(Array.from(p.output("y"))).toEqual([0, 2, 0, 4, 0, 6]);
  });
});

describe("settings from the environment", () => {
  it("a value a KILN_ variable does not take is named once in a warning and ignored (KILN_CHECK_NUMERICS=true left the check off, silently)", async () => {
    const { debugLevel, envFlag, envSetting } = await import("../runtime/host.js");
    const { checkNumericsFromEnv } = await import("../src/numerics.js");
    const saved = { ...process.env };
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (m: string) => { warnings.push(m); };
    try {
      process.env.KILN_CHECK_NUMERICS = "true";
      expect(checkNumericsFromEnv()).toBe(true);
      process.env.KILN_CHECK_NUMERICS = "0";
      expect(checkNumericsFromEnv()).toBe(false);
      process.env.KILN_CHECK_NUMERICS = "please";
      expect(checkNumericsFromEnv()).toBe(false);
      expect(checkNumericsFromEnv()).toBe(false);
      process.env.KILN_DEBUG = "verbose";
      expect(debugLevel()).toBe(0);
      process.env.KILN_DEBUG = "3";
      expect(debugLevel()).toBe(3);
      expect(envSetting("KILN_UNSET_IN_TESTS", "x", "default", (t) => t)).toBe("default");
      expect(warnings).toEqual([
        'kiln: KILN_CHECK_NUMERICS="please" is not understood; expected 1 or 0. Ignored.',
        'kiln: KILN_DEBUG="verbose" is not understood; expected a level 0 to 4. Ignored.',
      ]);
    } finally {
      console.warn = warn;
      for (const k of ["KILN_CHECK_NUMERICS", "KILN_DEBUG"]) { if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k]; }
    }
  });
});
