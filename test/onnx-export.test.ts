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
import {
  batchNorm, compile, concat, dropout, fn, gelu, init, KilnError, layer, layerNorm, leakyRelu, linear, relu, residual, seq, sigmoid, silu, tanh,
  type LayerNode, type Net,
} from "../src/index.js";
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
  // The open DSL: activations, concat, user fns and layers (the example of the DSL's issue).
  dsl: {
    model: seq(
      linear(20, 64), gelu, concat(seq(linear(64, 32), tanh), seq(linear(64, 16), fn("swish", (x) => x.mul(x.sigmoid())))),
      layer({
        name: "glu", in: 48, out: 48,
        params: { weight: { shape: [96, 48], init: init.xavier() }, bias: { shape: [96], init: init.zeros() } },
        apply: (p, x) => {
          const h = x.matmul(p.weight, { transposeB: true }).add(p.bias);
          return h.slice(1, 0, 48).mul(h.slice(1, 48, 96).sigmoid());
        },
      }),
      leakyRelu(0.1), linear(48, 3),
    ),
    inputs: 20,
  },
  // Numbers computed from the batch size (a·B + c and 1/(a·B + c)): Shape → Gather → Cast in ONNX.
  batchNumbers: {
    model: seq(linear(6, 8), fn("batchScaled", (x) => {
      const b = x.shape[0]!;
      return x.mul(b * 0.01).add(x.div(b + 1)).add(x.sum(0, { keepdims: true }).div(b));
    }), linear(8, 3)),
    inputs: 6,
  },
  // Every primitive a user function can reach, each mapped to its ONNX operator.
  primitives: {
    model: seq(
      linear(6, 16), gelu({ approximate: "tanh" }), silu, residual(seq(linear(16, 16), sigmoid)),
      fn("softmaxish", (x) => {
        const z = x.sub(x.max(1, { keepdims: true })).exp();
        return z.div(z.sum(1, { keepdims: true })).add(x.mean(1, { keepdims: true }));
      }),
      fn("kitchen", (x) => x.abs().add(1).log().add(x.square().add(1).sqrt().mul(0.1)).add(x.pow(3).mul(0.01))
        .maximum(-2).minimum(x.add(2)).add(x.neg().mul(0.1)).add(x.erf()).add(x.square().add(1).rsqrt()).sub(x.sign().mul(0.05))
        .add(x.relu().div(3))),
      linear(16, 4),
    ),
    inputs: 6,
  },
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

  it("the DSL models reach an ONNX operator for every primitive of an eval program", () => {
    const ops = new Set(["dsl", "primitives"].flatMap((name) => decodeModel(trained(name).toOnnx()).graph!.node.map((n) => n.op_type)));
    for (const op of ["Gemm", "Tanh", "Sigmoid", "Erf", "Abs", "Sign", "Pow", "Max", "Min", "ReduceMax", "ReduceSum", "ReduceMean", "Exp", "Log",
      "Sqrt", "Reciprocal", "Neg", "Div", "Sub", "Mul", "Add", "Relu", "Slice", "Concat"]) expect(ops, op).toContain(op);
    expect(ops).not.toContain("Identity"); // constants are initializers, not nodes
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

  it("names the layer whose computation has no ONNX form (a number of the batch size neither a·B + c nor its reciprocal)", () => {
    const net = compile(seq(linear(4, 4), fn("byBatch", (x) => x.mul(Math.sqrt(x.shape[0]!))), linear(4, 2)), { inputs: 4, batch: 8 });
    expect(() => net.toOnnx()).toThrow(/^ONNX export: seq\[1\] fn\("byBatch"\) uses the primitive constant, which has no ONNX form here: depends on the batch size/);
  });

  it("refuses options it does not know, and programs that have no ONNX form", () => {
    const net = trained("mlp");
    expect(() => net.toOnnx({ program: "train" } as never)).toThrow(/program must be "eval"/);
    expect(() => net.toOnnx({ fold: true } as never)).toThrow(/unknown option "fold"/);
    expect(() => net.toOnnx({ foldBatchNorm: 1 } as never)).toThrow(/foldBatchNorm must be true or false/);
  });
});
