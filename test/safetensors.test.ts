/**
 * The safetensors format: the bytes against the reference implementation's own test vectors, and
 * every kind of malformed file refused with a DecodeError naming the tensor. Checkpoints (model
 * state dicts, optimizer state, atomic saves) are in checkpoint.test.ts.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors } from "../src/io/safetensors.js";
import { DecodeError, InputError } from "../src/index.js";

const bytesOf = (...parts: (number[] | string | Uint8Array)[]): Uint8Array => {
  const chunks = parts.map((p) => (typeof p === "string" ? new TextEncoder().encode(p) : Uint8Array.from(p)));
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
};
const u64 = (n: number): number[] => [...new Uint8Array(new BigUint64Array([BigInt(n)]).buffer)];
/** A file with the given header text (unpadded unless the text is) and data bytes. */
const file = (header: string, data: number[] = []): Uint8Array => bytesOf(u64(new TextEncoder().encode(header).length), header, data);
const info = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });
const fileOf = (header: object, data: number[] = []) => file(JSON.stringify(header), data);

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
/** How much more heap is in use while what `f` returns is still held, from a collected start. */
function heapGrowth(f: () => unknown): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const held = f();
  const grown = process.memoryUsage().heapUsed - before;
  void held;
  return grown;
}

describe("safetensors bytes, as the reference writes them", () => {
  it("matches the reference's test vectors (tensor; empty; metadata only)", () => {
    // huggingface/safetensors safetensors/src/tensor.rs: test_serialization, test_empty
    const data = new Float32Array([0, 1, 2, 3, 4, 5]);
    expect([...encodeSafetensors({ "attn.0": data }, { "attn.0": [1, 2, 3] })]).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
      116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
      58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
      101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
      0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
    expect([...encodeSafetensors({}, {})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect([...encodeSafetensors({}, {}, { framework: "pt" })]).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
      95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
      116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
    // test_serialization_forced_alignement: the header is padded with spaces to 8 bytes.
    const padded = encodeSafetensors({ attn0: data }, { attn0: [1, 1, 2, 3] });
    expect(new DataView(padded.buffer).getUint32(0, true)).toBe(72);
    expect(new TextDecoder().decode(padded.subarray(8, 80))).toMatch(/\}\} {7}$/);
  });

  it("orders tensors by dtype (widest first), then by name in code-point order, packed without gaps", () => {
    const bytes = encodeSafetensors(
      { b: new Float32Array(1), "10": new Float32Array(1), "9": new Float32Array(1), a: new Float64Array(2), n: new BigInt64Array(1), i: new Int8Array(3), "\u{1F600}": new Float32Array(1), "\uFFFD": new Float32Array(1) },
      { b: [1], "10": [1], "9": [1], a: [2], n: [], i: [3], "\u{1F600}": [1], "\uFFFD": [1] },
    );
    const n = new DataView(bytes.buffer).getUint32(0, true);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    const names = [...text.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
    // I64 > F64 > F32 > I8; within F32 "10" < "9" < "b" < U+FFFD < U+1F600 (UTF-16 order would swap the last two).
    expect(names).toEqual(["n", "a", "10", "9", "b", "\uFFFD", "\u{1F600}", "i"]);
    const { tensors } = decodeSafetensors(bytes);
    expect([...tensors.keys()]).toEqual(names);
    expect(tensors.get("i")!.data).toBeInstanceOf(Int8Array);
  });

  it("round-trips every writable dtype, shape [] and zero-size tensors, bit for bit", () => {
    const arrays = {
      f32: new Float32Array([1.5, -0, NaN, Infinity, 1e-45]), f64: new Float64Array([Math.PI, -1e308]),
      i64: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]), u64: new BigUint64Array([2n ** 64n - 1n]),
      i32: new Int32Array([-5, 7]), u32: new Uint32Array([4e9]), i16: new Int16Array([-3]), u16: new Uint16Array([65535]),
      i8: new Int8Array([-128]), u8: new Uint8Array([255, 0]), scalar: new BigInt64Array([42n]), empty: new Float32Array(0),
    };
    const shapes = { f32: [5], f64: [2, 1], i64: [2], u64: [1], i32: [1, 2], u32: [1], i16: [1], u16: [1], i8: [1], u8: [2], scalar: [], empty: [0, 3] };
    const { tensors, metadata } = decodeSafetensors(encodeSafetensors(arrays, shapes, { note: "ünïcode" }));
    expect(metadata.get("note")).toBe("ünïcode");
    for (const [name, a] of Object.entries(arrays)) {
      const t = tensors.get(name)!;
      expect(t.shape).toEqual(shapes[name as keyof typeof shapes]);
      expect(t.data.constructor).toBe(a.constructor);
      expect(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)).toEqual(new Uint8Array(a.buffer));
    }
  });

  it("reads unaligned data: a F32 tensor at an odd offset, and a file at an odd byte offset of its buffer", () => {
    const header = JSON.stringify({ a: info("U8", [3], 0, 3), w: info("F32", [2], 3, 11) });
    const f32 = [...new Uint8Array(new Float32Array([1.25, -7]).buffer)];
    const bytes = file(header, [1, 2, 3, ...f32]);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    for (const b of [bytes, shifted.subarray(1), Buffer.from(shifted.buffer, 1, bytes.length)]) {
      const { tensors } = decodeSafetensors(b);
      expect([...(tensors.get("w")!.data as Float32Array)]).toEqual([1.25, -7]);
      expect(tensors.get("w")!.data.byteOffset).toBe(0); // a copy, never a view of the file
    }
  });

  it("widens F16 and BF16 to float32 exactly", () => {
    const half = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x3555];
    const bf16 = [0x3f80, 0xc049, 0x0001];
    const le = (xs: number[]) => xs.flatMap((x) => [x & 0xff, x >> 8]);
    const { tensors } = decodeSafetensors(fileOf({ h: info("F16", [7], 0, 14), b: info("BF16", [3], 14, 20) }, [...le(half), ...le(bf16)]));
    expect(tensors.get("h")!.dtype).toBe("F16");
    expect([...tensors.get("h")!.data as Float32Array]).toEqual([1, -2, 65504, 2 ** -24, -0, Infinity, Math.fround(0.333251953125)]);
    expect([...tensors.get("b")!.data as Float32Array]).toEqual([1, Math.fround(-3.140625), new Float32Array(new Uint32Array([0x10000]).buffer)[0]]);
  });

  it("refuses bad writer arguments with an InputError", () => {
    expect(() => encodeSafetensors({ a: new Float32Array(3) }, { a: [2, 2] })).toThrow(/tensor "a": shape \[2,2\] has 4 elements, but the array has 3/);
    expect(() => encodeSafetensors({ a: new Float32Array(3) }, {})).toThrow(/expected a shape/);
    expect(() => encodeSafetensors({ a: [1, 2] as unknown as Float32Array }, { a: [2] })).toThrow(/expected a typed array/);
    expect(() => encodeSafetensors({ __metadata__: new Float32Array(1) }, { __metadata__: [1] })).toThrow(/reserved/);
    expect(() => encodeSafetensors({ "\ud800": new Float32Array(1) }, { "\ud800": [1] })).toThrow(/lone surrogate/);
    // The metadata message said "expected a (valid UTF-8) string, got string", naming no problem.
    const w = { w: new Float32Array(1) }, shape = { w: [1] };
    expect(() => encodeSafetensors(w, shape, { k: "a\ud800" })).toThrow('metadata "k": expected a string that is valid Unicode (UTF-8), got one with a lone surrogate');
    expect(() => encodeSafetensors(w, shape, { "\udc00": "v" })).toThrow(String.raw`metadata "\udc00": expected a key that is valid Unicode (UTF-8), got one with a lone surrogate`);
    expect(() => encodeSafetensors(w, shape, { k: null as never })).toThrow('metadata "k": expected a string, got null');
    // null arguments were TypeErrors; a Map keyed by a number wrote a header that is not JSON
    expect(() => encodeSafetensors(null as never, {})).toThrow(/expected tensors as an object or a Map, got null/);
    expect(() => encodeSafetensors({}, {}, null as never)).toThrow(/expected metadata as an object or a Map, got null/);
    const byNumber = new Map([[5 as unknown as string, new Float32Array(1)]]);
    expect(() => encodeSafetensors(byNumber, new Map([["5", [1]]]))).toThrow(InputError);
    expect(() => encodeSafetensors(byNumber, new Map([["5", [1]]]))).toThrow(/expected tensors named by strings, got the number key 5/);
    expect(() => encodeSafetensors({}, {}, new Map([[1 as unknown as string, "x"]]))).toThrow(/expected metadata named by strings/);
  });
});

