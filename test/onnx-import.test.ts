/**
 * ONNX import of PyTorch models: test/fixtures/onnx/*.onnx are written by torch.onnx.export
 * (test/fixtures/make_onnx.py, torch 1.13), with what PyTorch computed beside them. For each:
 * fromOnnx → compile → load the weights → predict equals PyTorch's logits; then three SGD steps
 * of the imported model give PyTorch's losses and PyTorch's logits after them.
 *
 * Tolerance as test/pytorch.test.ts: |kiln − torch| ≤ rtol · max(|torch|, scale) element-wise,
 * scale = max(max-abs of the expected tensor, 1e-3); rtol 1e-5 (both sides float32 here).
 */
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import {
  batchNorm, checkpointBytes, compile, concat, dropout, encodeSafetensors, fn, gelu, init, layer, layerNorm, leakyRelu, linear, loadCheckpointBytes, relu, residual, seq, sgd,
  printIR, sigmoid, silu, tanh, KilnError,
} from "../src/index.js";
import { fromOnnx, type Imported } from "../src/onnx/import.js";
import { decodeModel, encodeModel } from "../src/onnx/proto.js";
import { load, relErr, type OnnxFixture } from "./helpers/onnx.js";

const dir = new URL("./fixtures/onnx/", import.meta.url);
const bytesOf = (name: string) => new Uint8Array(readFileSync(new URL(`${name}.onnx`, dir)));
const fixtureOf = (name: string): OnnxFixture => JSON.parse(readFileSync(new URL(`${name}.json`, dir), "utf8")) as OnnxFixture;

const worst: Record<string, { predict: number; train?: number }> = {};
afterAll(() => console.log("ONNX import, worst relative error against PyTorch:", worst));

const TREES: Record<string, string> = {
  mlp: "seq(linear(12→16), relu, linear(16→5))",
  "residual-layernorm": "seq(linear(10→16), layerNorm(16), relu, residual(seq(linear(16→16), relu, linear(16→16))), linear(16→4))",
  batchnorm: "seq(linear(8→24), batchNorm(24), relu, linear(24→24, no bias), batchNorm(24), relu, linear(24→3))",
  "decomposed-layernorm": "seq(linear(6→20), layerNorm(20), relu, linear(20→20), layerNorm(20), linear(20→4))",
  dropout: "seq(linear(7→14), relu, dropout(0.25), linear(14→14), relu, dropout(0.1), linear(14→3))",
  // Exported in training mode at opset 15, without constant folding: BatchNormalization's
  // training_mode = 1 is the same layer, MatMul(x, Transpose(W)) a linear; Hardtanh's Clip follows.
  "batchnorm-training-mode": 'seq(linear(5→10), batchNorm(10), relu, linear(10→10, no bias), layer("onnx", 10→3))',
  activations: "seq(linear(9→32), gelu, linear(32→16), tanh, linear(16→16), sigmoid, linear(16→6))",
  "leaky-silu": "seq(linear(5→12), leakyRelu(0.2), linear(12→12), silu, linear(12→12), leakyRelu(0.01), linear(12→2))",
  // Ops, not layers: one layer of primitives (src/onnx/import-primitives.ts).
  primitives: 'layer("onnx", 12→5)',
  "primitives-activations": 'layer("onnx", 6→3)',
  // The layers up to a node no layer has, then the rest as primitives (batchNorm keeps training as batchNorm).
  "primitives-batchnorm": 'seq(linear(5→12), batchNorm(12), layer("onnx", 12→4))',
  // BatchNormalizations inside the layer of primitives (one over a [batch, 3, 8] view) train on
  // the batch's statistics and move their running ones, as PyTorch's in train mode.
  "primitives-batchnorm-inside": 'layer("onnx", 6→4)',
  // Two fresh LayerNorms: the export writes the second's ones and zeros as Identity copies of the
  // first's; PyTorch trains them apart, and so does kiln (tied, its steps were 2% off).
  "primitives-equal-weights": 'layer("onnx", 6→3)',
  // PRelu, Celu, ReduceLogSumExp, ReduceL2, and x.var's ReduceProd of the shape cast to a float.
  "primitives-more": 'layer("onnx", 5→6)',
  // Split (GLU), Greater/Where (torch.where), Less, GreaterOrEqual, And, a Cast of a condition.
  "primitives-logic": 'layer("onnx", 6→4)',
  // Self-attention over tokens: batched MatMul, the keys' Transpose of the last two axes (the
  // product's flag), per-token Linear maps (MatMul of [batch, 4, 6] by a weight).
  "primitives-attention": 'layer("onnx", 24→3)',
  // Multi-head: the heads split and joined by Transpose [0, 2, 1, 3], Split of q, k, v.
  "primitives-multihead": 'layer("onnx", 32→3)',
  // torch's nn.TransformerEncoderLayer as torch.onnx.export writes it (its nn.MultiheadAttention inside).
  "transformer-encoder": 'layer("onnx", 32→3)',
  // nn.TransformerEncoder of two pre-norm GELU layers, sequence first, with a causal mask: the
  // batch axis transposed inside, the mask (a Constant of 0 and −∞) a state buffer, not trained.
  "transformer-causal": 'layer("onnx", 32→3)',
  // nn.TransformerDecoderLayer: self-attention, then cross-attention to a memory.
  "transformer-decoder": 'layer("onnx", 32→3)',
};

