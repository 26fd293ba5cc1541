/**
 * Model specs: JSON round trips (same spec, same parameters when compiled), defaults, and every
 * rejection with the path of the bad field.
 */
import { describe, expect, it } from "vitest";
import { fromSpec, MAX_SPEC_DEPTH, toSpec, type LayerSpec } from "../src/spec.js";
import {
  batchNorm, compile, DecodeError, dropout, features, init, KilnError, layerNorm, linear, ModelError, relu, residual, seq, type Initializer, type LayerNode,
} from "../src/index.js";

const models: [string, () => LayerNode][] = [
  ["every layer kind, default options", () => seq(
    linear(6, 5), layerNorm(5), relu, dropout(0.1),
    residual(seq(linear(5, 5), batchNorm(5), relu)),
    linear(5, 3),
  )],
  ["every option and initializer", () => seq(
    relu,
    linear(4, 8, { bias: false, init: init.xavier({ distribution: "uniform" }) }),
    layerNorm(8, { eps: 1e-3, affine: false }),
    batchNorm(8, { eps: 0.01, momentum: 0.3 }),
    linear(8, 8, { init: init.he({ distribution: "uniform", mode: "fanOut" }), biasInit: init.ones() }),
    linear(8, 8, { init: init.normal({ variance: 0.02 }), biasInit: init.normal({ variance: 0 }) }),
    linear(8, 8, { init: init.zeros(), biasInit: init.xavier() }),
    dropout(0),
    residual(relu),
    seq(seq(linear(8, 2))),
  )],
  ["a bare layer", () => linear(3, 2)],
  ["a residual of a bare linear", () => residual(linear(3, 3))],
];

describe("toSpec / fromSpec round trip", () => {
  for (const [name, make] of models) {
    it(`${name}: fromSpec(toSpec(m)) has the same spec, survives JSON, and compiles to the same parameters`, () => {
      const m = make();
      const spec = toSpec(m);
      const back = fromSpec(JSON.parse(JSON.stringify(spec)));
      expect(toSpec(back)).toEqual(spec);
      expect(JSON.parse(JSON.stringify(back))).toEqual(JSON.parse(JSON.stringify(m))); // same plain fields
      const opts = { inputs: features(m).in!, batch: 3, seed: 11 };
      const a = compile(m, opts), b = compile(back, opts);
      expect(b.params).toEqual(a.params);
      expect(Object.keys(b.state)).toEqual(Object.keys(a.state));
    });
  }

  it("writes every field out, defaults included", () => {
    expect(toSpec(seq(linear(2, 3), batchNorm(3), layerNorm(3), dropout(0.5)))).toEqual({
      kind: "seq", layers: [
        { kind: "linear", in: 2, out: 3, bias: true, init: { kind: "he", distribution: "normal", mode: "fanIn" }, biasInit: { kind: "zeros" } },
        { kind: "batchNorm", n: 3, eps: 1e-5, momentum: 0.1 },
        { kind: "layerNorm", n: 3, eps: 1e-5, affine: true },
        { kind: "dropout", p: 0.5 },
      ],
    });
  });

  it("omitted optional fields take the combinators' defaults", () => {
    const m = fromSpec({ kind: "seq", layers: [{ kind: "linear", in: 784, out: 256 }, { kind: "relu" }, { kind: "batchNorm", n: 256 }, { kind: "linear", in: 256, out: 10, init: { kind: "he" } }] });
    expect(toSpec(m)).toEqual(toSpec(seq(linear(784, 256), relu, batchNorm(256), linear(256, 10))));
  });

  it("an init.normal variance function is stored as its value at the layer's fan-in: same parameters, bit for bit", () => {
    const m = seq(linear(100, 10, { init: init.normal({ variance: (n) => 3 / n }), biasInit: init.normal({ variance: (n) => 1 / (n * n) }) }));
    const spec = toSpec(m);
    expect(spec).toMatchObject({ layers: [{ init: { kind: "normal", variance: 3 / 100 }, biasInit: { kind: "normal", variance: 1e-4 } }] });
    const a = compile(m, { inputs: 100, batch: 2, seed: 3 }), b = compile(fromSpec(spec), { inputs: 100, batch: 2, seed: 3 });
    expect(b.params).toEqual(a.params);
  });
});

