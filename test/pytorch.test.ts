/**
 * Whole models against PyTorch: the fixtures in test/fixtures/pytorch-*.json are written by
 * test/fixtures/make_fixtures.py (see test/fixtures/README.md), which runs the same models,
 * parameters, batches and dropout masks (kiln's Philox streams re-implemented in numpy) through
 * torch in float64.
 *
 * For each fixture: rebuild the model from its JSON description, compile it, load PyTorch's
 * initial parameters and running statistics in place, then compare
 *   predict() at the initial parameters,
 *   gradients() — loss and grads at the initial parameters on batch 0 — and that it changed
 *     nothing (params and state bit-identical, and the next trainStep reports the same loss),
 *   the losses returned by three trainStep() calls,
 *   parameters and state after them, and predict() after them (eval batch of another size).
 *
 * Tolerance: element i of a tensor passes when |actual − expected| ≤ rtol · max(|expected|, scale)
 * with scale = max(max-abs of the expected tensor, 1e-3): the error is measured against the size of
 * the tensor's largest element (for a scalar, plain relative error with a 1e-3 floor), so an
 * element that is small because terms cancelled is not held to a tighter absolute bound than the
 * terms it came from. For gradients the scale is also at least 1e-2 × the largest gradient of the
 * call: a gradient that is mathematically zero (a bias right before a batchNorm) has float32
 * noise the size of the gradients that cancelled in it.
 *   rtol 1e-5: losses, parameters and running statistics after the steps, logits;
 *   rtol 1e-4: gradients (reductions over the batch, back through every layer).
 * The expected values are float64 results rounded to float32; the generator checks that float32
 * PyTorch stays within a quarter of these tolerances.
 */
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { compile, type Net as KilnNet } from "../src/index.js";
import { javascriptSteps } from "./helpers/run.js";
import { build, lossOf, optimizerOf, type LayerJson, type LossJson, type OptimizerJson } from "./helpers/fixture-model.js";

// ---------------------------------------------------------------------------------------------
// Fixture format (written by test/fixtures/make_fixtures.py)

interface TensorJson { readonly shape: readonly number[]; readonly data: readonly number[] }

interface Fixture {
  readonly name: string;
  readonly covers: string;
  readonly model: LayerJson;
  readonly options: {
    readonly inputs: number;
    readonly outputs: number;
    readonly batch: number;
    readonly evalBatch: number;
    readonly seed: number;
    readonly loss: LossJson;
    readonly optimizer: OptimizerJson;
  };
  readonly initial: { readonly params: Readonly<Record<string, TensorJson>>; readonly state: Readonly<Record<string, TensorJson>> };
  /** Training batches: x is [batch, inputs]; labels are [batch] class indices (softmaxCrossEntropy) or [batch, outputs] targets (mse). */
  readonly steps: readonly { readonly x: TensorJson; readonly labels: TensorJson }[];
  readonly eval: { readonly x: TensorJson };
  readonly expected: {
    readonly gradients: { readonly loss: number; readonly grads: Readonly<Record<string, TensorJson>>; readonly inputGrad: TensorJson };
    readonly trainLosses: readonly number[];
    /** State holds running_mean / running_var tensors and num_batches_tracked as a plain number. */
    readonly final: { readonly params: Readonly<Record<string, TensorJson>>; readonly state: Readonly<Record<string, TensorJson | number>> };
    readonly predictInitial: TensorJson;
    readonly predictFinal: TensorJson;
  };
}

// KILN_FIXTURES_DIR reads another directory instead, e.g. random models written by
// test/fixtures/random_fixtures.py (see test/fixtures/README.md).
const OTHER_DIR = process.env["KILN_FIXTURES_DIR"];
const FIXTURE_DIR = OTHER_DIR ? pathToFileURL(resolve(OTHER_DIR) + "/") : new URL("./fixtures/", import.meta.url);
const FIXTURE_FILES = readdirSync(FIXTURE_DIR).filter((f) => f.startsWith("pytorch-") && f.endsWith(".json")).sort();

function loadFixture(file: string): Fixture {
  const fx = JSON.parse(readFileSync(new URL(file, FIXTURE_DIR), "utf8")) as Fixture;
  if (typeof fx.name !== "string" || fx.model === undefined || fx.expected?.trainLosses?.length !== fx.steps?.length) {
    throw new Error(`${file} is not a fixture of make_fixtures.py; regenerate it (test/fixtures/README.md)`);
  }
  return fx;
}

// ---------------------------------------------------------------------------------------------
// The compiled program, as this test uses it (the public contract of compile()). Methods are
// declared with method syntax so a stricter label type per loss still fits.

