/**
 * ONNX files that decode and fit kiln's patterns but carry what no trained model has, beyond
 * onnx-fuzz.test.ts's malformed bytes: NaN and ±∞ weights, a negative BatchNormalization
 * variance, Gemm's transB given as a non-zero other than 1, residual blocks nested deeper than
 * any model (which made tracing overflow the stack: a RangeError, not a KilnError), and files cut
 * at every byte (one cut decoded as a whole model: torch writes opset_import last).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DecodeError, KilnError } from "../src/index.js";
import { OnnxBuilder, i } from "../src/onnx/builder.js";
import { fromOnnx } from "../src/onnx/import.js";
import { decodeModel, encodeModel } from "../src/onnx/proto.js";
import { MAX_SPEC_DEPTH } from "../src/spec.js";

/** A model with input x [batch, n] whose graph `build` writes; returns the encoded bytes. */
function model(build: (b: OnnxBuilder, x: string) => string, n = 3): Uint8Array {
  const b = new OnnxBuilder();
  const out = build(b, "x");
  return encodeModel({
    ir_version: 8, opset_import: [{ domain: "", version: 17 }], producer_name: "test",
    graph: {
      name: "g", node: b.nodes, initializer: b.initializers,
      input: [{ name: "x", type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: "batch" }, { dim_value: n }] } } } }],
      output: [{ name: out, type: { tensor_type: { elem_type: 1 } } }],
    },
  });
}

function refused(bytes: Uint8Array, message: RegExp): void {
  let error: unknown;
  try { fromOnnx(bytes); } catch (e) { error = e; }
  expect(error).toBeInstanceOf(DecodeError);
  expect((error as Error).message).toMatch(message);
}

const W = [1, 2, 3, 4, 5, 6, 7, 8, 9];
const gemm = (w: readonly number[], transB: number) => model((b, x) => b.one("Gemm", [x, b.initializer("W", [3, 3], w)], { transB: i(transB) }));

describe("ONNX constants no trained model has", () => {
  it("a NaN or ±∞ weight, bias or scalar is refused, naming the tensor and the element", () => {
    refused(gemm([...W.slice(0, 4), NaN, ...W.slice(5)], 1), /the weight of Gemm "\/Gemm" "W" holds NaN at element 4; expected finite numbers/);
    refused(model((b, x) => b.one("Gemm", [x, b.initializer("W", [2, 3], [1, 1, 1, 1, 1, 1]), b.initializer("B", [2], [0, -Infinity])], { transB: i(1) })),
      /the bias of Gemm "\/Gemm" "B" holds -Infinity at element 1/);
    // float_data rather than raw_data, in a Constant node: Dropout's ratio
    const ratio = model((b, x) => {
      b.nodes.push({ name: "c", op_type: "Constant", domain: "", input: [], output: ["r"], attribute: [{ name: "value_float", type: 1, f: NaN }] });
      return b.one("Dropout", [b.one("Relu", [x]), "r"]);
    });
    refused(ratio, /the ratio of Dropout "\/Dropout" "r" holds NaN at element 0/);
  });

  it("a negative BatchNormalization variance is refused", () => {
    const bn = model((b, x) => b.one("BatchNormalization", [x, b.initializer("g", [3], [1, 1, 1]), b.initializer("b", [3], [0, 0, 0]),
      b.initializer("m", [3], [0, 0, 0]), b.initializer("v", [3], [1, -0.5, 1])]));
    refused(bn, /the variance of BatchNormalization "\/BatchNormalization" is -0.5 at element 1; expected values ≥ 0/);
  });
});

describe("ONNX attributes read as ONNX Runtime reads them", () => {
  it("Gemm transB = 2 transposes, as transB = 1 does (ONNX Runtime: any non-zero)", () => {
    const one = fromOnnx(gemm(W, 1)), two = fromOnnx(gemm(W, 2)), zero = fromOnnx(gemm(W, 0));
    expect(Array.from(two.params["0.weight"]!)).toEqual(Array.from(one.params["0.weight"]!));
    expect(Array.from(two.params["0.weight"]!)).toEqual(W); // [out, in] as stored, with transB
    expect(Array.from(zero.params["0.weight"]!)).toEqual([1, 4, 7, 2, 5, 8, 3, 6, 9]);
  });
});

