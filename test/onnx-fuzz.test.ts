/**
 * Seeded fuzzing of `fromOnnx`, the reader of ONNX files from anywhere. The only failure allowed
 * is a KilnError with a message; a model that is accepted must compile and predict. Cases:
 *   random bytes; truncations and byte flips of the PyTorch fixtures (wrong wire types, bad
 *   lengths); structured edits of decoded fixtures — huge or negative declared dims,
 *   initializers shorter than their shape, data types kiln does not read, external-data
 *   references to paths, cycles, deleted and repeated nodes, changed op types and attributes,
 *   names that are code; messages nested 100,000 deep (a RangeError in the decoder).
 * While the fuzzer runs, no file may be opened or read (external data is refused, never
 * followed), and no array fromOnnx allocates may be larger than its input (+256 bytes). The counts and the slowest case are printed for the closing note.
 */
import * as fs from "node:fs";
import fsModule from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { compile, DecodeError, KilnError } from "../src/index.js";
import { fromOnnx } from "../src/onnx/import.js";
import { EVIL, guarded, int, pick, type Rng } from "./helpers/fuzz.js";
import { rand } from "./helpers/run.js";

const Model = protobuf.parse(fs.readFileSync(new URL("../src/onnx/onnx.proto", import.meta.url), "utf8"), { keepCase: true }).root.lookupType("onnx.ModelProto");
const FIXTURES = ["mlp", "residual-layernorm", "batchnorm", "decomposed-layernorm", "dropout", "activations", "leaky-silu", "primitives", "primitives-activations", "primitives-batchnorm", "primitives-batchnorm-inside", "primitives-equal-weights", "primitives-more", "primitives-logic", "random-5105", "random-5024"]
  .map((n) => new Uint8Array(fs.readFileSync(new URL(`./fixtures/onnx/${n}.onnx`, import.meta.url))));

type Msg = Record<string, unknown> & { graph: Record<string, unknown[]> };
const any = (x: unknown) => x as Record<string, unknown> & { [k: string]: never };

/** One structured edit of a decoded model. */
function edit(r: Rng, m: Msg): void {
  const g = m.graph as unknown as { node: Record<string, unknown>[]; initializer: Record<string, unknown>[]; input: Record<string, unknown>[] };
  const node = () => pick(r, g.node);
  const init = () => pick(r, g.initializer);
  const names = () => g.node.flatMap((n) => [...(n.input as string[]), ...(n.output as string[])]);
  switch (int(r, 14)) {
    case 0: { const t = init(); if (t) (t.dims as unknown[])[int(r, (t.dims as unknown[]).length || 1)] = pick(r, [2 ** 40, 2 ** 31, 2 ** 28, 2 ** 53 + 2, -1, 0, 1e6]); break; }
    case 1: { const t = init(); if (t) t.raw_data = (t.raw_data as Uint8Array).subarray(0, int(r, (t.raw_data as Uint8Array).length)); break; }
    case 2: { const t = init(); if (t) { t.float_data = [1, 2, 3].slice(0, int(r, 4)); t.raw_data = new Uint8Array(0); } break; }
    case 3: { // data outside the file, at a path
      const t = init();
      if (t) { t.data_location = 1; t.raw_data = new Uint8Array(0); t.external_data = [{ key: "location", value: pick(r, ["/etc/passwd", "../../secret.bin", EVIL, "weights.bin"]) }, { key: "length", value: "64" }]; }
      break;
    }
    case 4: { // a cycle: a node reads a value defined by itself or a later node
      const k = int(r, g.node.length), later = g.node[k + int(r, g.node.length - k)]!;
      (g.node[k]!.input as string[])[0] = pick(r, later.output as string[]);
      break;
    }
    case 5: { const n = node(); if (n) { n.name = EVIL; (n.output as string[])[0] = EVIL; } break; }
    case 6: { const n = node(); if (n) n.op_type = pick(r, ["Conv", "Softmax", "", EVIL, "Gemm", "Relu", "Add", "MatMul", "LayerNormalization", "BatchNormalization", "Identity", "Reshape", "Dropout", "ReduceMean"]); break; }
    case 7: { // attributes: wrong type, absurd values, removed
      const n = node();
      const a = n && pick(r, n.attribute as Record<string, unknown>[]);
      if (a) Object.assign(a, pick(r, [{ type: 7 }, { f: NaN }, { f: 1e30 }, { i: 2 ** 40 }, { i: -5 }, { ints: [2 ** 35] }, { name: "" }, { type: 5, g: { node: [] } }]));
      else if (n) n.attribute = [{ name: "axis", type: 2, i: 7 }];
      break;
    }
    case 8: g.node.splice(int(r, g.node.length), 1); break;
    case 9: { const n = node(); if (n) g.node.splice(int(r, g.node.length), 0, structuredClone(n)); break; }
    case 10: { // the input's declared shape
      const dims = ((g.input[0]!.type as { tensor_type: { shape: { dim: Record<string, unknown>[] } } }).tensor_type.shape.dim);
      pick(r, [() => dims.pop(), () => dims.push({ dim_value: 3 }), () => { dims[1] = { dim_value: pick(r, [0, -1, 2 ** 30, 2 ** 53 + 2]) }; }, () => { dims[1] = { dim_param: "n" }; }])();
      break;
    }
    case 11: { const t = init(); if (t) t.data_type = pick(r, [0, 7, 11, 8, 16, 99]); break; }
    case 12: (m.opset_import as Record<string, unknown>[])[0]!.version = pick(r, [0, 1, 6, 23, 2 ** 40]); break;
    default: { // a value renamed: dangling reads, duplicate definitions
      const all = names();
      const n = node();
      if (n && all.length) (n.input as string[])[int(r, (n.input as string[]).length || 1)] = pick(r, [...all, EVIL, ""]);
    }
  }
}