describe("malformed files are refused with a DecodeError naming the tensor", () => {
  const ok = { a: info("F32", [2], 0, 8), b: info("I64", [], 8, 16) };
  const data = Array.from({ length: 16 }, () => 0);
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", Uint8Array.from([1, 0, 0]), /3 bytes; expected at least 8/],
    ["header length beyond the file", bytesOf(u64(100), "{}"), /header length 100: expected at most 2/],
    ["header length over 100 MB", bytesOf(u64(100_000_001), "{}"), /expected at most 100000000/],
    ["header length over 2^32", bytesOf([0, 0, 0, 0, 1, 0, 0, 0], "{}"), /expected at most 100000000/],
    ["header length below 2", bytesOf(u64(1), "{}"), /expected at least 2/],
    ["not UTF-8", bytesOf(u64(4), [0x7b, 0xff, 0xfe, 0x7d]), /UTF-8/],
    ["not JSON", file("{\"a\":"), /expected JSON/],
    ["not an object", file("[1,2]"), /starting with "\{"/],
    ["null", file("null "), /starting with "\{"/],
    ["unknown dtype", fileOf({ a: info("F8_E4M3", [2], 0, 2) }, [0, 0]), /tensor "a": dtype: expected one of .*F32.*, got "F8_E4M3"/],
    ["negative dimension", fileOf({ a: info("F32", [-2], 0, 8) }, data.slice(0, 8)), /tensor "a": shape\[0\]: expected non-negative integer, got -2/],
    ["fractional dimension", fileOf({ a: info("F32", [1.5], 0, 8) }, data.slice(0, 8)), /tensor "a": shape\[0\]/],
    ["extra key", fileOf({ a: { ...info("F32", [2], 0, 8), name: "x" } }, data.slice(0, 8)), /tensor "a": name: expected no such field/],
    ["missing key", fileOf({ a: { dtype: "F32", shape: [2] } }, data.slice(0, 8)), /tensor "a": data_offsets: expected \[begin, end\]/],
    ["three offsets", fileOf({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8, 9] } }, data.slice(0, 8)), /tensor "a": data_offsets/],
    ["not an object entry", fileOf({ a: 5 }), /tensor "a": expected \{ dtype, shape, data_offsets \}, got 5/],
    ["size mismatch", fileOf({ a: info("F32", [3], 0, 8) }, data.slice(0, 8)), /tensor "a": F32 \[3\] needs 12 bytes, but data_offsets \[0, 8\] span 8/],
    ["end before begin", fileOf({ a: info("F32", [0], 8, 0) }, data.slice(0, 8)), /tensor "a": data_offsets \[8, 0\] end before they begin/],
    ["past the data region", fileOf({ a: info("F32", [4], 0, 16) }, data.slice(0, 8)), /tensor "a": data_offsets \[0, 16\] go past the data region of 8 bytes/],
    ["overlap", fileOf({ a: info("F32", [2], 0, 8), b: info("F32", [2], 4, 12) }, data.slice(0, 12)), /tensor "b": data \[4, 12\] overlaps tensor "a"/],
    ["gap", fileOf({ a: info("F32", [1], 0, 4), b: info("F32", [1], 8, 12) }, data.slice(0, 12)), /tensor "b": data begins at 8, leaving a gap of 4 bytes after tensor "a"/],
    ["gap at the start", fileOf({ a: info("F32", [1], 4, 8) }, data.slice(0, 8)), /tensor "a": data begins at 4, leaving a gap of 4 bytes after the data region start/],
    ["trailing bytes", fileOf(ok, [...data, 0]), /cover 16 bytes of the data region, but it has 17/],
    ["duplicate names", file(`{"a":${JSON.stringify(info("F32", [1], 0, 4))},"a":${JSON.stringify(info("F32", [1], 4, 8))}}`, data.slice(0, 8)), /key "a" appears twice/],
    ["duplicate names (escaped)", file(`{"a":${JSON.stringify(info("F32", [1], 0, 4))},"\\u0061":${JSON.stringify(info("F32", [1], 4, 8))}}`, data.slice(0, 8)), /key "a" appears twice/],
    ["duplicate field", file('{"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}', data.slice(0, 4)), /key "dtype" appears twice/],
    ["10¹² elements", fileOf({ a: info("F32", [1_000_000, 1_000_000], 0, 4e12) }, data.slice(0, 8)), /tensor "a": data_offsets \[0, 4000000000000\] go past the data region of 8 bytes/],
    ["element count overflow", fileOf({ a: info("F32", [2 ** 40, 2 ** 40], 0, 8) }, data.slice(0, 8)), /tensor "a": shape \[.*\] has too many elements/],
    ["offset beyond 2^53", file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999]}}', data.slice(0, 8)), /tensor "a": data_offsets/],
    ["metadata not strings", fileOf({ __metadata__: { a: 1 } }), /__metadata__."a": expected a string, got 1/],
    ["metadata not an object", fileOf({ __metadata__: "x" }), /__metadata__: expected an object of strings/],
    ["BOOL not 0/1", fileOf({ a: info("BOOL", [2], 0, 2) }, [1, 2]), /tensor "a": BOOL element 1 is 2/],
  ];
  for (const [name, bytes, message] of cases) {
    it(name, () => {
      let error: unknown;
      try { decodeSafetensors(bytes); } catch (e) { error = e; }
      expect(error).toBeInstanceOf(DecodeError);
      expect((error as Error).message).toMatch(message);
    });
  }

  // io-ts built an error object (~500 bytes with its path) per bad shape entry or unknown key, and
  // report() a line for each, before the message kept five: a 15 MB header of 5·10⁶ took 2.8 GB
  // and 15 s, and 12·10⁶ ran out of heap. Now only the five shown are built; the rest are counted.
  const many = 200_000;
  const five = (line: (i: number) => string) => [0, 1, 2, 3, 4].map(line).join("; ");
  it.each([
    ["shape entries", `"shape":[${new Array(many).fill(-1).join(",")}],"data_offsets":[0,0]`,
      five((i) => `shape[${i}]: expected non-negative integer, got -1`)],
    ["unknown keys", `"shape":[0],"data_offsets":[0,0],${Array.from({ length: many }, (_, i) => `"k${i}":${i}`).join(",")}`,
      five((i) => `k${i}: expected no such field (allowed: dtype, shape, data_offsets), got ${i}`)],
  ])("200,000 bad %s are refused naming the first five, at the cost of reading the header", (_what, fields, shown) => {
    const header = `{"t":{"dtype":"F32",${fields}}}`;
    let error: unknown;
    const refusing = heapGrowth(() => { try { decodeSafetensors(file(header)); } catch (e) { error = e; } });
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as Error).message).toBe(`invalid safetensors file: tensor "t": ${shown}; … and ${many - 5} more`);
    // Parsing the JSON is the floor (24 MB for the keys: V8's dictionary of them). Over it, the
    // refusal takes ~10 MB (shape) and ~20 MB (keys: the duplicate-key check's Set); with an
    // error object per entry it took 90-120 MB and 130 MB.
    const parsing = heapGrowth(() => JSON.parse(header));
    expect(refusing - parsing).toBeLessThan(50e6);
  });

  it("a shape of any rank still reads: the check has no cap on rank", () => {
    const { tensors } = decodeSafetensors(file(`{"t":{"dtype":"F32","shape":[${new Array(many).fill(1).join(",")}],"data_offsets":[0,4]}}`, [0, 0, 128, 63]));
    expect(tensors.get("t")!.shape).toEqual(new Array(many).fill(1));
    expect([...(tensors.get("t")!.data as Float32Array)]).toEqual([1]);
  });

  it("a valid header with a __proto__ tensor is data, not a prototype", () => {
    const { tensors } = decodeSafetensors(file(`{"__proto__":${JSON.stringify(info("F32", [1], 0, 4))}}`, [0, 0, 128, 63]));
    expect([...(tensors.get("__proto__")!.data as Float32Array)]).toEqual([1]);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it("__metadata__: null is no metadata (the reference reads an Option)", () => {
    expect(decodeSafetensors(fileOf({ __metadata__: null })).metadata.size).toBe(0);
  });

  it("names a tensor or metadata string that is a lone surrogate, which has no UTF-8 form", () => {
    // JSON escapes can write one; the reference reader refuses it and the writer cannot write it back.
    const entry = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    for (const [header, message] of [
      [String.raw`{"\ud800":${entry}}`, String.raw`tensor "\ud800": expected a name that is valid Unicode (UTF-8), got one with a lone surrogate`],
      [String.raw`{"__metadata__":{"\udfffk":"v"},"w":${entry}}`, String.raw`__metadata__."\udfffk": expected a key that is valid Unicode (UTF-8), got one with a lone surrogate`],
      [String.raw`{"__metadata__":{"format":"a\udfff"},"w":${entry}}`, `__metadata__."format": expected a string that is valid Unicode (UTF-8), got one with a lone surrogate`],
    ] as const) {
      expect(() => decodeSafetensors(file(header, [0, 0, 0, 0]))).toThrow(DecodeError);
      expect(() => decodeSafetensors(file(header, [0, 0, 0, 0]))).toThrow(message);
    }
    // A pair written as two escapes is one code point, and reads.
    const pair = decodeSafetensors(file(String.raw`{"\ud83d\ude00":${entry}}`, [0, 0, 0, 0]));
    expect([...pair.tensors.keys()]).toEqual(["\u{1f600}"]);
  });

  it("refuses non-Uint8Array input", () => {
    expect(() => decodeSafetensors("abc" as unknown as Uint8Array)).toThrow(DecodeError);
  });
});
