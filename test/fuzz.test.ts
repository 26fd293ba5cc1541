/**
 * Seeded fuzzing of everything that reads outside data: safetensors bytes, model specs and IR
 * graphs. Random input and mutations of valid input (flipped bytes, truncation, wrong header
 * lengths, spliced JSON, changed numbers, deleted keys, swapped ops, negative or huge shapes,
 * out-of-range value ids). The only failure allowed is a KilnError with a message; anything
 * accepted must then work: a decoded file loads or is refused without changing the net, a spec
 * round-trips, a graph lowers and runs.
 *
 * Also: names from files, specs and graphs are data — they never reach generated code.
 */
import { describe, expect, it } from "vitest";
import { lower } from "../compiler/lower.js";
import { Executor } from "../runtime/executor.js";
import { checkpointBytes, loadCheckpointBytes } from "../src/io/checkpoint.js";
import { decodeSafetensors, encodeSafetensors } from "../src/io/safetensors.js";
import { fromSpec, toSpec } from "../src/spec.js";
import {
  batchNorm, compile, decodeGraph, DecodeError, dropout, encodeGraph, init, KilnError, layerNorm, linear, relu, residual, seq, sgd,
  type Graph, type LayerNode, type Net,
} from "../src/index.js";
import { rand } from "./helpers/run.js";

type Rng = () => number;
const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, a: readonly T[]): T => a[int(r, a.length)]!;