/** Bytes nested `depth` deep: ModelProto.graph → GraphProto.node → NodeProto.attribute → AttributeProto.g → … */
function nested(depth: number): Uint8Array {
  const tags = [0x3a, 0x0a, 0x2a, 0x32]; // graph(7), node(1), attribute(5), g(6): wire type 2
  const varintSize = (n: number) => (n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : n < 268435456 ? 4 : 5);
  const lengths = new Array<number>(depth + 1).fill(0); // content length at each level, innermost 0
  for (let d = depth - 1; d >= 0; d--) lengths[d] = 1 + varintSize(lengths[d + 1]!) + lengths[d + 1]!;
  const out = new Uint8Array(lengths[0]!);
  let at = 0;
  for (let d = 0; d < depth; d++) {
    out[at++] = tags[d === 0 ? 0 : 1 + ((d - 1) % 3)]!;
    for (let n = lengths[d + 1]!; ; n >>>= 7) { if (n < 128) { out[at++] = n; break; } out[at++] = (n & 127) | 128; }
  }
  return out;
}

/**
 * The largest typed array or ArrayBuffer (in bytes) constructed while `f` runs: the global
 * constructors are wrapped (kiln's code reads them from the global scope at each call).
 */
function largestAllocation<T>(f: () => T): { result: T; bytes: number } {
  const names = ["Float32Array", "Float64Array", "Uint8Array", "Int32Array", "BigInt64Array", "ArrayBuffer"] as const;
  const g = globalThis as unknown as Record<string, new (...a: unknown[]) => { byteLength: number }>;
  const saved = names.map((n) => g[n]!);
  let bytes = 0;
  names.forEach((n, i) => {
    g[n] = new Proxy(saved[i]!, {
      construct(target, args, newTarget) {
        const made = Reflect.construct(target, args, newTarget === g[n] ? target : newTarget) as { byteLength: number };
        bytes = Math.max(bytes, made.byteLength);
        return made;
      },
    });
  });
  try { return { result: f(), bytes }; } finally { names.forEach((n, i) => { g[n] = saved[i]!; }); }
}

/** Count file opens and reads while `f` runs (builtin ESM exports follow the patched fs object). */
function countFileReads(f: () => void): number {
  let reads = 0;
  const fsObj = fsModule as unknown as Record<string, (...a: unknown[]) => unknown>;
  const names = ["readFileSync", "openSync", "readSync", "readFile", "open", "createReadStream"] as const;
  const saved = names.map((n) => fsObj[n]!);
  names.forEach((n, i) => { fsObj[n] = (...a: unknown[]) => { reads++; return saved[i]!(...a); }; });
  syncBuiltinESMExports();
  try { f(); } finally {
    names.forEach((n, i) => { fsObj[n] = saved[i]!; });
    syncBuiltinESMExports();
  }
  return reads;
}