/** The model as text, children inline (describe() stops at one level). */
function tree(m: Imported["model"]): string {
  switch (m.kind) {
    case "seq": return `seq(${m.layers.map(tree).join(", ")})`;
    case "residual": return `residual(${tree(m.fn)})`;
    case "linear": return `linear(${m.in}→${m.out}${m.bias ? "" : ", no bias"})`;
    case "layerNorm": return `layerNorm(${m.n}${m.affine ? "" : ", no affine"})`;
    case "batchNorm": return `batchNorm(${m.n})`;
    case "dropout": return `dropout(${m.p})`;
    case "fn": return m.name;
    case "layer": return `layer(${JSON.stringify(m.name)}, ${m.in}→${m.out})`;
    default: return m.kind;
  }
}

describe("PyTorch models through ONNX into kiln", () => {
  for (const name of Object.keys(TREES)) {
    it(`${name}: the model kiln writes, PyTorch's predictions, and three more SGD steps as PyTorch took them`, () => {
      const fx = fixtureOf(name);
      const imported = fromOnnx(bytesOf(name));
      expect(tree(imported.model)).toBe(TREES[name]);
      const net = compile(imported.model, { inputs: imported.inputs, batch: 8, seed: 0, optimizer: sgd({ lr: fx.train?.lr ?? 0.1 }) });
      expect(Object.keys(imported.params)).toEqual(Object.keys(net.params));
      expect(Object.keys(imported.state)).toEqual(Object.keys(net.state));
      load(net, imported);
      const record: { predict: number; train?: number } = (worst[name] = { predict: relErr(net.predict(fx.x.data), fx.logits.data) });
      expect(record.predict).toBeLessThanOrEqual(1e-5);
      if (fx.train === null) return;
      const losses = fx.train.steps.map((s) => net.trainStep(s.x.data, s.labels));
      const after = net.predict(fx.x.data);
      record.train = Math.max(relErr(losses, fx.train.losses), relErr(after, fx.train.logits.data));
      expect(relErr(losses, fx.train.losses)).toBeLessThanOrEqual(1e-5);
      expect(relErr(after, fx.train.logits.data)).toBeLessThanOrEqual(1e-5);
    });
  }

  it("the weights also load as a safetensors checkpoint (loadCheckpointBytes)", () => {
    const imported = fromOnnx(bytesOf("batchnorm"));
    const net = compile(imported.model, { inputs: imported.inputs, batch: 8 });
    const tensors = { ...imported.params, ...imported.state };
    const shapes = Object.fromEntries(net.ir.train.inputs.filter((i) => i.name in tensors).map((i) => [i.name, net.ir.train.values[i.value]!.shape]));
    for (const k of Object.keys(imported.state)) if (k.endsWith("num_batches_tracked")) shapes[k] = [];
    loadCheckpointBytes(net, encodeSafetensors(tensors, shapes));
    expect(relErr(net.predict(fixtureOf("batchnorm").x.data), fixtureOf("batchnorm").logits.data)).toBeLessThanOrEqual(1e-5);
  });
});