/** Run `f`; a KilnError with a message is fine, anything else is recorded as a failure. */
function guarded(failures: string[], label: () => string, f: () => void): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (!(e instanceof KilnError) || e.message.trim() === "") {
      if (failures.length < 10) failures.push(`${label()}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    }
    return false;
  }
}

// ─────────────────────────────── JSON mutation ───────────────────────────────

const EVIL = '"); globalThis.__kilnPwned = 1; ("';
const nasty = (r: Rng): unknown => pick<() => unknown>(r, [
  () => 0, () => -0, () => -1, () => 1, () => 2, () => 3, () => 1.5, () => 2 ** 31, () => 2 ** 53 + 2, () => 1e300, () => -1e300,
  () => Infinity, () => NaN, () => "", () => "x", () => EVIL, () => null, () => true, () => [], () => ({}), () => [1], () => [-1],
  () => [0, 1], () => [2, 3], () => [1e9, 1e9], () => [2 ** 28, 2], () => JSON.parse('{"__proto__": {"kind": "relu"}}'),
  () => pick(r, ["relu", "linear", "seq", "residual", "he", "zeros", "add", "matmul", "fused_elementwise", "F32", "I64", "f32", "i32", "param", "state"]),
])();

function spots(v: unknown, out: [Record<string, unknown> | unknown[], string][] = []): typeof out {
  if (v !== null && typeof v === "object") {
    for (const k of Object.keys(v)) {
      out.push([v as Record<string, unknown>, k]);
      spots((v as Record<string, unknown>)[k], out);
    }
  }
  return out;
}

/** Apply 1–4 random edits to a JSON tree in place (and return it: the root may be replaced). */
function mutateJson(r: Rng, root: unknown): unknown {
  const edits = r() < 0.7 ? 1 : 1 + int(r, 4);
  for (let e = 0; e < edits; e++) {
    const s = spots(root);
    if (s.length === 0 || r() < 0.02) return nasty(r);
    const [obj, key] = pick(r, s);
    const cur = (obj as Record<string, unknown>)[key];
    const arr = Array.isArray(obj);
    switch (int(r, 8)) {
      case 0: if (arr) obj.splice(Number(key), 1); else delete (obj as Record<string, unknown>)[key]; break;
      case 1: (obj as Record<string, unknown>)[key] = typeof cur === "number" ? cur + pick(r, [-2, -1, 1, 2, 100, -cur - 1]) : nasty(r); break;
      case 2: if (arr) obj.splice(Number(key), 0, structuredClone(cur)); else (obj as Record<string, unknown>)[`${key}_`] = cur; break;
      case 3: if (arr && obj.length > 1) { const j = int(r, obj.length); [obj[Number(key)], obj[j]] = [obj[j], obj[Number(key)]]; } break;
      case 4: { const [o2, k2] = pick(r, s); (obj as Record<string, unknown>)[key] = structuredClone((o2 as Record<string, unknown>)[k2]); break; }
      default: (obj as Record<string, unknown>)[key] = nasty(r);
    }
  }
  return root;
}

// ─────────────────────────────── safetensors ───────────────────────────────

const smallNet = (): Net => compile(seq(linear(3, 4), batchNorm(4), relu, linear(4, 2)), { inputs: 3, batch: 2 });
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

// ─────────────────────────────── IR graphs ───────────────────────────────

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

const fuzzModel = () => seq(linear(4, 6), layerNorm(6), relu, dropout(0.2), residual(seq(linear(6, 6), batchNorm(6))), linear(6, 3));
const fuzzNet = () => compile(fuzzModel(), { inputs: 4, batch: 3, optimizer: sgd({ lr: 0.1, momentum: 0.9 }) });

describe("fuzz: decodeGraph, then lower and run what it accepts", () => {
  it("mutated IR graphs (train, eval, forward, backward): a DecodeError, or a graph that lowers and runs", () => {
    const net = fuzzNet();
    const graphs = [net.ir.train, net.ir.eval, net.ir.forward, net.ir.backward].map((g) => JSON.stringify(encodeGraph(g)));
    const r = rand(404);
    const failures: string[] = [];
    let accepted = 0, ran = 0;
    for (let c = 0; c < 2500; c++) {
      const json = mutateJson(r, JSON.parse(pick(r, graphs)));
      const label = () => `case ${c}`;
      let g: Graph | undefined;
      guarded(failures, label, () => { g = decodeGraph(json); });
      if (g === undefined) continue;
      accepted++;
      if (g.values.reduce((a, v) => a + size(v.shape), 0) > 200_000) continue; // keep each run cheap
      const graph = g;
      if (guarded(failures, label, () => new Executor(lower(graph)).run())) ran++;
    }
    expect(failures).toEqual([]);
    expect(accepted).toBeGreaterThan(100);
    expect(ran).toBeGreaterThan(100);
  }, 30_000);

  it("random JSON is refused with a DecodeError", () => {
    const r = rand(505);
    const failures: string[] = [];
    for (let c = 0; c < 1500; c++) {
      const json = { values: [nasty(r), { shape: nasty(r), dtype: "f32" }], inputs: [{ name: nasty(r), kind: nasty(r), value: nasty(r) }], nodes: [{ op: nasty(r), inputs: [nasty(r)], outputs: nasty(r), attrs: nasty(r) }], outputs: nasty(r) };
      const candidate = c % 3 === 0 ? nasty(r) : mutateJson(r, json);
      guarded(failures, () => `case ${c}: ${JSON.stringify(candidate)?.slice(0, 300)}`, () => { decodeGraph(candidate); });
    }
    expect(failures).toEqual([]);
  });
});

// Bugs the fuzzer once found in compiler/ and runtime/, kept as regression tests.
describe("regressions found by fuzzing (compiler/, runtime/)", () => {
  const train = () => JSON.parse(JSON.stringify(encodeGraph(compile(seq(linear(4, 6), relu, linear(6, 3)), { inputs: 4, batch: 3 }).ir.train)));
  const fusedEval = () => {
    const g = JSON.parse(JSON.stringify(encodeGraph(fuzzNet().ir.eval)));
    const node = g.nodes.find((n: { op: string }) => n.op === "fused_elementwise");
    return { g, node };
  };
  /** Decode, lower and run: a KilnError is an acceptable refusal; the bug is anything else, or silence. */
  const refusedCleanly = (json: unknown): boolean => {
    try {
      new Executor(lower(decodeGraph(json))).run();
      return false; // accepted and ran
    } catch (e) {
      return e instanceof KilnError;
    }
  };

  it("checkGraph lets an update output of another type through: a param updated from a scalar is silently written in part", () => {
    const g = train();
    const loss = g.outputs.find((o: { kind: string }) => o.kind === "loss");
    g.outputs.find((o: { kind: string; name: string }) => o.kind === "param" && o.name === "0.bias").value = loss.value; // f32[] into f32[6]
    expect(refusedCleanly(g)).toBe(true);
  });

  it("checkGraph lets an update output of a larger type through: Executor.run throws a RangeError", () => {
    const g = JSON.parse(JSON.stringify(encodeGraph(fuzzNet().ir.forward)));
    const state = g.outputs.find((o: { kind: string }) => o.kind === "state");
    state.value = g.outputs.find((o: { kind: string }) => o.kind === "logits").value; // f32[3,3] into f32[6]
    expect(refusedCleanly(g)).toBe(true);
  });

  it("fused_elementwise: a slot written -0 (valid JSON) passes the shape rule and generates `in-0` (SyntaxError)", () => {
    const { g, node } = fusedEval();
    node.attrs.outputs[0] = -0;
    expect(refusedCleanly(g)).toBe(true);
  });

  it("report() falls back to String(value), which overflows the stack on a deeply nested array: decodeGraph throws RangeError", () => {
    const deep = JSON.parse("[".repeat(20_000) + "]".repeat(20_000));
    expect(refusedCleanly(deep)).toBe(true);
    expect(refusedCleanly({ values: [], inputs: [], nodes: [], outputs: [deep] })).toBe(true);
  });

  it("fused_elementwise: a non-finite number (JSON 1e999) passes decodeGraph; lowering throws a plain Error", () => {
    const g = JSON.parse(JSON.stringify(encodeGraph(fuzzNet().ir.train)));
    const node = g.nodes.find((n: { op: string; attrs: { code?: { op: string }[] } }) => n.op === "fused_elementwise" && n.attrs.code!.some((c) => c.op === "const"));
    node.attrs.code.find((c: { op: string }) => c.op === "const").num[0] = JSON.parse("1e999");
    expect(refusedCleanly(g)).toBe(true);
  });
});

// ─────────────────────────────── names are data ───────────────────────────────

describe("names from files, specs and graphs never reach generated code", () => {
  const names = [EVIL, "\"); process.exit(1); (\"", "`${process.exit(1)}`", "*/ process.exit(1) /*", "\n}; process.exit(1); {", "__proto__", "constructor"];

  /** Record every source given to the Function constructor while `f` runs. */
  function sourcesDuring(f: () => void): string[] {
    const original = globalThis.Function;
    const seen: string[] = [];
    globalThis.Function = new Proxy(original, {
      construct(target, args: string[]) { seen.push(args.join("\n")); return Reflect.construct(target, args); },
      apply(target, self, args: string[]) { seen.push(args.join("\n")); return Reflect.apply(target, self, args); },
    });
    try { f(); } finally { globalThis.Function = original; }
    return seen;
  }

  it("checkpoint tensor names: listed (quoted) as unexpected, never evaluated", () => {
    const net = smallNet();
    const good = decodeSafetensors(checkpointBytes(net)).tensors;
    const arrays = new Map([...good].map(([k, v]) => [k, v.data]));
    const shapes = new Map([...good].map(([k, v]) => [k, v.shape]));
    for (const n of names) { arrays.set(n, new Float32Array(1)); shapes.set(n, [1]); }
    const bytes = encodeSafetensors(arrays, shapes, { [EVIL]: EVIL });
    const back = decodeSafetensors(bytes);
    expect([...back.tensors.keys()].filter((k) => names.includes(k)).sort()).toEqual([...names].sort());
    expect(back.metadata.get(EVIL)).toBe(EVIL);
    let error: Error | undefined;
    const sources = sourcesDuring(() => { try { loadCheckpointBytes(net, bytes); } catch (e) { error = e as Error; } });
    expect(error).toBeInstanceOf(DecodeError);
    expect(error!.message).toContain(JSON.stringify(EVIL));
    expect(sources.some((s) => names.some((n) => s.includes(n)))).toBe(false);
    expect((globalThis as { __kilnPwned?: number }).__kilnPwned).toBeUndefined();
  });

  it("spec kinds and keys: refused by the codec", () => {
    for (const n of names) {
      expect(() => fromSpec({ kind: n })).toThrow(DecodeError);
      expect(() => fromSpec({ kind: "relu", [n]: 1 })).toThrow(DecodeError);
      expect(() => fromSpec({ kind: "linear", in: 2, out: 2, init: { kind: n } })).toThrow(DecodeError);
    }
    expect((globalThis as { __kilnPwned?: number }).__kilnPwned).toBeUndefined();
  });

  it("graph input and output names: carried as data through decode, lowering, generated kernels and a run", () => {
    const net = compile(seq(linear(5, 7), layerNorm(7), relu, dropout(0.3), linear(7, 2)), { inputs: 5, batch: 3, seed: 99 });
    const g = JSON.parse(JSON.stringify(encodeGraph(net.ir.train))) as { inputs: { name: string }[]; outputs: { name: string }[]; nodes: { op: string }[] };
    expect(g.nodes.some((n) => n.op === "fused_elementwise")).toBe(true); // generated kernels are involved
    g.inputs.forEach((i, k) => { i.name = `${names[k % names.length]}#${k}`; });
    g.outputs.forEach((o, k) => { o.name = `${names[k % names.length]}@${k}`; });
    const leaks = (s: string) => names.some((n) => s.includes(n)) || /#\d|@\d/.test(s);
    let exec: Executor | undefined;
    const sources = sourcesDuring(() => {
      const program = lower(decodeGraph(g));
      // The generated kernels of this graph (the runtime may have compiled equal sources before).
      const generated = program.steps.flatMap((s) => ((s as { source?: string }).source === undefined ? [] : [(s as { source: string }).source]));
      expect(generated.length).toBeGreaterThan(0);
      expect(generated.some(leaks)).toBe(false);
      exec = new Executor(program);
      exec.run();
    });
    expect(sources.some(leaks)).toBe(false);
    expect(exec!.output(`${names[0]}@0`)).toBeDefined();
    expect((globalThis as { __kilnPwned?: number }).__kilnPwned).toBeUndefined();
  });
});