describe("ONNX residual blocks nested too deep", () => {
  /** `depth` residual blocks, each Relu → (inner) → Relu, added back to its input (block 0 outermost). */
  const nested = (depth: number) => model((b, x) => {
    const node = (op: string, name: string, input: string[]) => { b.nodes.push({ name, op_type: op, domain: "", input, output: [name] }); return name; };
    let v = x;
    for (let d = 0; d < depth; d++) v = node("Relu", `in${d}`, [d === 0 ? x : `in${d - 1}`]);
    for (let d = depth - 1; d >= 0; d--) v = node("Add", `add${d}`, [d === 0 ? x : `in${d - 1}`, node("Relu", `out${d}`, [v])]);
    return v;
  });

  it(`are refused beyond ${MAX_SPEC_DEPTH} levels of seq/residual (as fromSpec refuses them), at once, not by a stack overflow`, () => {
    let kind = fromOnnx(nested(31)).model;
    let levels = 0;
    while (kind.kind === "seq" || kind.kind === "residual") {
      levels++;
      kind = kind.kind === "seq" ? kind.layers.find((l) => l.kind === "residual") ?? kind.layers[0]! : kind.fn;
    }
    expect(levels).toBe(63);
    refused(nested(32), /Add "add31" closes a residual block nested more than 64 levels of seq\/residual deep; kiln reads at most 64/);
    refused(nested(3000), /Add "add31" closes a residual block nested more than 64 levels/); // was a RangeError (call stack) from tracing
  });
});

describe("ONNX files cut short", () => {
  it("every strict prefix of the PyTorch fixtures is refused with a KilnError (the cut before opset_import was accepted)", () => {
    for (const name of ["mlp", "batchnorm", "residual-layernorm", "decomposed-layernorm", "activations"]) {
      const bytes = new Uint8Array(readFileSync(new URL(`./fixtures/onnx/${name}.onnx`, import.meta.url)));
      const accepted: number[] = [], other: string[] = [];
      for (let n = 0; n < bytes.length; n++) {
        try { fromOnnx(bytes.subarray(0, n)); accepted.push(n); } catch (e) { if (!(e instanceof KilnError)) other.push(`${n}: ${String(e)}`); }
      }
      expect({ name, accepted, other }).toEqual({ name, accepted: [], other: [] });
      expect(fromOnnx(bytes).inputs).toBeGreaterThan(0);
    }
    const noOpset = decodeModel(new Uint8Array(readFileSync(new URL("./fixtures/onnx/mlp.onnx", import.meta.url))));
    refused(encodeModel({ ...noOpset, opset_import: [{ domain: "com.example", version: 1 }] }), /the model names no ONNX operator set \(no opset_import for the default domain\)/);
  });
});

/** Like model(), with the nodes written as given (attributes in ONNX's own fields) and an opset. */
function raw(nodes: object[], opset = 17): Uint8Array {
  return encodeModel({
    ir_version: 8, opset_import: [{ domain: "", version: opset }], producer_name: "test",
    graph: {
      name: "g", node: nodes.map((n, k) => ({ name: `n${k}`, domain: "", output: [k === nodes.length - 1 ? "y" : `v${k}`], ...n })),
      initializer: [{ name: "W", dims: [3, 3], data_type: 1, float_data: W }],
      input: [{ name: "x", type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: "batch" }, { dim_value: 3 }] } } } }],
      output: [{ name: "y", type: { tensor_type: { elem_type: 1 } } }],
    },
  });
}