describe("fuzz: fromOnnx", () => {
  it("random, truncated, flipped and edited models: only KilnErrors; what is accepted compiles and predicts; no file is read", () => {
    fromOnnx(FIXTURES[0]!); // the message types are built once, before counting
    const r = rand(1313);
    const failures: string[] = [];
    const counts = { cases: 0, refused: 0, accepted: 0 };
    let slowest = 0, worstAllocation = 0;
    const attempt = (label: () => string, bytes: Uint8Array) => {
      counts.cases++;
      const t0 = performance.now();
      const ok = guarded(failures, label, () => {
        const measured = largestAllocation(() => { try { return fromOnnx(bytes); } catch (e) { return e as Error; } });
        worstAllocation = Math.max(worstAllocation, measured.bytes / Math.max(bytes.length, 1));
        if (measured.bytes > bytes.length + 256 && failures.length < 10) failures.push(`${label()}: allocated ${measured.bytes} bytes for an input of ${bytes.length}`);
        if (measured.result instanceof Error) throw measured.result;
        const imported = measured.result;
        const size = Object.values(imported.params).reduce((s, p) => s + p.length, 0);
        if (size > 1e6) return;
        const net = compile(imported.model, { inputs: imported.inputs, batch: 2, optimize: false });
        for (const [k, v] of Object.entries(imported.params)) net.params[k]!.set(v);
        expect(net.predict(new Float32Array(3 * imported.inputs)).length).toBeGreaterThan(0);
      });
      slowest = Math.max(slowest, performance.now() - t0);
      counts[ok ? "accepted" : "refused"]++;
    };
    const reads = countFileReads(() => {
      for (let c = 0; c < 300; c++) attempt(() => `random bytes ${c}`, Uint8Array.from({ length: int(r, 200) }, () => int(r, 256)));
      for (let c = 0; c < 1500; c++) {
        const src = pick(r, FIXTURES);
        const b = r() < 0.5 ? src.slice(0, int(r, src.length)) : src.slice();
        if (b.length === src.length) for (let i = 1 + int(r, 6); i > 0; i--) b[int(r, b.length)] = int(r, 256);
        attempt(() => `bytes case ${c}`, b);
      }
      for (let c = 0; c < 2500; c++) {
        const m = Model.decode(pick(r, FIXTURES)) as unknown as Msg;
        for (let e = 1 + (r() < 0.3 ? int(r, 3) : 0); e > 0; e--) edit(r, m);
        let bytes: Uint8Array;
        try { bytes = Model.encode(m).finish(); } catch { continue; } // an edit protobufjs itself cannot write
        attempt(() => `edited case ${c}`, bytes);
      }
    });
    console.log("ONNX fuzz:", counts, `slowest case ${slowest.toFixed(1)} ms; largest array ${worstAllocation.toFixed(2)}× the input's length`);
    expect(failures).toEqual([]);
    expect(reads).toBe(0);
    expect(counts.cases).toBeGreaterThan(4000);
    expect(counts.accepted).toBeGreaterThan(100); // the edits leave many models valid: the accepted path is exercised
  }, 120_000);

  it("the allocation measure sees the weights fromOnnx reads", () => {
    const { bytes } = largestAllocation(() => fromOnnx(FIXTURES[0]!));
    expect(bytes).toBeGreaterThanOrEqual(16 * 12 * 4); // mlp.onnx's first weight, [16, 12] float32
    expect(bytes).toBeLessThanOrEqual(FIXTURES[0]!.length);
  });

  it("messages nested 100,000 deep, and unknown groups nested 1,000,000 deep, are DecodeErrors", () => {
    expect(() => fromOnnx(nested(100_000))).toThrow(DecodeError);
    expect(() => fromOnnx(new Uint8Array(1_000_000).fill(0x0b))).toThrow(DecodeError); // field 1, start-group, unterminated
    expect(() => fromOnnx("not bytes" as never)).toThrow(DecodeError);
  });

  it("external data is refused by name, never read", () => {
    const m = Model.decode(FIXTURES[0]!) as unknown as { graph: { initializer: Record<string, unknown>[] } };
    Object.assign(m.graph.initializer[0]!, { data_location: 1, raw_data: new Uint8Array(0), external_data: [{ key: "location", value: "/etc/passwd" }] });
    let message = "";
    const reads = countFileReads(() => { try { fromOnnx(Model.encode(m).finish()); } catch (e) { expect(e).toBeInstanceOf(KilnError); message = (e as Error).message; } });
    expect(reads).toBe(0);
    expect(countFileReads(() => fs.readFileSync(new URL("./fixtures/onnx/mlp.onnx", import.meta.url)))).toBeGreaterThan(0); // the counter sees reads
    expect(message).toMatch(/keeps its data in an external file \("\/etc\/passwd"\); kiln reads only the bytes it is given/);
  });
});
