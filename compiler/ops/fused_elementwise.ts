/**
 * A chain of elementwise primitives as ONE loop over its output domain: the fusion pass builds
 * it, and lowering generates a JavaScript kernel with the shapes and constants inlined.
 *
 * `code` is SSA over slots: slots 0…k−1 are the node's inputs, slot k + j is the result of
 * code[j]. Inputs broadcast to `shape` (read through strides, 0 along broadcast dimensions).
 * `mask` recomputes the dropout mask inside the loop from the counter-based RNG, so it is never
 * materialized: num = [p, seed, stream] and its one arg is the int32 step input.
 *
 * Lowering emits both a JavaScript source (reference programs, float64 gradient checks) and a
 * WebAssembly SIMD module (runtime/wasm/fused.ts) that planned programs run in their arena.
 */
import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { FUSED_DTYPE, FUSED_OP, emitFusedElementwise, type FusedSpec } from "../../runtime/wasm/fused.js";
import { size, type ValueType } from "../ir/types.js";
import { broadcastStrides, defineMultiOp, shapeError, type Lowered } from "./def.js";

export const ElementOp = t.keyof({
  neg: null, exp: null, log: null, relu: null, step: null, sqrt: null, rsqrt: null,
  add: null, sub: null, mul: null, div: null, const: null, mask: null,
});
export type ElementOp = t.TypeOf<typeof ElementOp>;
const Instr = closed({ op: ElementOp, args: t.array(t.number), num: t.array(t.number) });
export type ElementInstr = t.TypeOf<typeof Instr>;
const Attrs = closed({ shape: t.array(t.number), code: t.array(Instr), outputs: t.array(t.number) });
export type FusedElementwiseAttrs = t.TypeOf<typeof Attrs>;

const ARITY: Record<ElementOp, number> = {
  neg: 1, exp: 1, log: 1, relu: 1, step: 1, sqrt: 1, rsqrt: 1, add: 2, sub: 2, mul: 2, div: 2, const: 0, mask: 1,
};

/** Only numbers reach generated source: anything else is a compiler bug, refused loudly. */
function num(x: number): string {
  if (typeof x !== "number" || !Number.isFinite(x)) throw new Error(`codegen: not a finite number: ${String(x)}`);
  return Object.is(x, -0) ? "-0" : String(x);
}

const EXPR: Record<Exclude<ElementOp, "const" | "mask">, (a: string, b: string) => string> = {
  neg: (a) => `-${a}`, exp: (a) => `Math.exp(${a})`, log: (a) => `Math.log(${a})`,
  relu: (a) => `(${a} > 0 ? ${a} : 0)`, step: (a) => `(${a} > 0 ? 1 : 0)`,
  sqrt: (a) => `Math.sqrt(${a})`, rsqrt: (a) => `(1 / Math.sqrt(${a}))`,
  add: (a, b) => `${a} + ${b}`, sub: (a, b) => `${a} - ${b}`, mul: (a, b) => `${a} * ${b}`, div: (a, b) => `${a} / ${b}`,
};

/** The kernel source: nested loops over the domain, loads through strides, stores at the end. */
export function elementwiseSource(a: FusedElementwiseAttrs, inShapes: readonly (readonly number[])[]): string {
  const rank = a.shape.length, k = inShapes.length;
  const strides = inShapes.map((s) => broadcastStrides(s, a.shape));
  // Same element count as the domain (and broadcastable to it): the same flat index.
  const full = inShapes.map((s) => size(s) === size(a.shape));
  const lines: string[] = [];
  inShapes.forEach((_s, j) => lines.push(`const in${num(j)} = bufs[${num(j)}];`));
  a.outputs.forEach((_o, j) => lines.push(`const out${num(j)} = bufs[${num(k + j)}];`));
  // Each mask keeps its own current Philox block (four draws) while the loop walks elements.
  a.code.forEach((c, j) => { if (c.op === "mask") lines.push(`const word${num(j)} = new Uint32Array(4); let block${num(j)} = -1;`); });
  // Scalars are loaded once; every other input is read at its strided offset.
  const load = (j: number): string => {
    if (size(inShapes[j]!) === 1) return `s${num(j)}`;
    if (full[j]) return `in${num(j)}[i]`;
    const terms = strides[j]!.map((st, d) => (st === 0 ? "" : `d${num(d)} * ${num(st)}`)).filter(Boolean);
    return `in${num(j)}[${terms.join(" + ") || "0"}]`;
  };
  inShapes.forEach((s, j) => { if (size(s) === 1) lines.push(`const s${num(j)} = in${num(j)}[0];`); });
  lines.push("let i = 0;");
  a.shape.forEach((d, dim) => lines.push(`${"  ".repeat(dim)}for (let d${num(dim)} = 0; d${num(dim)} < ${num(d)}; d${num(dim)}++) {`));
  const pad = "  ".repeat(rank);
  const slot = (s: number) => (s < k ? load(s) : `t${num(s)}`);
  a.code.forEach((c, j) => {
    const out = `t${num(k + j)}`;
    if (c.op === "const") lines.push(`${pad}const ${out} = ${num(c.num[0]!)};`);
    else if (c.op === "mask") {
      const [p, seed, stream] = c.num as [number, number, number];
      const w = `word${num(j)}`, blk = `block${num(j)}`;
      lines.push(`${pad}if ((i >>> 2) !== ${blk}) { ${blk} = i >>> 2; philox(${blk}, ${slot(c.args[0]!)} >>> 0, 0, 0, ${num(seed)}, ${num(stream)}, ${w}); }`);
      lines.push(`${pad}const ${out} = toUniform(${w}[i & 3]) >= ${num(p)} ? ${num(Math.fround(1 / (1 - p)))} : 0;`);
    } else lines.push(`${pad}const ${out} = ${EXPR[c.op](`(${slot(c.args[0]!)})`, `(${slot(c.args[1] ?? 0)})`)};`);
  });
  a.outputs.forEach((s, j) => lines.push(`${pad}out${num(j)}[i] = ${slot(s)};`));
  lines.push(`${pad}i++;`);
  a.shape.forEach((_d, dim) => lines.push(`${"  ".repeat(rank - 1 - dim)}}`));
  return lines.join("\n");
}

