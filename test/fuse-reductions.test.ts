/**
 * fuseReductions (compiler/passes/fuseReductions.ts): sums and means of fused elementwise outputs
 * computed in the loop that makes them. Over models whose steps have the pattern — a loss's mean,
 * layerNorm's γ/β gradients, bias gradients of relu, dropout and batchNorm backward, odd sizes,
 * batch 1 — the gradient program with the pass is held to
 *   - the same program without it: bias, γ, β gradients (column sums) with the same bits, the loss
 *     (a total, summed in another order) within 2^-20;
 *   - the reference interpreter (float64 JavaScript): the no-js-kernels tolerances;
 * and its arena no longer holds the outputs only reductions read.
 */
import { describe, expect, it } from "vitest";
import type { Graph } from "../compiler/ir/graph.js";
import { size } from "../compiler/ir/types.js";
import { optimizationPasses } from "../compiler/pipeline.js";
import { runPasses } from "../compiler/passes/index.js";
import { planMemory } from "../compiler/plan.js";
import {
  batchNorm, compile, dropout, huber, l1, layerNorm, linear, mse, relu, seq, sgd, softmaxCrossEntropy, tanh, type LayerNode, type Loss,
} from "../src/index.js";
import { maxRelErr, rand, runInArena } from "./helpers/run.js";

interface Case { readonly name: string; readonly model: LayerNode; readonly inputs: number; readonly batch: number; readonly loss: Loss }
const CASES: Case[] = [
  { name: "layerNorm last, mse (W4p's shape)", model: seq(layerNorm(37)), inputs: 37, batch: 3, loss: mse() },
  { name: "layerNorm(1000), batch 1, huber", model: seq(linear(3, 1000), layerNorm(1000)), inputs: 3, batch: 1, loss: huber({ delta: 0.5 }) },
  { name: "linear + relu bias gradients, width 1", model: seq(linear(3, 37), relu, linear(37, 1)), inputs: 3, batch: 37, loss: mse() },
  { name: "relu + dropout, cross-entropy", model: seq(dropout(0.1), linear(5, 100), relu, dropout(0.5), linear(100, 3)), inputs: 5, batch: 37, loss: softmaxCrossEntropy() },
  { name: "batchNorm (W8's shape), mse", model: seq(linear(37, 300), batchNorm(300), relu, linear(300, 13)), inputs: 37, batch: 50, loss: mse() },
  { name: "tanh, layerNorm without affine, l1, batch 1", model: seq(linear(3, 4), tanh, layerNorm(4, { affine: false })), inputs: 3, batch: 1, loss: l1() },
];

const withoutPass = optimizationPasses.filter((p) => p.name !== "fuseReductions");

const sumsOf = (g: Graph) => g.nodes.flatMap((n) => (n.op === "fused_elementwise" ? n.attrs.sums : []));

