/**
 * The open DSL's contract beyond the numbers (those are in test/pytorch.test.ts): errors that name
 * the layer, user names as data, specs, checkpoints, the IR codec, layer state, and that a
 * rejected call changes nothing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { javascriptSteps } from "./helpers/run.js";
import {
  binaryCrossEntropy, cat, compile, concat, decodeGraph, encodeGraph, fn, fromOnnx, fromSpec, gelu, huber, init, InputError, KilnError, l1,
  layer, leakyRelu, linear, lossFn, ModelError, mse, printIR, relu, seq, sgd, sigmoid, silu, tanh, toSpec, type LayerNode, type T,
} from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-dsl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A deterministic batch in [-1, 1]. */
function floats(n: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
}

/** The error `f` throws, which must be a KilnError. */
function kilnError(f: () => unknown): KilnError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KilnError);
    return e as KilnError;
  }
  throw new Error("expected a KilnError, but nothing was thrown");
}

const any = (m: unknown): LayerNode => m as LayerNode;
const opts = { inputs: 4, batch: 3, seed: 0, loss: mse(), optimizer: sgd({ lr: 0.1 }) };
const scale = (n: number) => layer({ name: "scale", in: n, out: n, params: { gain: { shape: [n], init: init.ones() } }, apply: (p, x) => x.mul(p.gain) });

