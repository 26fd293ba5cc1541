/**
 * Small hostile files whose cost or meaning hid in their shapes and numbers: ONNX integer tensors
 * of thousands of axes or a Concat of thousands of inputs (seconds to minutes of shape arithmetic
 * from a few KB), a rank the kernels cannot index, an epsilon ≤ 0, a Split whose num_outputs
 * disagrees, values given twice; specs whose numbers are finite as doubles but not as float32; a
 * safetensors header of tens of thousands of empty tensors.
 * Each is refused at once with a KilnError naming what was expected and what came.
 */
import { describe, expect, it } from "vitest";
import { compile, fn, KilnError, linear, loadCheckpointBytes, mse, seq, sgd } from "../src/index.js";
import { fromOnnx } from "../src/onnx/import.js";
import { encodeModel } from "../src/onnx/proto.js";
import { fromSpec, type LayerSpec } from "../src/spec.js";

/** A graph reading x [batch, 4] with the given nodes and initializers, output y. */
function graph(node: object[], initializer: object[] = [], opset = 17): Uint8Array {
  return encodeModel({
    ir_version: 8, opset_import: [{ domain: "", version: opset }], producer_name: "test",
    graph: {
      name: "g", node: node.map((n, k) => ({ name: `n${k}`, domain: "", ...n })), initializer,
      input: [{ name: "x", type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: "batch" }, { dim_value: 4 }] } } } }],
      output: [{ name: "y", type: { tensor_type: { elem_type: 1 } } }],
    },
  } as never);
}

/** The KilnError `f` throws, within `ms` milliseconds. */
function refusedFast(f: () => unknown, ms = 2000): Error {
  const t0 = performance.now();
  let error: unknown;
  try { f(); } catch (e) { error = e; }
  expect(performance.now() - t0).toBeLessThan(ms);
  expect(error).toBeInstanceOf(KilnError);
  return error as Error;
}

const one = (name: string, dims: number[]) => ({ name, dims, data_type: 7, int64_data: [1] });

