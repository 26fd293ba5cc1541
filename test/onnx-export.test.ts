/**
 * ONNX export checked by ONNX Runtime (onnxruntime-node): for models covering every layer kind,
 * the exported eval program runs in ORT — with its graph optimizations off and all on — and
 * its output equals `net.predict` within 1e-5 relative (max |ort − kiln| / max |kiln|) at batch
 * 1, 7 and 1024. The nets are trained a few steps first, so batchNorm's running statistics and
 * every parameter are away from their initial values.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { batchNorm, compile, dropout, KilnError, layerNorm, linear, relu, residual, seq, type LayerNode, type Net } from "../src/index.js";
import { decodeModel, int } from "../src/onnx/proto.js";

const MODELS: Record<string, { model: LayerNode; inputs: number }> = {
  mlp: { model: seq(linear(12, 16), relu, linear(16, 5)), inputs: 12 },
  readme: {
    model: seq(linear(20, 32), layerNorm(32), relu, dropout(0.1), residual(seq(linear(32, 32), batchNorm(32), relu)), linear(32, 10)),
    inputs: 20,
  },
  batchNorms: {
    model: seq(batchNorm(10), linear(10, 24, { bias: false }), batchNorm(24), relu, linear(24, 24), batchNorm(24, { eps: 1e-3 }), linear(24, 3)),
    inputs: 10,
  },
  nestedResiduals: {
    model: seq(linear(8, 16), residual(residual(seq(layerNorm(16, { affine: false }), linear(16, 16), relu))), layerNorm(16, { eps: 1e-3 }), linear(16, 4)),
    inputs: 8,
  },
  reluFirst: {
    model: seq(relu, dropout(0.3), linear(6, 12), relu, dropout(0.2), seq(linear(12, 12), relu), linear(12, 2, { bias: false })),
    inputs: 6,
  },
  bareLinear: { model: linear(5, 3), inputs: 5 },
  identity: { model: seq(dropout(0.5), relu), inputs: 4 },
};

/** Deterministic uniform values in [-2, 2). */
function data(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 4 - 2;
  });
}

function trained(name: string): Net {
  const { model, inputs } = MODELS[name]!;
  const net = compile(model, { inputs, batch: 16, seed: 3, threads: 1 });
  const classes = net.predict(new Float32Array(inputs)).length;
  for (let s = 0; s < 4; s++) net.trainStep(data(16 * inputs, 100 + s), Int32Array.from({ length: 16 }, (_, i) => (i * 7 + s) % classes));
  return net;
}

const relError = (got: ArrayLike<number>, want: ArrayLike<number>): number => {
  let err = 0, scale = 0;
  for (let i = 0; i < want.length; i++) { err = Math.max(err, Math.abs(got[i]! - want[i]!)); scale = Math.max(scale, Math.abs(want[i]!)); }
  return err / Math.max(scale, 1e-30);
};

const worst: Record<string, number> = {};
afterAll(() => console.log("ONNX export, worst relative error against net.predict:", worst));

describe("ONNX export runs in ONNX Runtime and equals net.predict", () => {
  for (const name of Object.keys(MODELS)) {
    for (const foldBatchNorm of name === "batchNorms" || name === "readme" ? [false, true] : [false]) {
      it(`${name}${foldBatchNorm ? " (batchNorm folded)" : ""}: batch 1, 7, 1024, graph optimizations off and on`, async () => {
        const net = trained(name);
        const bytes = net.toOnnx({ program: "eval", foldBatchNorm });
        const inputs = MODELS[name]!.inputs;
        for (const level of ["disabled", "all"] as const) {
          const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: level, intraOpNumThreads: 1 });
          for (const batch of [1, 7, 1024]) {
            const x = data(batch * inputs, batch);
            const out = await session.run({ x: new ort.Tensor("float32", x, [batch, inputs]) });
            const want = net.predict(x);
            expect(out.logits!.dims).toEqual([batch, want.length / batch]);
            const e = relError(out.logits!.data as Float32Array, want);
            const key = `${name}${foldBatchNorm ? "+fold" : ""}`;
            worst[key] = Math.max(worst[key] ?? 0, e);
            expect(e, `${name} batch ${batch} ${level}`).toBeLessThanOrEqual(1e-5);
          }
          await session.release();
        }
      });
    }
  }
});

describe("the exported file", () => {
  it("is opset 17, IR version 8, input x [batch, n], output logits, initializers under the state-dict names", () => {
    const net = trained("readme");
    const m = decodeModel(net.toOnnx());
    expect(int(m.ir_version, "ir")).toBe(8);
    expect(m.opset_import.map((o) => [o.domain, int(o.version, "v")])).toEqual([["", 17]]);
    const g = m.graph!;
    const dims = (v: (typeof g.input)[0]) => v.type!.tensor_type!.shape!.dim.map((d) => d.dim_param || int(d.dim_value, "d"));
    expect(g.input.map((i) => [i.name, dims(i)])).toEqual([["x", ["batch", 20]]]);
    expect(g.output.map((i) => [i.name, dims(i)])).toEqual([["logits", ["batch", 10]]]);
    expect(g.initializer.map((t) => t.name).sort()).toEqual([...Object.keys(net.params), ...Object.keys(net.state).filter((k) => !k.endsWith("num_batches_tracked"))].sort());
    const w = g.initializer.find((t) => t.name === "4.fn.0.weight")!;
    expect(w.dims.map((d) => int(d, "d"))).toEqual([32, 32]);
    expect(new Float32Array(w.raw_data.slice().buffer)).toEqual(net.params["4.fn.0.weight"]);
    // One node per layer where ONNX has one; dropout absent; the residual an Add.
    expect(g.node.map((n) => `${n.name}:${n.op_type}`)).toEqual([
      "/0/Gemm:Gemm", "/1/LayerNormalization:LayerNormalization", "/2/Relu:Relu", "/4.fn.0/Gemm:Gemm",
      "/4.fn.1/BatchNormalization:BatchNormalization", "/4.fn.2/Relu:Relu", "/4/Add:Add", "/5/Gemm:Gemm",
    ]);
    const folded = decodeModel(net.toOnnx({ foldBatchNorm: true })).graph!;
    expect(folded.node.map((n) => n.op_type)).toEqual(["Gemm", "LayerNormalization", "Relu", "Gemm", "Relu", "Add", "Gemm"]);
    expect(folded.initializer.map((t) => t.name)).not.toContain("4.fn.1.running_mean");
  });

  it("exportOnnx writes the same bytes, atomically", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-onnx-"));
    try {
      const net = trained("mlp");
      await net.exportOnnx(join(dir, "m.onnx"));
      expect(new Uint8Array(readFileSync(join(dir, "m.onnx")))).toEqual(net.toOnnx());
      await expect(net.exportOnnx(join(dir, "missing", "m.onnx"))).rejects.toThrow(KilnError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses options it does not know, and programs that have no ONNX form", () => {
    const net = trained("mlp");
    expect(() => net.toOnnx({ program: "train" } as never)).toThrow(/program must be "eval"/);
    expect(() => net.toOnnx({ fold: true } as never)).toThrow(/unknown option "fold"/);
    expect(() => net.toOnnx({ foldBatchNorm: 1 } as never)).toThrow(/foldBatchNorm must be true or false/);
  });
});