describe("user code that goes wrong is a ModelError naming the layer", () => {
  it("a callback that throws", () => {
    const bad = fn("boom", () => { throw new RangeError("no luck"); });
    const e = kilnError(() => compile(seq(linear(4, 4), relu, bad), opts));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toBe(`fn "boom" at 2: the callback threw an error: RangeError: no luck`);
    expect(e.cause).toBeInstanceOf(RangeError);
  });

  it("a callback that returns something other than a tensor expression", () => {
    for (const [r, what] of [[3, "number 3"], [undefined, "undefined"], [Promise.resolve(1), "a Promise"], [{}, "Object (no length)"]] as const) {
      const m = seq(linear(4, 2), fn("odd", () => r as unknown as T));
      expect(kilnError(() => compile(m, opts)).message).toContain(`fn "odd" at 1: expected the callback to return a tensor expression, got ${what}`);
    }
  });

  it("an object forged with the tensor mark (Symbol.for) is refused as an operand, a cat part and a result", () => {
    const forged = { [Symbol.for("kiln.tensor-expression")]: true } as unknown as T;
    for (const [name, body, want] of [
      ["operand", (x: T) => x.add(forged), `fn "operand" at 1: add: a tensor from elsewhere`],
      ["part", (x: T) => cat([x, forged], 1).slice(1, 0, 4), `fn "part" at 1: cat[1]: a tensor from elsewhere`],
      ["result", () => forged, `fn "result" at 1: the callback returned a tensor from elsewhere`],
    ] as const) {
      const e = kilnError(() => compile(seq(linear(4, 4), fn(name, body)), opts));
      expect(e).toBeInstanceOf(ModelError);
      expect(e.message).toContain(want);
    }
  });

  it("an fn that changes the shape, and a layer whose apply returns the wrong shape (with both shapes)", () => {
    expect(kilnError(() => compile(seq(linear(4, 4), fn("shrink", (x) => x.sum(1, { keepdims: true }))), opts)).message)
      .toBe(`fn "shrink" at 1: an fn's result (it keeps its input's shape) must have shape [3,4], got [3,1]`);
    const wrong = layer({ name: "wrong", in: 4, out: 5, apply: (_p, x) => x.mul(2) });
    const e = kilnError(() => compile(seq(linear(4, 4), concat(linear(4, 2), wrong)), opts));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toBe(`layer "wrong" at 1.1: apply's result must have shape [3,5], got [3,4]`);
  });

  it("a tensor over the size limit, shapes that do not fit, and bad arguments, all named", () => {
    const huge = fn("huge", (x) => x.matmul(x, { transposeA: true }).sum().add(x));
    const e = kilnError(() => compile(seq(fn("id", (x) => x), huge), { ...opts, inputs: 20_000, batch: 2 }));
    expect(e.message).toMatch(/^fn "huge" at 1: matmul gives shape \[20000,20000\], 400000000 elements; one tensor holds at most 268435456$/);
    expect(kilnError(() => compile(seq(linear(4, 4), fn("mm", (x) => x.matmul(x))), opts)).message)
      .toMatch(/^fn "mm" at 1: matmul: .*inner dimensions differ \(4 vs 3\)/);
    expect(kilnError(() => compile(seq(linear(4, 4), fn("ax", (x) => x.sum(2))), opts)).message)
      .toBe(`fn "ax" at 1: sum: axis must be an integer in [-2, 1] for shape [3,4], got number 2`);
    expect(kilnError(() => compile(seq(linear(4, 4), fn("sl", (x) => x.slice(1, 3, 3).sum(1, { keepdims: true }).add(x))), opts)).message)
      .toMatch(/^fn "sl" at 1: slice\(1, 3, 3\) of shape \[3,4\] is empty/);
    expect(kilnError(() => compile(seq(linear(4, 4), fn("nan", (x) => x.add(NaN))), opts)).message)
      .toBe(`fn "nan" at 1: add: expected a finite number, got NaN`);
    expect(kilnError(() => compile(seq(linear(4, 4), fn("str", (x) => x.mul("2" as unknown as number))), opts)).message)
      .toBe(`fn "str" at 1: mul: expected a tensor expression or a number, got string "2"`);
    // A misspelt option was ignored: on a square operand, x·W instead of x·Wᵀ with no error.
    expect(kilnError(() => compile(seq(linear(4, 4), fn("tb", (x) => x.matmul(x.slice(0, 0, 3), { transposeb: true } as never))), opts)).message)
      .toBe(`fn "tb" at 1: matmul: unknown option "transposeb" (did you mean transposeB?); expected transposeA, transposeB`);
    expect(kilnError(() => compile(seq(linear(4, 4), fn("kd", (x) => x.sub(x.mean(1, { keepDims: true } as never)))), opts)).message)
      .toBe(`fn "kd" at 1: mean: unknown option "keepDims" (did you mean keepdims?); expected keepdims`);
  });

  it("a tensor kept from another layer, or used after its callback returned", () => {
    let kept: T | undefined;
    const keep = fn("keep", (x) => { kept = x; return x; });
    const use = fn("use", (x) => x.add(kept!));
    expect(kilnError(() => compile(seq(linear(4, 4), keep, use), opts)).message)
      .toBe(`fn "use" at 2: add: a tensor from fn "keep" at 1 (a body may use only its own inputs and numbers)`);
    const late = fn("late", (x) => x.add(kept!.exp()));
    expect(kilnError(() => compile(seq(linear(4, 4), keep, late), opts)).message).toContain("after its callback returned");
  });

  it("bad declarations are refused when the layer is made", () => {
    const base = { name: "l", in: 2, out: 2, apply: (_p: unknown, x: T) => x };
    expect(() => layer({ ...base, params: { "": { shape: [2] } } })).toThrow(/layer "l" params: a name must be non-empty/);
    expect(() => layer({ ...base, params: { w: { shape: [0, 2] } } })).toThrow(/shape must be an array of positive integers/);
    expect(() => layer({ ...base, params: { w: { shape: [2 ** 15, 2 ** 15] } } })).toThrow(/1073741824 elements/);
    expect(() => layer({ ...base, state: { s: { shape: [2], init: init.he() } } })).toThrow(/a state buffer starts constant/);
    expect(() => layer({ ...base, in: 0 })).toThrow(ModelError);
    expect(() => fn("", (x) => x)).toThrow(/fn name must be a non-empty string/);
    expect(() => concat(linear(3, 2), linear(4, 2) as never)).toThrow(/concat\[1\] linear\(4→2\): concat branch 1 expects 4 features, but the branches before it expect 3/);
  });
});