describe("fuseReductions", () => {
  for (const [k, c] of CASES.entries()) {
    it(`${c.name}: same bits as without the pass (the loss within 2^-20), the reference interpreter's numbers`, () => {
      const opts = { inputs: c.inputs, batch: c.batch, seed: k, loss: c.loss, optimizer: sgd({ lr: 0.01 }), threads: 1 };
      const fast = compile(c.model, opts), ref = compile(c.model, { ...opts, optimize: false });
      const raw = ref.ir.backward;
      const fused = runPasses(raw, optimizationPasses, "with"), plain = runPasses(raw, withoutPass, "without");
      expect(sumsOf(fused).length).toBeGreaterThan(0);
      expect(sumsOf(plain)).toEqual([]);
      // What is left: reductions the pass does not take (row sums, or of values no fused loop makes).
      for (const n of fused.nodes) {
        if (n.op !== "sum" && n.op !== "mean") continue;
        const p = fused.nodes.find((m) => m.outputs.includes(n.inputs[0]!));
        expect(p?.op === "fused_elementwise" && n.attrs.axes.includes(0), `${n.op} of ${p?.op}`).toBe(false);
      }
      const r = rand(100 + k), values: Record<string, Float32Array | Int32Array> = {};
      for (const i of raw.inputs) {
        const t = raw.values[i.value]!;
        values[i.name] = i.kind === "param" ? fast.params[i.name]! : t.dtype === "i32"
          ? Int32Array.from({ length: size(t.shape) }, () => Math.floor(r() * (t.shape.length ? 3 : 1)))
          : Float32Array.from({ length: size(t.shape) }, () => 2 * r() - 1);
      }
      const a = runInArena(fused, values), b = runInArena(plain, values);
      for (const o of fused.outputs) {
        if (o.kind === "loss") expect(maxRelErr(a[o.name]!, b[o.name]!, 1e-30), o.name).toBeLessThanOrEqual(2 ** -20);
        else expect([...a[o.name]!], o.name).toEqual([...b[o.name]!]);
      }
      // Against the reference interpreter through the public API (the gradient program above).
      const x = values["x"]!, y = values["labels"]!;
      const ga = fast.gradients(x, y), gb = ref.gradients(x, y);
      expect(maxRelErr([ga.loss], [gb.loss])).toBeLessThan(1e-4);
      const scale = Object.values(gb.grads).reduce((m, g) => g.reduce((mm, v) => Math.max(mm, Math.abs(v)), m), 1e-3);
      for (const n of Object.keys(gb.grads)) expect(maxRelErr(ga.grads[n]!, gb.grads[n]!, scale), n).toBeLessThan(1e-4);
      fast.dispose(); ref.dispose();
    });
  }

  it("outputs only reductions read are not written: W4p's fused loop has no elementwise output, no buffer for them", () => {
    const [batch, width] = [16, 64];
    const ref = compile(seq(layerNorm(width)), { inputs: width, batch, seed: 0, loss: mse(), optimize: false, threads: 1 });
    const fused = runPasses(ref.ir.backward, optimizationPasses, "with"), plain = runPasses(ref.ir.backward, withoutPass, "without");
    const loop = fused.nodes.filter((n) => n.op === "fused_elementwise");
    expect(loop.length).toBe(1);
    const node = loop[0]!;
    if (node.op !== "fused_elementwise") throw new Error("unreachable");
    expect(node.attrs.outputs).toEqual([]);
    expect(node.attrs.sums.map((s) => `${s.op}[${s.axes}]${s.keepdims ? "k" : ""}`)).toEqual(["mean[0,1]", "sum[0]", "sum[0]"]);
    expect(node.outputs.map((v) => fused.values[v]!.shape)).toEqual([[], [width], [width]]);
    expect(fused.nodes.map((n) => n.op)).toEqual(["norm_forward", "fused_elementwise"]); // no sum, mean or reshape copy left
    // The plain program's loop writes three [batch, width] arrays (the plan puts two of them in
    // place of the dying normalized outputs, so its peak is not three arrays higher); the fused one none.
    const bytes = batch * width * 4, [p, f] = [planMemory(plain), planMemory(fused)];
    expect(p.unplannedBytes - f.unplannedBytes).toBeGreaterThanOrEqual(3 * bytes);
    expect(f.scratchBytes).toBeLessThanOrEqual(p.scratchBytes);
    const domainValues = (g: Graph) => g.nodes.filter((n) => n.op === "fused_elementwise").flatMap((n) => n.outputs).filter((v) => size(g.values[v]!.shape) === batch * width);
    expect(domainValues(plain).length).toBe(3);
    expect(domainValues(fused).length).toBe(0);
    ref.dispose();
  });

  it("the same bits at 1 and 2 threads (a loop with sums runs on one thread, in one order)", () => {
    const model = seq(layerNorm(256), linear(256, 300), relu, linear(300, 37), layerNorm(37));
    const r = rand(9), x = Float32Array.from({ length: 64 * 256 }, () => 2 * r() - 1), y = Float32Array.from({ length: 64 * 37 }, () => r());
    const nets = [1, 2].map((threads) => compile(model, { inputs: 256, batch: 64, seed: 3, loss: mse(), threads }));
    expect(sumsOf(nets[0]!.ir.backward).length).toBeGreaterThanOrEqual(3);
    const [a, b] = nets.map((net) => net.gradients(x, y));
    expect(a!.loss).toBe(b!.loss);
    for (const n of Object.keys(a!.grads)) expect([...b!.grads[n]!], n).toEqual([...a!.grads[n]!]);
    for (const net of nets) net.dispose();
  });

  it("a reduction's output never takes an input's buffer (the plan's in-place rule is for elementwise outputs)", () => {
    // Rows of 1: the column sum has the domain's size, as has the dying input it must not overwrite.
    const ref = compile(seq(linear(4, 6), relu, linear(6, 2)), { inputs: 4, batch: 1, seed: 0, loss: mse(), optimize: false, threads: 1 });
    const g = runPasses(ref.ir.backward, optimizationPasses, "with");
    const plan = planMemory(g);
    for (const n of g.nodes) {
      if (n.op !== "fused_elementwise" || n.attrs.sums.length === 0) continue;
      for (const v of n.outputs.slice(n.attrs.outputs.length)) {
        for (const u of n.inputs) expect(plan.offsets[v] !== null && plan.offsets[v] === plan.offsets[u]).toBe(false);
      }
    }
    expect(sumsOf(g).length).toBeGreaterThan(0);
    ref.dispose();
  });
});