describe("kiln → ONNX → kiln", () => {
  it("a model exported by toOnnx imports to the same predictions, bit for bit", () => {
    const model = seq(linear(20, 32), layerNorm(32), relu, dropout(0.1), residual(seq(linear(32, 32), batchNorm(32), relu)), layerNorm(32, { affine: false }), linear(32, 10, { bias: false }));
    const net = compile(model, { inputs: 20, batch: 16, seed: 2, threads: 1 });
    for (let s = 0; s < 3; s++) net.trainStep(Float32Array.from({ length: 320 }, (_, i) => Math.sin(i * (s + 1))), Int32Array.from({ length: 16 }, (_, i) => i % 10));
    const imported = fromOnnx(net.toOnnx());
    const back = compile(imported.model, { inputs: 20, batch: 16, threads: 1 });
    load(back, imported);
    const x = Float32Array.from({ length: 7 * 20 }, (_, i) => Math.cos(i));
    expect(back.predict(x)).toEqual(net.predict(x));
    // The same layers but dropout (absent from an eval program); a unit-scale LayerNormalization reads back as layerNorm.
    expect(tree(imported.model)).toBe("seq(linear(20→32), layerNorm(32), relu, residual(seq(linear(32→32), batchNorm(32), relu)), layerNorm(32), linear(32→10, no bias))");
  });

  it("kiln's gelu, silu, tanh, sigmoid and leakyRelu come back as themselves", () => {
    // leakyRelu was written as its primitives (Sign among them), which the importer refused.
    const net = compile(seq(linear(5, 8), gelu, linear(8, 8), silu, tanh, linear(8, 8), sigmoid, leakyRelu(0.2), linear(8, 8), leakyRelu, linear(8, 3)), { inputs: 5, batch: 4, threads: 1 });
    const imported = fromOnnx(net.toOnnx());
    expect(tree(imported.model)).toBe("seq(linear(5→8), gelu, linear(8→8), silu, tanh, linear(8→8), sigmoid, leakyRelu(0.2), linear(8→8), leakyRelu(0.01), linear(8→3))");
    const back = compile(imported.model, { inputs: 5, batch: 4, threads: 1 });
    load(back, imported);
    const x = Float32Array.from({ length: 9 * 5 }, (_, i) => Math.cos(i));
    expect(back.predict(x)).toEqual(net.predict(x));
  });
});

