/**
 * A minimal ONNX ModelProto writer (protobuf wire format by hand), enough for the W3 model:
 * Gemm (transB = 1, PyTorch's [out, in] weights), LayerNormalization (opset 17) and Relu.
 * The model is built in memory from the shared parameters and never written to disk.
 */
import { CLASSES, EPS, INPUTS, LINEARS } from "../workloads.js";

class Writer {
  private readonly parts: Uint8Array[] = [];
  private varint(v: number): void {
    if (v < 0 || !Number.isInteger(v)) throw new Error(`onnx writer: varint ${v}`);
    const bytes: number[] = [];
    while (v >= 0x80) { bytes.push((v % 0x80) | 0x80); v = Math.floor(v / 0x80); }
    bytes.push(v);
    this.parts.push(Uint8Array.from(bytes));
  }
  private key(field: number, wire: number): void { this.varint(field * 8 + wire); }
  int(field: number, v: number): this { this.key(field, 0); this.varint(v); return this; }
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(b);
    return this;
  }
  bytes(field: number, b: Uint8Array): this { this.key(field, 2); this.varint(b.length); this.parts.push(b); return this; }
  string(field: number, s: string): this { return this.bytes(field, new TextEncoder().encode(s)); }
  message(field: number, m: Writer): this { return this.bytes(field, m.finish()); }
  finish(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
}

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_FLOAT = 1, ATTR_INT = 2;

function tensor(name: string, dims: readonly number[], data: Float32Array): Writer {
  const t = new Writer();
  for (const d of dims) t.int(1, d);
  t.int(2, FLOAT).string(8, name);
  return t.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)); // raw_data, little-endian
}

function node(op: string, inputs: string[], outputs: string[], attrs: Array<[string, "f" | "i", number]> = []): Writer {
  const n = new Writer();
  for (const i of inputs) n.string(1, i);
  for (const o of outputs) n.string(2, o);
  n.string(3, outputs[0]!).string(4, op);
  for (const [name, kind, v] of attrs) {
    const a = new Writer().string(1, name);
    if (kind === "f") a.float(2, v).int(20, ATTR_FLOAT);
    else a.int(3, v).int(20, ATTR_INT);
    n.message(5, a);
  }
  return n;
}

function valueInfo(name: string, dims: Array<number | string>): Writer {
  const shape = new Writer();
  for (const d of dims) shape.message(1, typeof d === "number" ? new Writer().int(1, d) : new Writer().string(2, d));
  const tt = new Writer().int(1, FLOAT).message(2, shape);
  return new Writer().string(1, name).message(2, new Writer().message(1, tt));
}

/** The eval model of W2 (layerNorm variant, dropout = identity) as an ONNX model, input "x" [N, 784]. */
export function mlpOnnx(params: Record<string, Float32Array>): Uint8Array {
  const g = new Writer();
  let h = "x";
  for (const l of LINEARS) {
    const w = `${l.index}.weight`, b = `${l.index}.bias`;
    g.message(5, tensor(w, [l.out, l.in], params[w]!));
    g.message(5, tensor(b, [l.out], params[b]!));
    const out = l.index === 8 ? "logits" : `h${l.index}`;
    g.message(1, node("Gemm", [h, w, b], [out], [["transB", "i", 1]]));
    h = out;
    if (l.index === 8) break;
    const n = l.index + 1;
    g.message(5, tensor(`${n}.weight`, [l.out], params[`${n}.weight`]!));
    g.message(5, tensor(`${n}.bias`, [l.out], params[`${n}.bias`]!));
    g.message(1, node("LayerNormalization", [h, `${n}.weight`, `${n}.bias`], [`ln${n}`], [["axis", "i", 1], ["epsilon", "f", EPS]]));
    g.message(1, node("Relu", [`ln${n}`], [`r${n}`]));
    h = `r${n}`;
  }
  g.string(2, "kiln_bench_w3");
  g.message(11, valueInfo("x", ["N", INPUTS]));
  g.message(12, valueInfo("logits", ["N", CLASSES]));
  return new Writer()
    .int(1, 8) // ir_version
    .string(2, "kiln-bench")
    .message(7, g)
    .message(8, new Writer().string(1, "").int(2, 17)) // opset_import: ai.onnx 17
    .finish();
}