/** The numbers-only spec of the WebAssembly kernel; undefined where it has no such kernel (a mask whose step is not a scalar). */
export function fusedSpec(a: FusedElementwiseAttrs, ins: readonly Pick<ValueType, "shape" | "dtype">[]): FusedSpec | undefined {
  if (a.code.some((c) => c.op === "mask" && size(ins[c.args[0]!]!.shape) !== 1)) return undefined;
  return {
    shape: a.shape,
    inputs: ins.map((v) => ({ strides: broadcastStrides(v.shape, a.shape), dtype: FUSED_DTYPE[v.dtype] })),
    code: a.code.map((c) => ({ op: FUSED_OP[c.op], args: c.args, num: c.num })),
    outputs: a.outputs,
  };
}

/**
 * Module bytes by spec (emission takes milliseconds; the train, eval and gradient programs of a
 * network share most kernels). The key is the spec's JSON with −0 kept apart from 0.
 */
const emitted = new Map<string, Uint8Array>();
function wasmOf(spec: FusedSpec): Uint8Array {
  const key = JSON.stringify(spec, (_k, v: unknown) => (Object.is(v, -0) ? "-0" : v));
  let bytes = emitted.get(key);
  if (!bytes) {
    if (emitted.size >= 512) emitted.clear();
    emitted.set(key, (bytes = emitFusedElementwise(spec)));
  }
  return bytes;
}

function lowerFused(a: FusedElementwiseAttrs, ins: readonly ValueType[]): Lowered {
  const spec = fusedSpec(a, ins);
  return { kernel: "generated", params: [], source: elementwiseSource(a, ins.map((v) => v.shape)), ...(spec ? { wasm: wasmOf(spec) } : {}) };
}

const fmt = (a: FusedElementwiseAttrs, k: number) => {
  const name = (s: number) => (s < k ? `in${s}` : `t${s - k}`);
  const body = a.code.map((c, j) => `t${j}=${c.op}(${[...c.args.map(name), ...c.num.map(String)].join(",")})`).join(" ");
  return `shape=[${a.shape.join(",")}] ${body} → ${a.outputs.map(name).join(",")}`;
};

export const fused_elementwise = defineMultiOp<FusedElementwiseAttrs>({
  attrs: Attrs,
  arity: null,
  shapes: (ins, a) => {
    const k = ins.length;
    ins.forEach((v, j) => {
      const off = a.shape.length - v.shape.length;
      if (off < 0 || v.shape.some((d, i) => d !== 1 && d !== a.shape[off + i])) shapeError("fused_elementwise", ins, `input ${j} does not broadcast to [${a.shape.join(",")}]`);
    });
    // Slots index arrays and become identifiers of generated code: plain non-negative integers only (not −0).
    const slotOk = (s: number, limit: number) => Number.isInteger(s) && s >= 0 && !Object.is(s, -0) && s < limit;
    a.code.forEach((c, j) => {
      if (c.num.some((x) => !Number.isFinite(x))) shapeError("fused_elementwise", ins, `code[${j}] ${c.op} has a non-finite number`);
      if (c.args.length !== ARITY[c.op] || c.args.some((s) => !slotOk(s, k + j))) {
        shapeError("fused_elementwise", ins, `code[${j}] ${c.op} has bad arguments [${c.args.join(",")}]`);
      }
      const [p, seed, stream] = c.num as [number, number, number];
      const u32 = (x: number) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
      if (c.op === "mask" && (ins[c.args[0]!]?.dtype !== "i32" || c.num.length !== 3 || !(p >= 0 && p < 1) || !u32(seed) || !u32(stream))) {
        shapeError("fused_elementwise", ins, `code[${j}] mask needs the i32 step input and [p, seed, stream]`);
      }
      if (c.op === "const" && c.num.length !== 1) shapeError("fused_elementwise", ins, `code[${j}] const needs one number`);
    });
    if (a.outputs.some((s) => !slotOk(s, k + a.code.length))) shapeError("fused_elementwise", ins, "bad output slot");
    return a.outputs.map(() => ({ shape: a.shape, dtype: "f32" as const }));
  },
  vjp: null,
  elementwise: true,
  lower: lowerFused,
  printAttrs: fmt,
  flops: (a) => size(a.shape) * a.code.filter((c) => c.op !== "const").length,
});