describe("ONNX shapes of shapes", () => {
  it("an integer tensor of 2,000 axes (a 4 KB file; 42 s before) or a Concat of 32,768 inputs (10 s) is refused at once", () => {
    const rank = graph([{ op_type: "Concat", input: ["c", "c"], output: ["s"], attribute: [{ name: "axis", type: 2, i: 0 }] },
      { op_type: "Reshape", input: ["x", "s"], output: ["y"] }], [one("c", new Array(2000).fill(1))]);
    expect(refusedFast(() => fromOnnx(rank)).message).toMatch(/is a rank-2000 integer tensor; kiln's tensors have at most 32 axes/);
    const many = graph([{ op_type: "Concat", input: new Array(32768).fill("c"), output: ["s"], attribute: [{ name: "axis", type: 2, i: 0 }] },
      { op_type: "Reshape", input: ["x", "s"], output: ["y"] }], [one("c", [1])]);
    const e = refusedFast(() => fromOnnx(many));
    expect(e.message).toMatch(/reshapes to 32768 axes; kiln's tensors have at most 32/);
    expect(e.message.length).toBeLessThan(1000);
    // An empty integer tensor with a long axis: nothing to place, at once.
    const empty = graph([{ op_type: "Concat", input: ["e", "e"], output: ["s"], attribute: [{ name: "axis", type: 2, i: 1 }] },
      { op_type: "Reshape", input: ["x", "s"], output: ["y"] }], [{ name: "e", dims: [0, 1e9], data_type: 7, int64_data: [] }]);
    refusedFast(() => fromOnnx(empty));
  });

  it("a reshape to 2,002 axes is refused by fromOnnx, and by compile from a user fn (a RangeError from the generated kernel before)", () => {
    const shape = [0, 4, ...new Array(2000).fill(1)];
    const deep = graph([{ op_type: "Reshape", input: ["x", "s"], output: ["y"] }],
      [{ name: "s", dims: [shape.length], data_type: 7, int64_data: shape }]);
    expect(refusedFast(() => fromOnnx(deep)).message).toMatch(/reshapes to 2002 axes; kiln's tensors have at most 32/);
    for (const optimize of [true, false]) {
      const model = seq(fn("deep", (x) => x.reshape([x.shape[0]!, 4, ...new Array(2000).fill(1)]).relu().reshape([x.shape[0]!, 4])));
      expect(refusedFast(() => compile(model, { inputs: 4, batch: 2, loss: mse(), optimizer: sgd({ lr: 0.1 }), optimize })).message)
        .toMatch(/^fn "deep" at 0: reshape: reshape gives a rank-2002 tensor; kiln's tensors have at most 32 axes/);
    }
  });
});

describe("ONNX numbers and fields", () => {
  const norm = (op: string, eps: number) => {
    const ones = { dims: [4], data_type: 1, float_data: [1, 1, 1, 1] }, zeros = { dims: [4], data_type: 1, float_data: [0, 0, 0, 0] };
    const inputs = op === "LayerNormalization" ? ["x", "g", "b"] : ["x", "g", "b", "m", "v"];
    return graph([{ op_type: op, input: inputs, output: ["y"], attribute: [{ name: "epsilon", type: 1, f: eps }] }],
      [{ name: "g", ...ones }, { name: "b", ...zeros }, { name: "m", ...zeros }, { name: "v", ...ones }].slice(0, inputs.length - 1));
  };

  it("a normalization's epsilon ≤ 0 is refused, naming the node (optimized: a late GraphError; reference: NaN predictions)", () => {
    for (const op of ["LayerNormalization", "BatchNormalization"]) {
      expect(refusedFast(() => fromOnnx(norm(op, -2))).message).toBe(`ONNX: attribute epsilon of ${op} "n0" must be > 0, got -2`);
      expect(refusedFast(() => fromOnnx(norm(op, 0))).message).toMatch(/must be > 0, got 0$/);
      expect(fromOnnx(norm(op, 1e-3)).inputs).toBe(4);
    }
  });

  it("Split's num_outputs must be its outputs' count (opset 18); a tensor's values in two fields are refused", () => {
    const split = (n: number) => graph([{ op_type: "Split", input: ["x"], output: ["y", "z"], attribute: [{ name: "axis", type: 2, i: 1 }, { name: "num_outputs", type: 2, i: n }] },
      { op_type: "Add", input: ["y", "z"], output: ["w"] }], [], 18);
    expect(refusedFast(() => fromOnnx(split(3))).message).toMatch(/Split "n0".*declares num_outputs 3 but has 2 outputs/);
    const twice = graph([{ op_type: "MatMul", input: ["x", "W"], output: ["y"] }],
      [{ name: "W", dims: [4, 1], data_type: 1, float_data: [1, 2, 3, 4], raw_data: new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer) }]);
    expect(refusedFast(() => fromOnnx(twice)).message).toMatch(/"W".* carries its values twice, in raw_data and float_data; expected one of them/);
  });
});

describe("specs whose numbers are finite as doubles but not as float32", () => {
  it("are refused by fromSpec, naming the value (weights of ±∞, NaN predictions before)", () => {
    const cases: [LayerSpec, RegExp][] = [
      [{ kind: "linear", in: 2, out: 2, init: { kind: "normal", variance: 1e80 } } as LayerSpec, /init\.normal variance must be a finite number ≥ 0, got 1e\+80 \(its square root, the weights' scale, is beyond float32's range\)/],
      [{ kind: "activation", name: "leakyRelu", slope: 1e39 } as LayerSpec, /leakyRelu slope must be a finite number, got 1e\+39 \(beyond float32's range/],
      [{ kind: "layerNorm", n: 2, eps: 1e-46 } as LayerSpec, /layerNorm eps must be a finite number > 0, got 1e-46 \(0 as float32\)/],
      [{ kind: "batchNorm", n: 2, eps: 1e-46 } as LayerSpec, /batchNorm eps must be a finite number > 0, got 1e-46 \(0 as float32\)/],
    ];
    for (const [spec, message] of cases) expect(refusedFast(() => fromSpec({ kind: "seq", layers: [spec] } as LayerSpec)).message).toMatch(message);
  });
});

describe("a safetensors header of 70,000 empty tensors", () => {
  it("is refused by its count, before each entry is checked (a million took 8 s and 1.2 GB)", () => {
    const net = compile(seq(linear(2, 2)), { inputs: 2, batch: 1, threads: 1, optimizer: sgd({ lr: 0.1 }) });
    const header: Record<string, unknown> = {};
    for (let i = 0; i < 70_000; i++) header[`t${i}`] = { dtype: "F32", shape: [0], data_offsets: [0, 0] };
    const text = new TextEncoder().encode(JSON.stringify(header));
    const bytes = new Uint8Array(8 + text.length);
    new DataView(bytes.buffer).setUint32(0, text.length, true);
    bytes.set(text, 8);
    const before = Array.from(net.params["0.weight"]!);
    expect(refusedFast(() => loadCheckpointBytes(net, bytes)).message).toMatch(/header: 70000 entries; expected at most 65536 tensors \(and __metadata__\)$/);
    expect(Array.from(net.params["0.weight"]!)).toEqual(before);
  });
});