describe("ONNX nodes held to their operator schemas (ONNX Runtime refuses each of these; kiln read them as another model)", () => {
  const gemmWith = (attribute: object[], input = ["x", "W"]) => raw([{ op_type: "Gemm", input, attribute }]);
  it("an attribute given twice, one the op does not have (for its opset), or with its value in another field than its type's", () => {
    refused(gemmWith([{ name: "transB", type: 2, i: 1 }, { name: "transB", type: 2, i: 0 }]), /Gemm "n0" \(opset 17\): the attribute "transB" is given twice/);
    refused(gemmWith([{ name: "transb", type: 2, i: 1 }]), /expected attributes among alpha, beta, transA, transB, got "transb"/);
    refused(gemmWith([{ name: "transB", type: 2, f: 1 }]), /the attribute "transB" is of type INT but carries no value in its field i/);
    refused(gemmWith([{ name: "transB", type: 1, f: 1 }]), /the attribute "transB" must be of type INT, got type FLOAT/);
    refused(gemmWith([{ name: "transB", type: 2, i: 1, ints: [1] }]), /of type INT but carries a value in the field ints/);
    refused(raw([{ op_type: "Relu", input: ["x"], attribute: [{ name: "alpha", type: 1, f: 0.1 }] }]), /expected attributes among none \(Relu takes no attribute\), got "alpha"/);
    // Dropout's ratio was an attribute until opset 12, an input since.
    refused(raw([{ op_type: "Dropout", input: ["x"], attribute: [{ name: "ratio", type: 1, f: 0.5 }] }]), /Dropout "n0" \(opset 17\): expected attributes among seed, got "ratio"/);
    expect(fromOnnx(raw([{ op_type: "Dropout", input: ["x"], attribute: [{ name: "ratio", type: 1, f: 0.5 }] }], 11)).inputs).toBe(3);
  });

  it("more or fewer inputs and outputs than the op takes", () => {
    refused(raw([{ op_type: "Relu", input: ["x", "W"], attribute: [] }]), /Relu "n0" \(opset 17\): expected 1 input, got 2/);
    refused(gemmWith([], ["x"]), /Gemm "n0" \(opset 17\): expected 2 to 3 inputs, got 1/);
    refused(raw([{ op_type: "Tanh", input: ["x"], output: ["y", "z"], attribute: [] }]), /Tanh "n0" \(opset 17\): expected 1 output, got 2/);
    // Trailing empty names are optional inputs left out: accepted.
    expect(fromOnnx(raw([{ op_type: "Gemm", input: ["x", "W", ""], attribute: [{ name: "transB", type: 2, i: 1 }] }])).inputs).toBe(3);
  });

  it("an op of another domain is named with its domain", () => {
    let message = "";
    try { fromOnnx(raw([{ op_type: "Gemm", domain: "com.microsoft", input: ["x", "W"], attribute: [] }])); } catch (e) { message = (e as Error).message; }
    expect(message).toMatch(/1 node kiln cannot express: Gemm "n0" of the domain "com.microsoft". Supported \(of the default ONNX domain\): Abs, Add, And, BatchNormalization, /);
  });
});

describe("ONNX files built to exhaust the reader", () => {
  /** ModelProto bytes around a GraphProto body (field 7), with opset 17 (field 8). */
  const around = (graph: Uint8Array) => {
    const len: number[] = [];
    for (let n = graph.length; ; n = Math.floor(n / 128)) { if (n < 128) { len.push(n); break; } len.push((n & 127) | 128); }
    return Uint8Array.from([0x3a, ...len, ...graph, 0x42, 0x04, 0x10, 0x11, 0x0a, 0x00]);
  };

  it("a million empty initializers (a 2 MB file, 160 MB decoded) are refused before decoding, naming the field", () => {
    const graph = new Uint8Array(2_000_000);
    for (let k = 0; k < graph.length; k += 2) graph[k] = 0x2a; // initializer (5), length 0
    refused(around(graph), /decoding this 1.9 MiB file would take about 1[0-9]{2}\.[0-9] MiB of memory \(1[0-9]{2}\.[0-9] MiB for GraphProto.initializer\); expected at most 79\.3 MiB/);
  });

  it("a name that is not UTF-8 is refused (two such names decoded to one, wiring a dangling input to x)", () => {
    const bytes = raw([{ op_type: "Relu", input: ["\u00ffQ1"], attribute: [] }]);
    // Replace the UTF-8 of ÿ (c3 bf) by the lone bytes fe 20 in the node's input name.
    const at = bytes.findIndex((b, k) => b === 0xc3 && bytes[k + 1] === 0xbf && bytes[k + 2] === 0x51);
    bytes[at] = 0xfe; bytes[at + 1] = 0x20;
    refused(bytes, /a string of NodeProto.input \(at byte [0-9]+\) is not valid UTF-8; expected text, got the bytes fe 20 51 31/);
  });

  it("a shape of 200,000 int32 values and a chain of 10,001 layers are DecodeErrors, not stack overflows", () => {
    const shape = raw([{ op_type: "Reshape", input: ["x", "s"], attribute: [] }]);
    const m = decodeModel(shape) as unknown as { graph: { initializer: object[] } };
    m.graph.initializer.push({ name: "s", dims: [200_000], data_type: 6, int32_data: new Array(200_000).fill(1) });
    let error: unknown;
    try { fromOnnx(encodeModel(m)); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(KilnError);
    const chain = raw(Array.from({ length: 10_001 }, (_v, k) => ({ op_type: "Relu", input: [k ? `v${k - 1}` : "x"], attribute: [] })));
    refused(chain, /the graph is a chain of more than 10000 layers from "v9999"; kiln reads at most 10000 in one seq/);
  });
});
