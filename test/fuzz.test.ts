/**
 * Seeded fuzzing of what reads outside files and specs: safetensors bytes (random, and mutations
 * of valid checkpoints: flipped bytes, truncation, wrong header lengths, spliced JSON), deep
 * nesting, and model specs. The only failure allowed is a KilnError with a message; anything
 * accepted must then work: a decoded file loads or is refused without changing the net, a spec
 * round-trips and compiles. IR graphs and hostile names: fuzz-ir.test.ts.
 */
import { describe, expect, it } from "vitest";
import { checkpointBytes, loadCheckpointBytes } from "../src/io/checkpoint.js";
import { decodeSafetensors, encodeSafetensors } from "../src/io/safetensors.js";
import { fromSpec, toSpec } from "../src/spec.js";
import {
  batchNorm, compile, DecodeError, dropout, init, KilnError, layerNorm, linear, relu, residual, seq, type LayerNode, type Net,
} from "../src/index.js";
import { guarded, int, mutateJson, nasty, pick, smallNet, type Rng } from "./helpers/fuzz.js";
import { rand } from "./helpers/run.js";

// ─────────────────────────────── safetensors ───────────────────────────────

const snapshot = (net: Net): string =>
  [...Object.values(net.params), ...Object.values(net.state)].map((a) => Array.from(a as ArrayLike<number | bigint>, String).join(",")).join("|");

const le64 = (n: number): Uint8Array => new Uint8Array(new BigUint64Array([BigInt(Math.max(0, Math.floor(n)))]).buffer);
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};

/** One mutation of a valid safetensors file. */
function mutateFile(r: Rng, valid: Uint8Array): Uint8Array {
  const n = Number(new DataView(valid.buffer, valid.byteOffset).getBigUint64(0, true));
  const header = valid.subarray(8, 8 + n), data = valid.subarray(8 + n);
  switch (int(r, 6)) {
    case 0: { // flip bytes, mostly in the header
      const b = valid.slice();
      for (let i = 1 + int(r, 4); i > 0; i--) b[r() < 0.8 ? 8 + int(r, n) : int(r, b.length)] = int(r, 256);
      return b;
    }
    case 1: return valid.slice(0, int(r, valid.length)); // truncate
    case 2: return concat(valid, Uint8Array.from({ length: 1 + int(r, 16) }, () => int(r, 256))); // extend
    case 3: { // another header length
      const b = valid.slice();
      b.set(le64(pick(r, [0, 1, 2, n - 1, n + 1, n + 8, valid.length, 2 ** 32 + n, 1e8 + 1, 2 ** 52, int(r, 2 * n)])), 0);
      if (r() < 0.2) b[7] = 0xff;
      return b;
    }
    default: { // splice: mutate the header JSON, keep (or trim) the data
      const json = mutateJson(r, JSON.parse(new TextDecoder().decode(header)));
      let text = JSON.stringify(json) ?? "null";
      if (r() < 0.3) text = text.slice(0, int(r, text.length + 1));
      if (r() < 0.7) text += " ".repeat((8 - (new TextEncoder().encode(text).length % 8)) % 8);
      const h = new TextEncoder().encode(text);
      const d = r() < 0.8 ? data : data.subarray(0, int(r, data.length + 1));
      return concat(le64(h.length), h, d);
    }
  }
}

describe("fuzz: decodeSafetensors and loading checkpoints", () => {
  it("random bytes and random-length prefixes are refused with a DecodeError", () => {
    const r = rand(101);
    const failures: string[] = [];
    for (let c = 0; c < 1500; c++) {
      const body = Uint8Array.from({ length: int(r, 120) }, () => (r() < 0.5 ? int(r, 256) : pick(r, [0x7b, 0x7d, 0x22, 0x3a, 0x2c, 0x5b, 0x5d, 0x20, 0x30])));
      const bytes = c % 2 === 0 ? body : concat(le64(int(r, body.length + 4)), body);
      guarded(failures, () => `case ${c} ${Buffer.from(bytes).toString("hex")}`, () => { decodeSafetensors(bytes); });
    }
    expect(failures).toEqual([]);
  });

  it("mutated checkpoints: refused with a KilnError, or decoded consistently; a refused load changes nothing", () => {
    const r = rand(202);
    const failures: string[] = [];
    const net = smallNet();
    net.trainStep(new Float32Array([1, 2, 3, -1, 0.5, 2]), new Int32Array([0, 1]));
    const valid = checkpointBytes(net);
    const extra = encodeSafetensors({ a: new Uint8Array(3), b: new Float32Array(2), c: new BigInt64Array([5n]) }, { a: [3], b: [1, 2], c: [] }, { k: "v" });
    let accepted = 0, loaded = 0;
    for (let c = 0; c < 4000; c++) {
      const bytes = mutateFile(r, c % 4 === 0 ? extra : valid);
      const label = () => `case ${c}: ${new TextDecoder().decode(bytes.subarray(0, 200))}`;
      guarded(failures, label, () => {
        const { tensors } = decodeSafetensors(bytes);
        accepted++;
        for (const [name, t] of tensors) {
          const count = t.shape.reduce((a, b) => a * b, 1);
          if (t.data.length !== count) throw new Error(`tensor ${name}: ${t.data.length} elements for shape [${t.shape}]`);
        }
      });
      const before = snapshot(net);
      const ok = guarded(failures, label, () => loadCheckpointBytes(net, bytes));
      if (ok) loaded++;
      else if (snapshot(net) !== before) failures.push(`${label()}: a refused load changed the net`);
    }
    expect(failures).toEqual([]);
    expect(accepted).toBeGreaterThan(50); // the mutations do reach the decoder's later checks
    expect(loaded).toBeGreaterThan(10);
  }, 30_000);
});