describe("invalid specs name the bad field", () => {
  const lin = (extra: object = {}) => ({ kind: "linear", in: 4, out: 4, ...extra });
  const cases: [string, unknown, typeof KilnError, RegExp][] = [
    ["negative size", { kind: "seq", layers: [lin(), { kind: "relu" }, lin(), lin({ out: -4 })] }, DecodeError, /layers\[3\]\.out: expected positive integer, got -4/],
    ["fractional size", { kind: "seq", layers: [lin({ in: 2.5 })] }, DecodeError, /layers\[0\]\.in: expected positive integer, got 2\.5/],
    ["string size", lin({ out: "4" }), DecodeError, /^invalid model spec: out: expected positive integer, got "4"/],
    ["missing size", { kind: "layerNorm" }, DecodeError, /n: expected positive integer, got nothing/],
    ["unknown kind", { kind: "seq", layers: [lin(), { kind: "conv2d", k: 3 }] }, DecodeError, /layers\[1\]\.kind: expected layer kind, one of linear, relu, dropout, layerNorm, batchNorm, residual, seq, concat, activation, got "conv2d"/],
    ["no kind", { kind: "seq", layers: [{}] }, DecodeError, /layers\[0\]\.kind: expected layer kind, .* got nothing/],
    ["kind from the prototype", { kind: "toString" }, DecodeError, /kind: expected layer kind/],
    ["extra key", { kind: "seq", layers: [lin({ name: "fc1" })] }, DecodeError, /layers\[0\]\.name: expected no such field \(allowed: kind, in, out, bias, init, biasInit\), got "fc1"/],
    ["extra key on seq", { kind: "seq", layers: [lin()], name: "x" }, DecodeError, /^invalid model spec: name: expected no such field/],
    ["wrong type of bias", { kind: "seq", layers: [lin({ bias: 1 })] }, DecodeError, /layers\[0\]\.bias: expected boolean, got 1/],
    ["dropout p = 1", { kind: "dropout", p: 1 }, DecodeError, /p: expected number in \[0, 1\), got 1/],
    ["momentum > 1", { kind: "batchNorm", n: 3, momentum: 2 }, DecodeError, /momentum: expected number in \[0, 1\], got 2/],
    ["eps = 0", { kind: "layerNorm", n: 3, eps: 0 }, DecodeError, /eps: expected finite number > 0, got 0/],
    ["NaN named as NaN (JSON would say null)", { kind: "dropout", p: NaN }, DecodeError, /p: expected number in \[0, 1\), got NaN/],
    ["∞ named as Infinity", { kind: "activation", name: "leakyRelu", slope: -Infinity }, DecodeError, /slope: expected finite number, got -Infinity/],
    ["unknown initializer", lin({ init: { kind: "orthogonal" } }), DecodeError, /init\.kind: expected initializer kind, one of he, xavier, normal, zeros, ones, got "orthogonal"/],
    ["bad distribution", { kind: "residual", fn: lin({ init: { kind: "xavier", distribution: "cauchy" } }) }, DecodeError, /fn\.init\.distribution: expected "normal" or "uniform", got "cauchy"/],
    ["variance as a function marker", lin({ init: { kind: "normal", variance: "function" } }), DecodeError, /init\.variance: expected finite number ≥ 0, got "function"/],
    ["negative variance", lin({ biasInit: { kind: "normal", variance: -1 } }), DecodeError, /biasInit\.variance: expected finite number ≥ 0, got -1/],
    ["empty seq", { kind: "seq", layers: [] }, DecodeError, /layers: expected 1 to 10000 layers, got \[\]/],
    ["layers not an array", { kind: "seq", layers: {} }, DecodeError, /layers: expected/],
    ["not an object", "seq", DecodeError, /\(root\): expected layer object/],
    ["null", null, DecodeError, /\(root\): expected layer object/],
    ["an array", [lin()], DecodeError, /\(root\): expected layer object/],
    ["huge size (the combinator's check)", { kind: "seq", layers: [lin(), lin({ in: 4, out: 1e12 })] }, ModelError, /^layers\[1\]: linear output features must be a positive integer ≤ 16777216, got 1000000000000/],
    ["mismatched neighbours", { kind: "seq", layers: [lin(), { kind: "residual", fn: { kind: "seq", layers: [lin({ in: 5 })] } }] }, ModelError, /^layers\[1\]: residual\.fn seq\(1 layers\): residual expects its function to map N features to N, but it maps 5 to 4/],
    ["neighbours that do not fit", { kind: "seq", layers: [lin(), lin({ in: 5 })] }, ModelError, /^\(root\): seq\[1\] linear\(5→4\): seq argument 1 expects 5 features, but previous layer outputs 4/],
    ["residual that changes the width", { kind: "seq", layers: [{ kind: "residual", fn: lin({ out: 3 }) }] }, ModelError, /^layers\[0\]: residual\.fn linear\(4→3\): residual expects its function to map N features to N, but it maps 4 to 3/],
  ];
  for (const [name, json, Err, message] of cases) {
    it(name, () => {
      let error: unknown;
      try { fromSpec(json); } catch (e) { error = e; }
      expect(error).toBeInstanceOf(Err);
      expect((error as Error).message).toMatch(message);
    });
  }

  it("reports several problems at once, each with its path", () => {
    expect(() => fromSpec({ kind: "seq", layers: [lin({ in: 0 }), { kind: "dropout", p: -1 }] }))
      .toThrow(/layers\[0\]\.in: expected positive integer, got 0; layers\[1\]\.p: expected number in \[0, 1\), got -1/);
  });
});

