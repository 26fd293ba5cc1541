/**
 * Seeded fuzzing of the IR decoder (mutated train/eval/forward/backward graphs and random JSON: a
 * DecodeError, or a graph that lowers and runs), regressions fuzzing found, and the proof that
 * names from files, specs and graphs are data that never reach generated code.
 */
import { describe, expect, it } from "vitest";
import { lower } from "../compiler/lower.js";
import { Executor } from "../runtime/executor.js";
import { checkpointBytes, loadCheckpointBytes } from "../src/io/checkpoint.js";
import { decodeSafetensors, encodeSafetensors } from "../src/io/safetensors.js";
import { fromSpec } from "../src/spec.js";
import {
  batchNorm, compile, decodeGraph, DecodeError, dropout, encodeGraph, KilnError, layerNorm, linear, relu, residual, seq, sgd,
  type Graph,
} from "../src/index.js";
import { EVIL, guarded, mutateJson, nasty, pick, smallNet } from "./helpers/fuzz.js";
import { rand } from "./helpers/run.js";

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