describe("user names are data, never code", () => {
  const evil = `"); process.exit(1); ("`;
  it("compile, train, predict, print and name parameters", () => {
    const model = seq(linear(4, 3), fn(evil, (x) => x.tanh()),
      layer({ name: evil, in: 3, out: 3, params: { [evil]: { shape: [3] } }, apply: (p, x) => x.add(p[evil]!) }), linear(3, 2));
    const net = compile(model, { ...opts, loss: lossFn(evil, (o, t) => o.sub(t).square().mean()) });
    expect(Number.isFinite(net.trainStep(floats(12), floats(6, 2)))).toBe(true);
    expect(net.predict(floats(8)).length).toBe(4);
    expect(Object.keys(net.params)).toContain(`2.${evil}`);
    expect(printIR(net.ir.forward)).toContain(`# fn ${JSON.stringify(evil)} at 1`);
    expect(printIR(net.ir.forward)).toContain(`# lossFn ${JSON.stringify(evil)}`);
    // A newline in a name cannot break the printed IR's lines.
    const nl = compile(seq(linear(4, 2), fn("a\nb\u2028c", (x) => x.exp())), opts);
    expect(printIR(nl.ir.forward)).toContain(`# fn "a\\nb\\u2028c" at 1`);
  });
});

describe("losses", () => {
  const net = () => compile(seq(linear(4, 2)), { ...opts, loss: binaryCrossEntropy({ logits: true }) });
  it("binaryCrossEntropy refuses targets outside [0, 1] and NaN, changing nothing", () => {
    const n = net();
    const before = Float32Array.from(n.params["0.weight"]!);
    const t = Float32Array.from([0, 1, 0.5, 0.25, 1, 0]);
    for (const [i, v] of [[3, 1.5], [0, -0.0625], [5, NaN]] as const) {
      const bad = Float32Array.from(t); bad[i] = v;
      const e = kilnError(() => n.trainStep(floats(12), bad));
      expect(e).toBeInstanceOf(InputError);
      expect(e.message).toBe(`targets[${i}]: expected a probability in [0, 1], got ${v}`);
    }
    expect(n.params["0.weight"]).toEqual(before);
    expect(n.step).toBe(0);
    expect(() => n.trainStep(floats(12), t.subarray(0, 5))).toThrow(/expected 6 values/);
  });

  it("binaryCrossEntropy at logit 0 has gradient σ(0) − t exactly (PyTorch's), not a subgradient", () => {
    const n = compile(seq(linear(1, 1)), { inputs: 1, batch: 2, loss: binaryCrossEntropy({ logits: true }), optimizer: sgd({ lr: 0 }) });
    n.params["0.weight"]!.fill(0);
    const { loss, grads } = n.gradients(Float32Array.from([1, 2]), Float32Array.from([0.2, 1]));
    expect(loss).toBeCloseTo(Math.LN2, 6);
    // dL/dz_b = (σ(0) − t_b) / 2; dL/dw = Σ_b x_b · dL/dz_b
    expect(grads["0.bias"]![0]).toBeCloseTo(((0.5 - 0.2) + (0.5 - 1)) / 2, 6);
    expect(grads["0.weight"]![0]).toBeCloseTo((1 * (0.5 - 0.2) + 2 * (0.5 - 1)) / 2, 6);
  });

  it("a lossFn must return a scalar; options are checked", () => {
    const bad = lossFn("rows", (o, t) => o.sub(t).square().mean(1));
    expect(kilnError(() => compile(seq(linear(4, 2)), { ...opts, loss: bad })).message)
      .toBe(`lossFn "rows": the loss must be a scalar (shape []), got shape [3]; reduce it with .mean() or .sum()`);
    expect(() => huber({ delta: 0 })).toThrow(/huber delta must be a finite number > 0, got 0/);
    expect(() => binaryCrossEntropy({ logits: "yes" as never })).toThrow(ModelError);
    expect(() => compile(seq(linear(4, 2)), { ...opts, loss: l1() }).trainStep(floats(12), [1, 2, 3, 4, 5, Infinity])).toThrow(/targets\[5\]: expected a finite number/);
  });
});