describe("kiln → ONNX → kiln: user code comes back as one layer of primitives", () => {
  it("fn, layer, concat and batchNorm: the same predictions bit for bit, the same parameters, and it trains as the original", () => {
    const swish = fn("swish", (x) => x.mul(x.sigmoid()));
    const glu = (n: number) => layer({
      name: "glu", in: n, out: n,
      params: { weight: { shape: [2 * n, n] }, bias: { shape: [2 * n], init: init.zeros() } },
      apply: (p, x) => { const h = x.matmul(p.weight, { transposeB: true }).add(p.bias); return h.slice(1, 0, n).mul(h.slice(1, n, 2 * n).sigmoid()); },
    });
    const model = seq(linear(20, 24), gelu, concat(seq(linear(24, 16), tanh), seq(linear(24, 8), swish)), glu(24), batchNorm(24), relu, linear(24, 3));
    const net = compile(model, { inputs: 20, batch: 16, seed: 3, threads: 1 });
    for (let s = 0; s < 3; s++) net.trainStep(Float32Array.from({ length: 320 }, (_, i) => Math.sin(i * (s + 1))), Int32Array.from({ length: 16 }, (_, i) => i % 3));
    const imported = fromOnnx(net.toOnnx());
    expect(tree(imported.model)).toBe('layer("onnx", 20→3)');
    expect(Object.keys(imported.params).sort()).toEqual(Object.keys(net.params).sort());
    expect(Object.keys(imported.state).sort()).toEqual(["4.running_mean", "4.running_var"]);
    const back = compile(imported.model, { inputs: 20, batch: 16, threads: 1, optimizer: sgd({ lr: 0.1 }) });
    load(back, imported);
    const x = Float32Array.from({ length: 7 * 20 }, (_, i) => Math.cos(i));
    expect(back.predict(x)).toEqual(net.predict(x));
    // It trains as the model it came from: the BatchNormalization on the batch's statistics,
    // moving its running ones (before, they stayed: 0.3 relative error on a PyTorch fixture).
    const twin = compile(model, { inputs: 20, batch: 16, threads: 1, optimizer: sgd({ lr: 0.1 }) });
    for (const [k, v] of Object.entries(net.params)) twin.params[k]!.set(v);
    for (const [k, v] of Object.entries(net.state)) (twin.state[k] as Float32Array).set(v as Float32Array);
    const before = back.state["4.running_mean"]!.slice();
    for (let s = 0; s < 5; s++) {
      const batch = Float32Array.from({ length: 320 }, (_, i) => Math.cos(i * (s + 2)));
      const labels = Int32Array.from({ length: 16 }, (_, i) => (i + s) % 3);
      expect(back.trainStep(batch, labels)).toBeCloseTo(twin.trainStep(batch, labels), 5);
    }
    expect(back.state["4.running_mean"]).not.toEqual(before);
    for (const k of ["4.running_mean", "4.running_var", "3.weight", "6.bias"]) {
      const got = back.params[k] ?? (back.state[k] as Float32Array), want = twin.params[k] ?? (twin.state[k] as Float32Array);
      expect(relErr(got, [...want])).toBeLessThanOrEqual(1e-5);
    }
    expect(relErr(back.predict(x), [...twin.predict(x)])).toBeLessThanOrEqual(1e-5);
  });
});

describe("kiln → ONNX → kiln: what kiln holds fixed stays fixed", () => {
  it("a user layer's state buffer and a constant tensor come back as state, not as parameters to train", async () => {
    // A mask buffer (fixed), a running mean (updated in training: ONNX has no update, so it comes
    // back fixed), and a constant fill of 8 ones the eval graph keeps.
    const masked = layer({
      name: "masked", in: 8, out: 8,
      params: { w: { shape: [8, 8] } },
      state: { mask: { shape: [8], init: init.ones() }, mean: { shape: [8] } },
      apply: (p, x, st, phase) => {
        const y = x.matmul(p.w, { transposeB: true }).mul(st.mask).sub(st.mean).add(x.mul(0).add(1).mean(0));
        return phase.training ? { out: y, state: { mean: st.mean.mul(0.9).add(x.mean(0).mul(0.1)) } } : y;
      },
    });
    const net = compile(seq(linear(6, 8), masked, linear(8, 3)), { inputs: 6, batch: 4, seed: 2, threads: 1 });
    (net.state["1.mask"] as Float32Array).set([1, 0, 1, 0, 1, 1, 0, 1]);
    for (let s = 0; s < 2; s++) net.trainStep(Float32Array.from({ length: 24 }, (_, i) => Math.sin(i + s)), Int32Array.from([0, 1, 2, 0]));
    const bytes = net.toOnnx();
    const graph = decodeModel(bytes).graph!;
    expect(graph.initializer.map((t) => t.name)).not.toContain("1.mask");
    expect(graph.node.filter((n) => n.op_type === "Constant").flatMap((n) => n.output)).toEqual(expect.arrayContaining(["1.mask", "1.mean"]));
    const x = Float32Array.from({ length: 5 * 6 }, (_, i) => Math.cos(i)), want = net.predict(x);
    // ONNX Runtime runs the Constant nodes.
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const run = await session.run({ x: new ort.Tensor("float32", x, [5, 6]) });
    expect(relErr(run["logits"]!.data as Float32Array, [...want])).toBeLessThanOrEqual(1e-6);
    const imported = fromOnnx(bytes);
    expect(Object.keys(imported.params).sort()).toEqual(Object.keys(net.params).sort());
    expect(Object.keys(imported.state).sort()).toEqual(expect.arrayContaining(["1.mask", "1.mean"]));
    const back = compile(imported.model, { inputs: 6, batch: 4, threads: 1, optimizer: sgd({ lr: 0.5 }) });
    load(back, imported);
    expect(back.predict(x)).toEqual(want);
    // Trained, the parameters move and the mask does not.
    const w = back.params["1.w"]!.slice(), mask = back.state["1.mask"]!.slice();
    back.trainStep(Float32Array.from({ length: 24 }, (_, i) => Math.cos(2 * i)), Int32Array.from([2, 1, 0, 1]));
    expect(back.params["1.w"]).not.toEqual(w);
    expect(back.state["1.mask"]).toEqual(mask);
  });
});

