/**
 * recomputeXhat (compiler/passes/recomputeXhat.ts): a normalization's x̂ read by elementwise ops
 * only (the dγ sum of a layerNorm or batchNorm on the data) is recomputed in their loop from x and
 * the statistics instead of stored. Over layerNorm and batchNorm, odd widths and batch 1, the
 * gradient program with the pass is held to the same program without it, bit for bit (the
 * kernels compute x̂ with exactly the two float32 operations the readers now do); x̂ stays stored
 * where it must (a probe, a product reading it).
 */
import { describe, expect, it } from "vitest";
import type { Graph } from "../compiler/ir/graph.js";
import { GraphBuilder } from "../compiler/ir/builder.js";
import { size } from "../compiler/ir/types.js";
import { optimizationPasses } from "../compiler/pipeline.js";
import { runPasses } from "../compiler/passes/index.js";
import { batchNorm, compile, huber, layerNorm, linear, mse, relu, seq, sgd, softmaxCrossEntropy, type LayerNode, type Loss } from "../src/index.js";
import { rand, runInArena } from "./helpers/run.js";

interface Case { readonly name: string; readonly model: LayerNode; readonly inputs: number; readonly batch: number; readonly loss: Loss }
const CASES: Case[] = [
  { name: "seq(layerNorm(37)), mse (W4p's shape)", model: seq(layerNorm(37)), inputs: 37, batch: 3, loss: mse() },
  { name: "layerNorm(1000) on the data, batch 1", model: seq(layerNorm(1000), linear(1000, 3)), inputs: 1000, batch: 1, loss: huber({ delta: 0.5 }) },
  { name: "layerNorm(5), then relu and a linear, batch 7", model: seq(layerNorm(5), relu, linear(5, 3)), inputs: 5, batch: 7, loss: softmaxCrossEntropy() },
  { name: "batchNorm(37) on the data", model: seq(batchNorm(37), linear(37, 3)), inputs: 37, batch: 50, loss: softmaxCrossEntropy() },
  { name: "batchNorm(1), batch 2", model: seq(batchNorm(1)), inputs: 1, batch: 2, loss: mse() },
];

const withoutPass = optimizationPasses.filter((p) => p.name !== "recomputeXhat");
const storesXhat = (g: Graph) => g.nodes.some((n) => n.op === "norm_forward" && n.attrs.xhat);

/** Values for every input of g: params from `params`, labels in [0, 3), floats in [-2, 2) around 0.5. */
function inputsOf(g: Graph, params: Record<string, Float32Array>, seed: number): Record<string, Float32Array | Int32Array> {
  const r = rand(seed), values: Record<string, Float32Array | Int32Array> = {};
  for (const i of g.inputs) {
    const t = g.values[i.value]!;
    values[i.name] = params[i.name] ?? (t.dtype === "i32"
      ? Int32Array.from({ length: size(t.shape) }, () => Math.floor(r() * 3))
      : Float32Array.from({ length: size(t.shape) }, () => 0.5 + 4 * r() - 2));
  }
  return values;
}

describe("recomputeXhat", () => {
  for (const [k, c] of CASES.entries()) {
    it(`${c.name}: x̂ no longer stored, every output the same bits as with it stored`, () => {
      const opts = { inputs: c.inputs, batch: c.batch, seed: k, loss: c.loss, optimizer: sgd({ lr: 0.01 }), threads: 1 };
      const net = compile(c.model, { ...opts, optimize: false });
      const raw = net.ir.backward;
      const fused = runPasses(raw, optimizationPasses, "with"), plain = runPasses(raw, withoutPass, "without");
      expect(storesXhat(plain), "the case stores x̂ without the pass").toBe(true);
      expect(storesXhat(fused)).toBe(false);
      const values = inputsOf(raw, net.params as Record<string, Float32Array>, 100 + k);
      const a = runInArena(fused, values), b = runInArena(plain, values);
      for (const o of fused.outputs) expect([...a[o.name]!], o.name).toEqual([...b[o.name]!]);
    });
  }

  it("keeps x̂ stored when it is a graph output or a product reads it", () => {
    for (const reader of ["probe", "matmul"] as const) {
      const b = new GraphBuilder();
      const x = b.input("x", "data", { shape: [4, 3], dtype: "f32" });
      const w = b.input("w", "param", { shape: [3], dtype: "f32" }), c = b.input("c", "param", { shape: [3], dtype: "f32" });
      const m = b.input("m", "param", { shape: [3, 2], dtype: "f32" });
      const xhat = b.normalize(x, 1, 1e-5);
      b.output("y", "logits", b.add(b.mul(xhat, w), c));
      b.output("z", "probe", reader === "probe" ? xhat : b.matmul(xhat, m));
      const g = runPasses(b.build(), optimizationPasses, reader);
      expect(storesXhat(g), reader).toBe(true);
    }
  });
});