describe("leakyRelu", () => {
  it("is x above 0 and fround(slope·x) below, exactly, for any finite slope; its derivative at 0 is the slope (PyTorch's)", () => {
    const x = Float32Array.from([1, 3.5, 1e-30, 2e30, 0, -1, -0.3, -1e-30, -2e30, 7e-45, -7e-45, 3e38]);
    for (const slope of [0.01, 0.2, -3, 1e30, -1e30, 0]) {
      const net = compile(seq(leakyRelu(slope)), { inputs: x.length, batch: 1, seed: 0, loss: mse(), optimizer: sgd({ lr: 0 }) });
      // PyTorch multiplies by the slope as a float32 (its scalar cast to the tensor's type); a zero's sign aside.
      const want = Array.from(x, (v) => (v > 0 ? v : Math.fround(Math.fround(slope) * v)) + 0);
      expect(Array.from(net.predict(x), (v) => v + 0), `slope ${slope}`).toEqual(want);
      // d/dx of mse(leakyRelu(x), 0) at x = 0 is 2·0·leakyRelu'(0) / n: seen through a target of 1.
      const at0 = compile(seq(leakyRelu(slope)), { inputs: 1, batch: 1, seed: 0, loss: mse(), optimizer: sgd({ lr: 0 }) });
      const g = at0.gradients(Float32Array.of(0), Float32Array.of(1), { input: true }).inputGrad!;
      expect(g[0], `slope ${slope}`).toBe(Math.fround(-2 * slope));
      // ±∞ and NaN made inside the model (inputs must be finite): ∞ above 0, slope·(−∞) below, NaN kept.
      const inf = compile(seq(fn("huge", (v) => v.mul(1e30).mul(1e30)), leakyRelu(slope)), { inputs: 3, batch: 1, seed: 0, loss: mse(), optimizer: sgd({ lr: 0 }) });
      expect(Array.from(inf.predict(Float32Array.of(1, -1, 0)), (v) => v + 0), `slope ${slope}`).toEqual([Infinity, Math.fround(slope) * -Infinity, 0]);
    }
  });
});

describe("input gradients", () => {
  it("are ∂loss/∂x, and gradients() still changes nothing", () => {
    const net = compile(seq(linear(4, 3), gelu, linear(3, 2)), { ...opts, optimize: true });
    const x = floats(12), y = floats(6, 5);
    const before = Float32Array.from(net.params["0.weight"]!);
    const a = net.gradients(x, y, { input: true });
    expect(net.params["0.weight"]).toEqual(before);
    expect(net.step).toBe(0);
    const b = net.gradients(x, y);
    expect(b.loss).toBe(a.loss);
    expect(b.grads["0.weight"]).toEqual(a.grads["0.weight"]);
    expect(() => net.gradients(x, y, { input: 1 as never })).toThrow(/options.input must be true or false/);
  });
});