describe("graphs kiln cannot express", () => {
  it("lists every unsupported node, with op type and name, in one KilnError", () => {
    const m = decodeModel(bytesOf("residual-layernorm"));
    const nodes = m.graph!.node as { op_type: string; name: string }[];
    nodes[2]!.op_type = "Hardmax";
    nodes[4]!.op_type = "Conv";
    nodes[6]!.op_type = "LSTM";
    nodes[6]!.name = '"); process.exit(1); ("';
    let message = "";
    try { fromOnnx(encodeModel(m)); } catch (e) { expect(e).toBeInstanceOf(KilnError); message = (e as Error).message; }
    expect(message).toMatch(/^ONNX: 3 nodes kiln cannot express: Hardmax "\/2\/Relu", Conv "\/3\/fn\/fn.1\/Relu", LSTM "\\"\); process.exit\(1\); \(\\"". Supported \(of the default ONNX domain\): /);
  });

  it("a weight two nodes read is one parameter; an Identity copy (torch's export of equal values) is a parameter of its own", () => {
    const m = decodeModel(bytesOf("primitives-activations"));
    const nodes = m.graph!.node as unknown as { op_type: string; input: string[]; output: string[]; name: string; domain: string; attribute: unknown[] }[];
    const gemm4 = nodes.find((n) => n.op_type === "Gemm" && n.input[1] === "4.weight")!;
    // torch.onnx.export of one module used twice: both Gemms read "2.weight".
    gemm4.input[1] = "2.weight";
    const shared = fromOnnx(encodeModel(m));
    expect(Object.keys(shared.params).filter((k) => k.endsWith(".weight"))).toEqual(["0.weight", "2.weight", "6.weight", "8.weight", "10.weight", "12.weight"]);
    // torch.onnx.export of two parameters that hold equal values (two fresh LayerNorms' ones):
    // an Identity copy, named as PyTorch names the second. They train apart, as in PyTorch.
    nodes.unshift({ op_type: "Identity", name: "copy", domain: "", input: ["2.weight"], output: ["4.weight.copy"], attribute: [] });
    gemm4.input[1] = "4.weight.copy";
    const imported = fromOnnx(encodeModel(m));
    expect(Object.keys(imported.params).filter((k) => k.endsWith(".weight") || k.endsWith(".copy"))).toEqual(["0.weight", "2.weight", "4.weight.copy", "6.weight", "8.weight", "10.weight", "12.weight"]);
    expect(imported.params["4.weight.copy"]).toEqual(imported.params["2.weight"]);
    const net = compile(imported.model, { inputs: 6, batch: 4, optimizer: sgd({ lr: 0.1 }) });
    load(net, imported);
    const x = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i));
    const before = net.predict(x);
    net.trainStep(x, [0, 1, 2, 0]);
    expect(net.predict(x)).not.toEqual(before);
    expect(net.params["4.weight.copy"]).not.toEqual(net.params["2.weight"]);
  });

  it("a tensor a Constant node computes (a causal mask of −∞) is a fixed state buffer, −∞ read as the lowest float; NaN refused there, ±∞ in an initializer too", () => {
    const imported = fromOnnx(bytesOf("transformer-causal"));
    const lowest = -3.4028234663852886e38;
    const masks = Object.entries(imported.state).filter(([, v]) => Array.from(v as ArrayLike<number>).includes(lowest));
    expect(masks.length).toBeGreaterThan(0);
    for (const [name, v] of masks) {
      expect(Object.keys(imported.params)).not.toContain(name);
      expect(Array.from(v as ArrayLike<number>).every((e) => e === 0 || e === lowest)).toBe(true);
    }
    // It goes into a checkpoint and back (a non-finite tensor would be refused there).
    const net = compile(imported.model, { inputs: imported.inputs, batch: 4 });
    load(net, imported);
    const again = compile(imported.model, { inputs: imported.inputs, batch: 4 });
    loadCheckpointBytes(again, checkpointBytes(net));
    const x = Float32Array.from({ length: 128 }, (_, i) => Math.cos(i));
    expect([...again.predict(x)]).toEqual([...net.predict(x)]);
    const m = decodeModel(bytesOf("transformer-causal"));
    const nodes = m.graph!.node as unknown as { op_type: string; output: string[]; attribute: { name: string; t?: { raw_data: Uint8Array } }[] }[];
    const mask = nodes.find((n) => n.op_type === "Constant" && n.output[0] === masks[0]![0])!;
    const raw = mask.attribute.find((a) => a.name === "value")!.t!.raw_data;
    new DataView(raw.buffer, raw.byteOffset, raw.byteLength).setFloat32(4, NaN, true);
    expect(() => fromOnnx(encodeModel(m))).toThrow(/holds NaN at element 1; expected numbers or ±∞/);
    const w = decodeModel(bytesOf("transformer-causal"));
    const init = w.graph!.initializer.find((t) => t.name === "head.weight")! as unknown as { raw_data: Uint8Array };
    new DataView(init.raw_data.buffer, init.raw_data.byteOffset, init.raw_data.byteLength).setFloat32(0, -Infinity, true);
    expect(() => fromOnnx(encodeModel(w))).toThrow(/holds -Infinity at element 0; expected finite numbers/);
  });

  it("a softmax head after kiln's layers: the layers, then a layer of primitives", () => {
    const m = decodeModel(bytesOf("mlp"));
    const graph = m.graph! as unknown as { node: object[]; output: { name: string }[] };
    const logits = graph.output[0]!.name;
    graph.node.push({ op_type: "Softmax", name: "/head/Softmax", domain: "", input: [logits], output: ["probs"], attribute: [] });
    graph.output[0]!.name = "probs";
    const imported = fromOnnx(encodeModel(m));
    expect(tree(imported.model)).toBe('seq(linear(12→16), relu, linear(16→5), layer("onnx", 5→5))');
    const net = compile(imported.model, { inputs: 12, batch: 5 });
    load(net, imported);
    const fx = fixtureOf("mlp"), probs = net.predict(fx.x.data);
    const expected = fx.logits.data.map((_v, i) => {
      const row = fx.logits.data.slice(i - (i % 5), i - (i % 5) + 5), top = Math.max(...row);
      return Math.exp(fx.logits.data[i]! - top) / row.reduce((a, v) => a + Math.exp(v - top), 0);
    });
    expect(relErr(probs, expected)).toBeLessThanOrEqual(1e-5);
  });

  it("Dropout inside a layer of primitives drops in training (its ratio, a stream each) and passes through in eval", () => {
    const m = decodeModel(bytesOf("dropout"));
    const nodes = m.graph!.node as unknown as { op_type: string; input: string[]; output: string[]; name: string; domain: string; attribute: unknown[] }[];
    const relu = nodes.find((n) => n.op_type === "Relu")!;
    relu.op_type = "Elu"; // no layer has it: the whole graph becomes one layer of primitives
    const imported = fromOnnx(encodeModel(m));
    expect(tree(imported.model)).toBe('layer("onnx", 7→3)');
    const net = compile(imported.model, { inputs: 7, batch: 8, optimize: false });
    expect(printIR(net.ir.train)).toMatch(/dropout_mask\[p=0\.25[^\n]*stream=0[\s\S]*dropout_mask\[p=0\.1[^\n]*stream=1/);
    expect(printIR(net.ir.eval)).not.toMatch(/mask/);
  });

  it("a layer of primitives is refused at the node that does not fit: an output transposed off [batch, n], a fixed batch, a shape that is not known", () => {
    const bn = decodeModel(bytesOf("primitives-batchnorm"));
    const softmax = bn.graph!.node.find((n) => n.op_type === "Softmax")! as { op_type: string; attribute: unknown[] };
    softmax.op_type = "Transpose";
    softmax.attribute = [];
    expect(() => fromOnnx(encodeModel(bn))).toThrow(/^ONNX: the output "logits" has shape \[4,2\] for "x" of \[2, 5\]; kiln imports models whose output is \[batch, features\]/);
    // The shape of torch's x.view(x.size(0), 3, 8) written with the export's batch of 5 in it.
    const m = decodeModel(bytesOf("primitives"));
    const reshape = m.graph!.node.find((n) => n.op_type === "Reshape")! as { name: string; input: string[] };
    m.graph!.initializer.push({ name: "fixed", dims: [3], data_type: 7, int64_data: [5, 3, 8] } as never);
    reshape.input[1] = "fixed";
    expect(() => fromOnnx(encodeModel(m))).toThrow(new RegExp(`^ONNX: Reshape "${reshape.name}": cannot reshape \\[2,24\\] to \\[5,3,8\\]$`));
    reshape.input[1] = m.graph!.input[0]!.name; // the data as a shape
    expect(() => fromOnnx(encodeModel(m))).toThrow(/Reshape "[^"]*": input 1 \("x"\) must be known at import/);
    // A negative running variance (an ELU before the batchNorm makes the whole graph primitives).
    const neg = decodeModel(bytesOf("primitives-batchnorm"));
    const nodes = neg.graph!.node as unknown as { op_type: string; input: string[]; output: string[]; name: string; domain: string; attribute: unknown[] }[];
    const bnNode = nodes.find((n) => n.op_type === "BatchNormalization")!;
    nodes.splice(nodes.indexOf(bnNode), 0, { op_type: "Elu", name: "elu", domain: "", input: [bnNode.input[0]!], output: ["elu"], attribute: [] });
    bnNode.input[0] = "elu";
    const v = neg.graph!.initializer.find((t) => t.name === "1.running_var")!;
    const values = new Float32Array(v.raw_data.slice().buffer);
    values[3] = -0.5;
    v.raw_data = new Uint8Array(values.buffer);
    expect(() => fromOnnx(encodeModel(neg))).toThrow(/^ONNX: BatchNormalization "[^"]*": its variance "1.running_var" holds -0.5 at element 3; expected values ≥ 0$/);
    // A Split of the batch axis.
    const logic = decodeModel(bytesOf("primitives-logic"));
    const splitNode = logic.graph!.node.find((n) => n.op_type === "Split")! as unknown as { attribute: { i: unknown }[] };
    splitNode.attribute[0]!.i = 0;
    expect(() => fromOnnx(encodeModel(logic))).toThrow(/^ONNX: Split "[^"]*": splits the batch axis; kiln keeps every sample of a batch together$/);
  });

  it("a structure no layer matches is named at the value where matching stopped", () => {
    const m = decodeModel(bytesOf("mlp"));
    const relu = m.graph!.node[1] as { input: string[] };
    relu.input[0] = "x"; // Relu reads the input too: x feeds a Gemm and a Relu, no residual Add
    expect(() => fromOnnx(encodeModel(m))).toThrow(/the value "x" is read by Gemm "\/0\/Gemm", Relu "\/1\/Relu", which form no layer kiln has/);
  });
});
