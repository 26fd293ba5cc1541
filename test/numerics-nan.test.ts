/**
 * NaN and ±Infinity semantics against PyTorch 1.13 (test/fixtures/torch-nan-semantics.json,
 * written by make_nan_fixtures.py): each case is built from kiln's IR ops and run in the
 * reference interpreter (the oracle) and in the optimized program (fused loops, the SGEMM relu
 * epilogue, the normalization and softmax cross-entropy kernels), inputs set directly (no input
 * validation in the way). A NaN must never turn into a finite number where PyTorch's stays NaN:
 * relu(NaN) = 0 once let a NaN weight hide behind a finite loss.
 *
 * Gradients are compared too, except at a NaN input where kiln's rules differ from PyTorch's
 * (both non-finite or both finite, and none hides a NaN of the forward): maximum/minimum give
 * half the gradient to each operand (PyTorch all to both), leakyRelu passes the whole gradient
 * (PyTorch slope·g).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { differentiate } from "../compiler/autodiff.js";
import type { V } from "../compiler/ir/types.js";
import { compileGraph, GraphBuilder } from "../src/index.js";
import { emitClip } from "../src/optim/clip.js";

type Enc = number | "NaN" | "Infinity" | "-Infinity" | "-0";
interface Fixture { readonly name: string; readonly x: Enc[]; readonly y: Enc[]; readonly dx?: Enc[]; readonly w?: Enc[]; readonly b?: Enc[]; readonly labels?: number[] }
const fixtures: Fixture[] = JSON.parse(readFileSync(new URL("./fixtures/torch-nan-semantics.json", import.meta.url), "utf8")).cases;
const dec = (v: Enc): number => (v === "NaN" ? NaN : v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : v === "-0" ? -0 : v);
const byName = (name: string) => fixtures.find((f) => f.name === name)!;

/** kiln's value matches PyTorch's: NaN for NaN, the same infinity, finite within 1e-5 relative; −0 only where asked. */
function expectSame(got: ArrayLike<number>, want: readonly Enc[], what: string, opts: { signedZero?: boolean; skip?: (i: number) => boolean } = {}): void {
  expect(got.length, what).toBe(want.length);
  want.forEach((e, i) => {
    if (opts.skip?.(i)) return;
    const w = dec(e), g = got[i]!;
    const where = `${what}[${i}]: kiln ${Object.is(g, -0) ? "-0" : g}, PyTorch ${e}`;
    if (Number.isNaN(w)) expect(Number.isNaN(g), where).toBe(true);
    else if (!Number.isFinite(w)) expect(g, where).toBe(w);
    else {
      expect(Math.abs(g - w), where).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(w)));
      if (opts.signedZero && w === 0) expect(Object.is(g, w), where).toBe(true);
    }
  });
}

const s = (b: GraphBuilder, x: number) => b.scalar(x);
/** The activations as kiln's layers define them (src/layers/activations.ts), from IR ops. */
const ACTIVATIONS: Record<string, (b: GraphBuilder, a: V) => V> = {
  relu: (b, a) => b.relu(a),
  leakyRelu: (b, a) => b.add(b.mul(a, s(b, 0.1)), b.mul(b.relu(a), s(b, 0.9))),
  abs: (b, a) => b.abs(a),
  sign: (b, a) => b.sign(a),
  tanh: (b, a) => b.tanh(a),
  sigmoid: (b, a) => b.sigmoid(a),
  gelu: (b, a) => b.mul(b.mul(a, b.add(b.erf(b.mul(a, s(b, Math.SQRT1_2))), s(b, 1))), s(b, 0.5)),
  silu: (b, a) => b.mul(a, b.sigmoid(a)),
  exp: (b, a) => b.exp(a),
  maximum0: (b, a) => b.maximum(a, b.constant(0, [2, 4])),
  minimum0: (b, a) => b.minimum(a, b.constant(0, [2, 4])),
};
/** Gradient entries at a NaN input where kiln's rule is not PyTorch's (see the header). */
const GRAD_AT_NAN_DIFFERS = new Set(["leakyRelu", "maximum0", "minimum0"]);