interface Net {
  readonly params: Readonly<Record<string, Float32Array>>;
  readonly state: Readonly<Record<string, Float32Array | BigInt64Array>>;
  trainStep(x: Float32Array, labels: Int32Array | Float32Array): number;
  gradients(x: Float32Array, labels: Int32Array | Float32Array, opts: { input: true }): {
    readonly loss: number; readonly grads: Readonly<Record<string, Float32Array>>; readonly inputGrad: Float32Array;
  };
  predict(x: Float32Array): Float32Array;
  programs(): ReturnType<KilnNet["programs"]>;
}


function compileFixture(fx: Fixture, optimize: boolean): Net {
  const o = fx.options;
  return compile(build(fx.model), {
    inputs: o.inputs, batch: o.batch, seed: o.seed, optimizer: optimizerOf(o.optimizer), loss: lossOf(o.loss), optimize,
  });
}

const labelsOf = (fx: Fixture, t: TensorJson): Int32Array | Float32Array =>
  fx.options.loss === "softmaxCrossEntropy" ? Int32Array.from(t.data) : Float32Array.from(t.data);

// ---------------------------------------------------------------------------------------------
// Comparison

const RTOL_ELEMENTWISE = 1e-5;
const RTOL_SUMS = 1e-4;
const FLOOR = 1e-3;
const GRAD_FLOOR_FRACTION = 1e-2;
/** trainStep right after gradients() runs the same forward on the same batch at the same step. */
const RTOL_SAME_PROGRAM = 1e-6;

const maxAbs = (xs: readonly number[]): number => xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

function at(flat: number, shape: readonly number[]): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(flat % shape[d]!);
    flat = Math.floor(flat / shape[d]!);
  }
  return `[${idx.join(", ")}]`;
}

/**
 * Soft-asserts that `actual` matches `expected` element by element within
 * rtol · max(|expected|, max(max-abs(expected), floor)); the message names the worst element.
 */
function expectClose(what: string, actual: ArrayLike<number> | undefined, expected: TensorJson, rtol: number, floor = FLOOR): void {
  expect.soft(actual, `${what}: missing`).toBeDefined();
  if (actual === undefined) return;
  expect.soft(actual.length, `${what}: number of values (expected shape [${expected.shape.join(", ")}])`).toBe(expected.data.length);
  if (actual.length !== expected.data.length) return;
  const scale = Math.max(maxAbs(expected.data), floor);
  let worst = { ratio: 0, i: 0, tol: 0 };
  for (let i = 0; i < actual.length; i++) {
    const b = expected.data[i]!;
    const tol = rtol * Math.max(Math.abs(b), scale);
    const err = Math.abs(actual[i]! - b);
    const ratio = err <= tol ? err / tol : Number.isNaN(err) ? Infinity : err / tol;
    if (ratio > worst.ratio) worst = { ratio, i, tol };
  }
  const { ratio, i, tol } = worst;
  const a = actual[i]!, b = expected.data[i]!;
  const where = expected.shape.length === 0 ? "" : ` at ${at(i, expected.shape)} (worst of ${actual.length})`;
  expect.soft(
    ratio,
    `${what}${where}: got ${a}, expected ${b}, |diff| ${Math.abs(a - b)} > tol ${tol} ` +
      `= rtol ${rtol} × max(|expected|, scale ${scale}); error/tol`,
  ).toBeLessThanOrEqual(1);
}

const scalar = (x: number): TensorJson => ({ shape: [], data: [x] });

function snapshot(net: Net): Map<string, Uint8Array> {
  const snap = new Map<string, Uint8Array>();
  const add = (prefix: string, rec: Readonly<Record<string, Float32Array | BigInt64Array>>): void => {
    for (const [k, v] of Object.entries(rec)) snap.set(`${prefix}[${k}]`, new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)));
  };
  add("params", net.params);
  add("state", net.state);
  return snap;
}

function expectUnchanged(what: string, before: Map<string, Uint8Array>, after: Map<string, Uint8Array>): void {
  expect.soft([...after.keys()], `${what}: params/state names`).toEqual([...before.keys()]);
  for (const [k, bytes] of before) {
    const now = after.get(k);
    const same = now !== undefined && now.length === bytes.length && now.every((x, j) => x === bytes[j]);
    expect.soft(same, `${what} changed ${k}`).toBe(true);
  }
}

const isCounter = (name: string): boolean => name.endsWith("num_batches_tracked");

// ---------------------------------------------------------------------------------------------