describe("specs, checkpoints and the IR codec", () => {
  it("toSpec/fromSpec keep the built-in activations and concat", () => {
    const model = seq(linear(4, 6), gelu({ approximate: "tanh" }), concat(seq(linear(6, 2), tanh), seq(sigmoid, linear(6, 3)), silu), leakyRelu(0.2), linear(11, 2));
    const spec = JSON.parse(JSON.stringify(toSpec(model)));
    expect(spec.layers[1]).toEqual({ kind: "activation", name: "gelu", approximate: "tanh" });
    expect(spec.layers[3]).toEqual({ kind: "activation", name: "leakyRelu", slope: 0.2 });
    const a = compile(model, opts), b = compile(fromSpec(spec), opts);
    const x = floats(12);
    expect(b.predict(x)).toEqual(a.predict(x));
    expect(toSpec(fromSpec(spec))).toEqual(spec);
    expect(() => fromSpec({ kind: "activation", name: "swish" })).toThrow(/name: expected activation name, one of tanh, sigmoid, silu, gelu, leakyRelu, got "swish"/);
  });

  it("toSpec refuses user code, naming the layer", () => {
    const swish = fn("swish", (x) => x.mul(x.sigmoid()));
    expect(() => toSpec(seq(linear(4, 4), concat(swish, linear(4, 2))))).toThrow(
      /^toSpec: layers\[1\]\.branches\[0\] is fn "swish", user code \(a JavaScript function\), which a spec cannot hold/);
    expect(() => toSpec(seq(linear(4, 4), scale(4)))).toThrow(/layers\[1\] is layer "scale"/);
  });

  it("a user layer's parameters and state save and load by name", async () => {
    const counter = layer({
      name: "ema", in: 4, out: 4,
      params: { w: { shape: [4, 4], init: init.xavier() } },
      state: { avg: { shape: [4] } },
      // A running mean of the inputs (kept in training), added to the output.
      apply: (p, x, s) => ({ out: x.matmul(p.w, { transposeB: true }).add(s.avg), state: { avg: s.avg.mul(0.5).add(x.mean(0).mul(0.5)) } }),
    });
    const model = seq(linear(4, 4), counter, linear(4, 2));
    const a = compile(model, opts);
    expect(Object.keys(a.params)).toEqual(["0.weight", "0.bias", "1.w", "2.weight", "2.bias"]);
    expect(Object.keys(a.state)).toEqual(["1.avg"]);
    a.trainStep(floats(12), floats(6, 3));
    expect(a.state["1.avg"]!.some((v) => v !== 0)).toBe(true);
    const path = join(dir, "user.safetensors");
    await a.save(path);
    const b = compile(model, { ...opts, seed: 7 });
    expect(b.params["1.w"]).not.toEqual(a.params["1.w"]);
    await b.load(path);
    expect(b.params["1.w"]).toEqual(a.params["1.w"]);
    expect(b.state["1.avg"]).toEqual(a.state["1.avg"]);
    const x = floats(8, 9);
    expect(b.predict(x)).toEqual(a.predict(x));
  });

  it("the JSON codec keeps scopes, and refuses a scope that is not a string", () => {
    const net = compile(seq(linear(4, 4), fn("swish", (x) => x.mul(x.sigmoid())), scale(4), linear(4, 2)), opts);
    for (const g of [net.ir.forward, net.ir.backward, net.ir.train, net.ir.eval]) {
      const back = decodeGraph(JSON.parse(JSON.stringify(encodeGraph(g))));
      expect(printIR(back)).toBe(printIR(g));
    }
    const json = encodeGraph(net.ir.forward) as { nodes: { scope?: unknown }[] };
    const i = json.nodes.findIndex((n) => n.scope !== undefined);
    expect(i).toBeGreaterThanOrEqual(0);
    json.nodes[i]!.scope = 5;
    expect(() => decodeGraph(json)).toThrow(new RegExp(`nodes\\[${i}\\]\\.scope: expected string scope, got 5`));
  });
});

describe("cat and the T surface", () => {
  it("cat joins on any axis and checks its arguments", () => {
    const m = seq(linear(4, 4), layer({ name: "both", in: 4, out: 8, apply: (_p, x) => cat([x, x.neg()], -1) }), linear(8, 1));
    const net = compile(m, opts);
    const { loss } = net.gradients(floats(12), floats(3));
    expect(Number.isFinite(loss)).toBe(true);
    expect(() => cat([], 0)).toThrow(/cat: expected a non-empty array of tensor expressions, got Array\(0\)/);
    const odd = layer({ name: "odd", in: 4, out: 4, apply: (_p, x) => cat([x, 3 as unknown as T], 1) });
    expect(kilnError(() => compile(seq(odd), opts)).message).toBe(`layer "odd" at 0: cat[1]: expected a tensor expression, got number 3`);
    expect(any(relu)).toBe(relu);
  });
});