describe("NaN and ±Infinity as PyTorch 1.13", () => {
  it("the fixture covers every case below", () => {
    expect(fixtures.map((f) => f.name).sort()).toEqual([...Object.keys(ACTIVATIONS), "max", "logSoftmax", "layerNorm", "batchNorm", "linearRelu", "softmaxCrossEntropy", "dropout",
      ...[0, 1, 2].flatMap((k) => [`clipGradValue${k}`, `clipGradNorm${k}`])].sort());
  });

  for (const [name, f] of Object.entries(ACTIVATIONS)) {
    it(`${name}: values and gradients (reference and optimized)`, () => {
      const fx = byName(name);
      const b = new GraphBuilder();
      const a = b.input("a", "param", { shape: [2, 4], dtype: "f32" });
      const y = f(b, a);
      b.output("y", "logits", y);
      b.output("loss", "loss", b.sum(y, [0, 1]));
      const g = differentiate(b.build(), "loss", ["a"]);
      for (const optimize of [false, true]) {
        const p = compileGraph(g, { optimize, threads: 1 });
        p.input("a").set(fx.x.map(dec));
        p.run();
        const what = `${name} (${optimize ? "optimized" : "reference"})`;
        expectSame(p.output("y"), fx.y, what, { signedZero: name === "relu" || name === "leakyRelu" });
        expectSame(p.output("a.grad"), fx.dx!, `${what} gradient`, { skip: (i) => GRAD_AT_NAN_DIFFERS.has(name) && Number.isNaN(dec(fx.x[i]!)) });
      }
    });
  }

  const rowCases: Record<string, (b: GraphBuilder, a: V) => V> = {
    max: (b, a) => b.max(a, [1]),
    logSoftmax: (b, a) => b.logSoftmax(a, 1),
    layerNorm: (b, a) => b.normalize(a, 1, 1e-5),
    batchNorm: (b, a) => b.normalize(a, 0, 1e-5),
  };
  for (const [name, f] of Object.entries(rowCases)) {
    it(`${name}: a NaN or ∞ spreads over its row or column as in PyTorch`, () => {
      const fx = byName(name);
      const b = new GraphBuilder();
      const a = b.input("a", "param", { shape: [3, 4], dtype: "f32" });
      b.output("y", "logits", f(b, a));
      const g = b.build();
      for (const optimize of [false, true]) {
        const p = compileGraph(g, { optimize, threads: 1 });
        p.input("a").set(fx.x.map(dec));
        p.run();
        expectSame(p.output("y"), fx.y, `${name} (${optimize ? "optimized" : "reference"})`);
      }
    });
  }

  it("linear with relu: a NaN weight gives NaN, not 0, in the SGEMM's and the batch-1 GEMV's relu epilogues too", () => {
    const fx = byName("linearRelu");
    // Both rows (the SGEMM), then each row alone (batch 1: the GEMV row kernel).
    for (const rows of [[0, 1], [0], [1]]) {
      const b = new GraphBuilder();
      const x = b.input("x", "param", { shape: [rows.length, 3], dtype: "f32" });
      const w = b.input("w", "param", { shape: [4, 3], dtype: "f32" });
      const bias = b.input("b", "param", { shape: [4], dtype: "f32" });
      b.output("y", "logits", b.relu(b.add(b.matmul(x, w, false, true), bias)));
      const g = b.build();
      for (const optimize of [false, true]) {
        const p = compileGraph(g, { optimize, threads: 1 });
        if (optimize) expect(p.graph.nodes.map((n) => n.op)).toContain("linear");
        p.input("x").set(rows.flatMap((r) => fx.x.slice(3 * r, 3 * r + 3).map(dec)));
        p.input("w").set(fx.w!.map(dec));
        p.input("b").set(fx.b!.map(dec));
        p.run();
        expectSame(p.output("y"), rows.flatMap((r) => fx.y.slice(4 * r, 4 * r + 4)), `linear+relu rows ${rows} (${optimize ? "optimized" : "reference"})`);
      }
    }
  });

  it("softmax cross-entropy: a NaN logit makes the loss and its row's gradient NaN, the other rows' stay", () => {
    const fx = byName("softmaxCrossEntropy");
    const b = new GraphBuilder();
    const z = b.input("z", "param", { shape: [2, 3], dtype: "f32" });
    const labels = b.input("labels", "labels", { shape: [2], dtype: "i32" });
    // kiln's loss: −(1/batch)·Σ onehot·log softmax (src/loss.ts), fused into softmax_xent when optimized.
    b.output("loss", "loss", b.mul(b.sum(b.mul(b.logSoftmax(z, 1), b.oneHot(labels, 3)), [0, 1]), s(b, -0.5)));
    const g = differentiate(b.build(), "loss", ["z"]);
    for (const optimize of [false, true]) {
      const p = compileGraph(g, { optimize, threads: 1 });
      if (optimize) expect(p.graph.nodes.map((n) => n.op)).toContain("softmax_xent");
      p.input("z").set(fx.x.map(dec));
      p.input("labels").set(fx.labels!);
      p.run();
      const what = `softmax cross-entropy (${optimize ? "optimized" : "reference"})`;
      expectSame(p.output("loss"), fx.y, what);
      expectSame(p.output("z.grad"), fx.dx!, `${what} gradient`);
    }
  });

  for (const kind of ["Value", "Norm"] as const) {
    it(`clipGrad${kind}: ±∞ and NaN gradients as torch.nn.utils.clip_grad_${kind.toLowerCase()}_`, () => {
      for (const k of [0, 1, 2]) {
        const fx = byName(`clipGrad${kind}${k}`);
        const b = new GraphBuilder();
        const g = b.input("g", "param", { shape: [4], dtype: "f32" });
        b.output("y", "logits", emitClip(b, [g], kind === "Value" ? { value: 1 } : { norm: 1 })[0]!);
        const graph = b.build();
        for (const optimize of [false, true]) {
          const p = compileGraph(graph, { optimize, threads: 1 });
          p.input("g").set(fx.x.map(dec));
          p.run();
          expectSame(p.output("y"), fx.y, `clipGrad${kind} ${fx.x.join(" ")} (${optimize ? "optimized" : "reference"})`);
        }
      }
    });
  }

  it("dropout multiplies by its mask: NaN stays NaN and a dropped ∞ becomes NaN, as PyTorch's", () => {
    const fx = byName("dropout");
    const b = new GraphBuilder();
    const a = b.input("a", "param", { shape: [2, 4], dtype: "f32" });
    const step = b.input("step", "scalar", { shape: [], dtype: "i32" });
    const mask = b.dropoutMask(step, [2, 4], 0.5, 3, 0);
    b.output("y", "logits", b.mul(a, mask));
    b.output("mask", "probe", mask);
    const g = b.build();
    const x = fx.x.map(dec);
    // PyTorch's own draw: its NaN input is NaN out, and its ∞ inputs are NaN where dropped.
    expectSame(fx.y.map(dec).map((v, i) => (Number.isNaN(x[i]!) ? v : 0)), x.map((v) => (Number.isNaN(v) ? "NaN" : 0)), "PyTorch's dropout of NaN");
    for (const optimize of [false, true]) {
      const p = compileGraph(g, { optimize, threads: 1 });
      p.input("a").set(x);
      p.input("step").fill(0);
      p.run();
      const m = p.output("mask");
      expect(new Set(m), "the mask drops some and keeps some").toEqual(new Set([0, 2]));
      expectSame(p.output("y"), x.map((v, i): Enc => { const r = v * m[i]!; return Number.isNaN(r) ? "NaN" : r === Infinity ? "Infinity" : r === -Infinity ? "-Infinity" : r; }),
        `dropout (${optimize ? "optimized" : "reference"})`);
    }
  });
});