describe("whole models against PyTorch (test/fixtures/pytorch-*.json)", () => {
  it("has the fixtures", () => {
    expect(FIXTURE_FILES.length, "run /usr/bin/python3 test/fixtures/make_fixtures.py").toBeGreaterThanOrEqual(OTHER_DIR ? 1 : 6);
  });

  // The DSL and random fixtures run on both paths: the optimized program and the reference interpreter.
  const bothPaths = (f: string) => f.startsWith("pytorch-dsl-") || f.startsWith("pytorch-random-");
  for (const [file, optimize] of FIXTURE_FILES.flatMap((f) => (bothPaths(f) ? [[f, true], [f, false]] as const : [[f, true]] as const))) {
    const fx = loadFixture(file);
    it(`${fx.name}${optimize ? "" : " (reference interpreter)"}: ${fx.covers}`, () => {
      const net = compileFixture(fx, optimize);
      const tag = `[${fx.name}${optimize ? "" : ", reference"}]`;

      // Names follow PyTorch's state dict; load PyTorch's initial values in place.
      expect(Object.keys(net.params).sort(), `${tag} parameter names`).toEqual(Object.keys(fx.initial.params).sort());
      expect(Object.keys(net.state).filter((k) => !isCounter(k)).sort(), `${tag} state names`).toEqual(Object.keys(fx.initial.state).sort());
      for (const [k, t] of Object.entries(fx.initial.params)) {
        const p = net.params[k]!;
        expect(p.length, `${tag} params[${k}] length`).toBe(t.data.length);
        p.set(t.data);
      }
      for (const [k, t] of Object.entries(fx.initial.state)) {
        const s = net.state[k]! as Float32Array;
        expect(s.length, `${tag} state[${k}] length`).toBe(t.data.length);
        s.set(t.data);
      }
      for (const [k, v] of Object.entries(net.state)) {
        if (isCounter(k)) expect.soft(Number(v[0]), `${tag} initial state[${k}]`).toBe(0);
      }

      // predict() at the initial parameters; it changes nothing.
      const xEval = Float32Array.from(fx.eval.x.data);
      let before = snapshot(net);
      expectClose(`${tag} predict() at the initial params`, net.predict(xEval), fx.expected.predictInitial, RTOL_ELEMENTWISE);
      expectUnchanged(`${tag} predict()`, before, snapshot(net));

      // gradients() on batch 0 at step 0; it changes nothing.
      const xs = fx.steps.map((s) => Float32Array.from(s.x.data));
      const ys = fx.steps.map((s) => labelsOf(fx, s.labels));
      before = snapshot(net);
      const g = net.gradients(xs[0]!, ys[0]!, { input: true });
      expectUnchanged(`${tag} gradients()`, before, snapshot(net));
      expectClose(`${tag} gradients().loss`, [g.loss], scalar(fx.expected.gradients.loss), RTOL_ELEMENTWISE);
      expect.soft(Object.keys(g.grads).sort(), `${tag} gradients().grads names`).toEqual(Object.keys(fx.expected.gradients.grads).sort());
      const gradFloor = Math.max(FLOOR, GRAD_FLOOR_FRACTION * Math.max(...Object.values(fx.expected.gradients.grads).map((t) => maxAbs(t.data))));
      for (const [k, t] of Object.entries(fx.expected.gradients.grads)) {
        expectClose(`${tag} gradients().grads["${k}"]`, g.grads[k], t, RTOL_SUMS, gradFloor);
      }
      expectClose(`${tag} gradients().inputGrad`, g.inputGrad, fx.expected.gradients.inputGrad, RTOL_SUMS);

      // Three train steps; each returns the loss before its update.
      fx.expected.trainLosses.forEach((expected, s) => {
        const loss = net.trainStep(xs[s]!, ys[s]!);
        expect.soft(typeof loss, `${tag} trainStep() result`).toBe("number");
        if (s === 0) {
          expectClose(`${tag} trainStep() right after gradients(): same loss (gradients() must not advance the step)`,
            [loss], scalar(g.loss), RTOL_SAME_PROGRAM);
        }
        expectClose(`${tag} trainStep() #${s} loss`, [loss], scalar(expected), RTOL_ELEMENTWISE);
      });

      // Parameters and running statistics after the steps.
      for (const [k, t] of Object.entries(fx.expected.final.params)) {
        expectClose(`${tag} params["${k}"] after ${fx.steps.length} steps`, net.params[k], t, RTOL_ELEMENTWISE);
      }
      for (const [k, t] of Object.entries(fx.expected.final.state)) {
        if (typeof t === "number") {
          // num_batches_tracked: a counter, compared as a number when kiln keeps it.
          const v = net.state[k];
          if (v !== undefined) expect.soft(Number(v[0]), `${tag} state["${k}"] after ${fx.steps.length} steps`).toBe(t);
        } else {
          expectClose(`${tag} state["${k}"] after ${fx.steps.length} steps`, net.state[k] as Float32Array | undefined, t, RTOL_ELEMENTWISE);
        }
      }

      // Evaluation after training: dropout absent, batchNorm on the running statistics.
      expectClose(`${tag} predict() after ${fx.steps.length} steps (batch ${fx.options.evalBatch})`,
        net.predict(xEval), fx.expected.predictFinal, RTOL_ELEMENTWISE);

      // No slow path: every step of every optimized program ran WebAssembly.
      if (optimize) expect.soft(javascriptSteps(net), `${tag} steps in JavaScript`).toEqual([]);
    });
  }
});