describe("reshape, softmax and logSoftmax", () => {
  // Attention-like pooling over 3 heads of 8: each head's softmax weights its own values.
  const heads = layer({
    name: "heads", in: 6, out: 8,
    params: { w: { shape: [24, 6], init: init.xavier() } },
    apply: (p, x) => {
      const h = x.matmul(p.w, { transposeB: true }).reshape([x.shape[0]!, 3, -1]); // [batch, 3, 8]
      return h.softmax(-1).mul(h).sum(1).add(h.logSoftmax(2).mean(1).mul(0.25));
    },
  });
  const mk = () => compile(seq(heads), { inputs: 6, batch: 5, seed: 4, loss: mse(), optimizer: sgd({ lr: 0.1 }), threads: 1 });

  it("compute what they say (against a float64 reference), in pieces as whole, with gradients matching finite differences", () => {
    const net = mk(), w = net.params["0.w"]!.slice(), x = floats(5 * 6, 9);
    const y = net.predict(x);
    for (let s = 0; s < 5; s++) {
      const h = Array.from({ length: 24 }, (_, o) => w.subarray(o * 6, o * 6 + 6).reduce((a, wv, i) => a + wv * x[s * 6 + i]!, 0));
      for (let j = 0; j < 8; j++) {
        let want = 0, logs = 0;
        for (let head = 0; head < 3; head++) {
          const row = h.slice(head * 8, head * 8 + 8), top = Math.max(...row), lse = top + Math.log(row.reduce((a, v) => a + Math.exp(v - top), 0));
          want += Math.exp(row[j]! - lse) * row[j]!;
          logs += row[j]! - lse;
        }
        want += (logs / 3) * 0.25;
        expect(Math.abs(y[s * 8 + j]! - want)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)));
      }
    }
    // One sample at a time gives the same rows (reshape keeps the batch on axis 0).
    expect(Array.from(net.predict(x.subarray(6, 12)))).toEqual(Array.from(y.subarray(8, 16)));
    const t = floats(5 * 8, 3), { inputGrad } = net.gradients(x, t, { input: true }), step = 1e-2;
    for (const i of [0, 7, 13, 29]) {
      const xp = Float32Array.from(x), xm = Float32Array.from(x);
      xp[i]! += step; xm[i]! -= step;
      const fd = (net.gradients(xp, t).loss - net.gradients(xm, t).loss) / (2 * step);
      expect(Math.abs(fd - inputGrad[i]!)).toBeLessThan(2e-3 + 2e-2 * Math.abs(fd));
    }
    net.trainStep(x, t);
    expect(javascriptSteps(net)).toEqual([]); // every optimized step in WebAssembly
  });

  it("export to ONNX and come back bit for bit; bad shapes and axes are ModelErrors naming the layer", () => {
    const net = mk(), x = floats(7 * 6, 5);
    const { model, params } = fromOnnx(net.toOnnx());
    const back = compile(model, { inputs: 6, batch: 5, threads: 1 });
    for (const [k, v] of Object.entries(params)) back.params[k]!.set(v);
    expect(back.predict(x)).toEqual(net.predict(x));
    const bad = (apply: (x: T) => T) => kilnError(() => compile(seq(layer({ name: "bad", in: 6, out: 6, apply: (_p, x) => apply(x) })), opts6)).message;
    const opts6 = { inputs: 6, batch: 2 };
    expect(bad((x) => x.reshape([5, -1]))).toBe("layer \"bad\" at 0: reshape: [2,6] (12 elements) cannot be shaped [5,-1]");
    expect(bad((x) => x.reshape([-1, -1]))).toBe("layer \"bad\" at 0: reshape: at most one −1 in the shape, got [-1,-1]");
    expect(bad((x) => x.reshape([2, 0, 6]))).toMatch(/^layer "bad" at 0: reshape: expected a shape of positive integers \(and at most one −1\), got /);
    expect(bad((x) => x.softmax(2))).toBe("layer \"bad\" at 0: softmax: axis must be an integer in [-2, 1] for shape [2,6], got number 2");
  });
});