describe("nesting and size bombs are refused before deep recursion", () => {
  const nest = (depth: number, wrap: (inner: unknown) => unknown): unknown => {
    let m: unknown = { kind: "relu" };
    for (let i = 0; i < depth; i++) m = wrap(m);
    return m;
  };
  const inSeq = (m: unknown) => ({ kind: "seq", layers: [m] });
  const inResidual = (m: unknown) => ({ kind: "residual", fn: m });

  it(`${MAX_SPEC_DEPTH} levels of seq and of residual are fine`, () => {
    expect(() => fromSpec(nest(MAX_SPEC_DEPTH, inSeq))).not.toThrow();
    expect(() => fromSpec(nest(MAX_SPEC_DEPTH, inResidual))).not.toThrow();
  });

  for (const [name, wrap] of [["seq", inSeq], ["residual", inResidual]] as const) {
    it(`${MAX_SPEC_DEPTH + 1} and 10,000 nested ${name}s are a DecodeError, fast`, () => {
      expect(() => fromSpec(nest(MAX_SPEC_DEPTH + 1, wrap))).toThrow(/nested deeper than 64 levels of seq\/residual/);
      const start = performance.now();
      expect(() => fromSpec(nest(10_000, wrap))).toThrow(DecodeError);
      expect(() => fromSpec(JSON.parse("[".repeat(100_000) + "]".repeat(100_000)))).toThrow(DecodeError);
      expect(performance.now() - start).toBeLessThan(1000);
    });
  }

  it("a cyclic object is refused, not walked forever", () => {
    const cyclic: { kind: string; layers: unknown[] } = { kind: "seq", layers: [] };
    cyclic.layers.push(cyclic);
    expect(() => fromSpec(cyclic)).toThrow(DecodeError);
  });

  it("a seq of more than 10,000 layers is refused", () => {
    expect(() => fromSpec({ kind: "seq", layers: Array.from({ length: 10_001 }, () => ({ kind: "relu" })) })).toThrow(/layers: expected 1 to 10000 layers/);
  });
});

describe("toSpec refuses what fromSpec could not rebuild", () => {
  it("a hand-made initializer, a variance function giving NaN", () => {
    const custom: Initializer = { kind: "constant", label: "sevens", sample: (out) => { out.fill(7); } };
    expect(() => toSpec(seq(linear(2, 2), linear(2, 2, { init: custom })))).toThrow(/layers\[1\]\.init: cannot write initializer sevens as a spec: it was not made by kiln's init functions/);
    expect(() => toSpec(linear(2, 2, { biasInit: init.normal({ variance: () => NaN }) }))).toThrow(/biasInit: .*variance at fan-in 2 is NaN/);
  });

  it("nesting deeper than fromSpec accepts; a non-model", () => {
    let m: LayerNode = relu;
    for (let i = 0; i <= MAX_SPEC_DEPTH; i++) m = seq(m);
    expect(() => toSpec(m)).toThrow(ModelError);
    expect(() => toSpec({ kind: "conv" } as unknown as LayerNode)).toThrow(ModelError);
  });

  it("the spec is plain data (no functions, no shared initializer objects)", () => {
    const spec: LayerSpec = toSpec(seq(linear(3, 3, { init: init.normal({ variance: (n) => n }) }), relu));
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
  });
});