describe("fuzz: deep nesting", () => {
  const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
  const header = (text: string) => concat(le64(new TextEncoder().encode(text).length), new TextEncoder().encode(text));
  it("a safetensors header or a spec nested 200,000 levels deep is a DecodeError, not a stack overflow", () => {
    for (const text of [`{"a":${deep(200_000)}}`, `{"a":{"dtype":"F32","shape":${deep(200_000)},"data_offsets":[0,0]}}`, `{"__metadata__":${deep(200_000)}}`, `{"__metadata__":{"k":${deep(200_000)}}}`]) {
      expect(() => decodeSafetensors(header(text))).toThrow(DecodeError);
    }
    expect(() => fromSpec(JSON.parse(deep(200_000)))).toThrow(DecodeError);
    expect(() => fromSpec({ kind: "linear", in: JSON.parse(deep(200_000)), out: 2 })).toThrow(DecodeError);
  });
});

// ─────────────────────────────── specs ───────────────────────────────

/** A random well-formed model from `inW` features (to `outW` if given), so its spec is valid before mutation. */
function randomModel(r: Rng, inW: number, outW?: number, depth = 0): LayerNode {
  const inits = [init.he(), init.he({ distribution: "uniform", mode: "fanOut" }), init.xavier(), init.normal({ variance: r() }), init.zeros(), init.ones()];
  let width = 1 + int(r, 6);
  const layers: LayerNode[] = [linear(inW, width)];
  for (let i = int(r, 5); i > 0; i--) {
    switch (int(r, depth < 3 ? 7 : 5)) {
      case 0: layers.push(linear(width, width, { bias: r() < 0.7, init: pick(r, inits), biasInit: pick(r, inits) })); break;
      case 1: layers.push(relu); break;
      case 2: layers.push(dropout(pick(r, [0, 0.1, 0.5]))); break;
      case 3: layers.push(layerNorm(width, { eps: pick(r, [1e-5, 1e-3]), affine: r() < 0.5 })); break;
      case 4: layers.push(batchNorm(width, { momentum: pick(r, [0.1, 0, 1]) })); break;
      case 5: layers.push((residual as (f: LayerNode) => LayerNode)(randomModel(r, width, width, depth + 1))); break;
      default: { const w = 1 + int(r, 6); layers.push(randomModel(r, width, w, depth + 1)); width = w; }
    }
  }
  if (outW !== undefined) layers.push(linear(width, outW));
  return (seq as (...ls: LayerNode[]) => LayerNode)(...layers);
}

describe("fuzz: fromSpec", () => {
  it("random and mutated specs: a DecodeError/ModelError, or a model that round-trips (and compiles)", () => {
    const r = rand(303);
    const failures: string[] = [];
    let accepted = 0;
    for (let c = 0; c < 3000; c++) {
      const base = c % 10 === 0 ? nasty(r) : toSpec(randomModel(r, 1 + int(r, 5)));
      const json = c % 10 === 0 ? base : mutateJson(r, JSON.parse(JSON.stringify(base)));
      const label = () => `case ${c}: ${JSON.stringify(json)?.slice(0, 300)}`;
      guarded(failures, label, () => {
        const model = fromSpec(json);
        accepted++;
        const spec = toSpec(model);
        if (JSON.stringify(toSpec(fromSpec(spec))) !== JSON.stringify(spec)) throw new Error("round trip changed the spec");
        if (c % 15 === 1) compile(model, { inputs: 8, batch: 2 }); // sizes may not fit: a ModelError then
      });
    }
    expect(failures).toEqual([]);
    expect(accepted).toBeGreaterThan(300);
  }, 30_000);
});
