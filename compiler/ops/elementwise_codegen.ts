/**
 * Code generation for chains of elementwise ops (one loop over the output domain), shared by
 * `fused_elementwise` and by every elementwise primitive lowered alone (a chain of one op):
 * a JavaScript source (reference programs, float64 gradient checks) and a WebAssembly SIMD module
 * (runtime/wasm/fused.ts) for planned programs. Each op brings its own formula and lowering
 * (`ScalarDef`, stated in its file in compiler/ops/); `const` and `mask` are built in.
 *
 * `code` is SSA over slots: slots 0…k−1 are the inputs, slot k + j is the result of code[j].
 * Inputs broadcast to `shape` (read through strides, 0 along broadcast dimensions). `mask`
 * recomputes the dropout mask inside the loop from the counter-based RNG, so it is never
 * materialized: num = [p, seed, stream] and its one arg is the int32 step input.
 */
import { Lru } from "../../runtime/lru.js";
import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import { size, type ValueType } from "../ir/types.js";
import { compileScalar } from "../../runtime/kernels/generated.js";
import { FUSED_DTYPE, emitFusedElementwise, type FusedLowering, type FusedSpec, type FusedTable } from "../../runtime/wasm/fused.js";
import { broadcastStrides, type Lowered } from "./def.js";
import { sumCols, sumScale } from "./fused_sums.js";

/**
 * How an elementwise primitive computes one element. `num` turns its attributes into the
 * numbers of its code instruction (pow's exponent); `js` is its formula as a JavaScript
 * expression over operand expressions, float64 (it may call Math and the generated-kernel helpers
 * of runtime/kernels/generated.ts); `lower` is its float32 WebAssembly lowering.
 */
export interface ScalarDef<A = unknown> extends FusedLowering {
  readonly arity: number;
  readonly num: (attrs: A) => number[];
  readonly js: (args: readonly string[], num: readonly number[]) => string;
}
export type ScalarTable = Readonly<Record<string, ScalarDef<never>>>;

const Instr = closed({ op: t.string, args: t.array(t.number), num: t.array(t.number) });
export type ElementInstr = t.TypeOf<typeof Instr>;
/**
 * A reduction computed in the same loop (compiler/passes/fuseReductions.ts): `op` (sum or mean)
 * of slot `slot` over `axes` of the domain, which come first (every non-1 reduced dimension
 * precedes every non-1 kept one): column sums of a [rows, cols] view, or the total.
 */
const SumInstr = closed({ op: t.union([t.literal("sum"), t.literal("mean")]), slot: t.number, axes: t.array(t.number), keepdims: t.boolean });
export type SumInstr = t.TypeOf<typeof SumInstr>;
export const CodeAttrs = closed({ shape: t.array(t.number), code: t.array(Instr), outputs: t.array(t.number), sums: t.array(SumInstr) });
export type FusedElementwiseAttrs = t.TypeOf<typeof CodeAttrs>;

/** Operands of a code op, or undefined if the op is unknown. */
export const arityIn = (table: ScalarTable, op: string): number | undefined =>
  op === "const" ? 0 : op === "mask" ? 1 : Object.hasOwn(table, op) ? table[op]!.arity : undefined;

/** Only numbers reach generated source: anything else is a compiler bug, refused loudly. */
export function num(x: number): string {
  if (typeof x !== "number" || !Number.isFinite(x)) throw new Error(`codegen: not a finite number: ${String(x)}`);
  return Object.is(x, -0) ? "-0" : String(x);
}

/** The kernel source: nested loops over the domain, loads through strides, stores at the end. */
export function elementwiseSource(a: FusedElementwiseAttrs, inShapes: readonly (readonly number[])[], table: ScalarTable): string {
  const rank = a.shape.length, k = inShapes.length;
  const strides = inShapes.map((s) => broadcastStrides(s, a.shape));
  // Same element count as the domain (and broadcastable to it): the same flat index.
  const full = inShapes.map((s) => size(s) === size(a.shape));
  const lines: string[] = [];
  inShapes.forEach((_s, j) => lines.push(`const in${num(j)} = bufs[${num(j)}];`));
  a.outputs.forEach((_o, j) => lines.push(`const out${num(j)} = bufs[${num(k + j)}];`));
  // Fused reductions: float64 accumulators (one per output element), scaled and stored after the loop.
  const cols = a.sums.map((s) => sumCols(a.shape, s));
  a.sums.forEach((_s, j) => lines.push(`const acc${num(j)} = new Float64Array(${num(cols[j]!)});`));
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
    } else lines.push(`${pad}const ${out} = ${table[c.op]!.js(c.args.map((s) => `(${slot(s)})`), c.num.map(Number))};`);
  });
  a.outputs.forEach((s, j) => lines.push(`${pad}out${num(j)}[i] = ${slot(s)};`));
  a.sums.forEach((s, j) => lines.push(`${pad}acc${num(j)}[${cols[j] === 1 ? "0" : `i % ${num(cols[j]!)}`}] += ${slot(s.slot)};`));
  lines.push(`${pad}i++;`);
  a.shape.forEach((_d, dim) => lines.push(`${"  ".repeat(rank - 1 - dim)}}`));
  a.sums.forEach((s, j) => {
    const out = `bufs[${num(k + a.outputs.length + j)}]`;
    lines.push(`for (let c = 0; c < ${num(cols[j]!)}; c++) ${out}[c] = acc${num(j)}[c] * ${num(sumScale(a.shape, s))};`);
  });
  return lines.join("\n");
}

/** The spec of the WebAssembly kernel; undefined where it has no such kernel (a mask whose step is not a scalar). */
export function fusedSpec(a: FusedElementwiseAttrs, ins: readonly Pick<ValueType, "shape" | "dtype">[]): FusedSpec | undefined {
  if (a.code.some((c) => c.op === "mask" && size(ins[c.args[0]!]!.shape) !== 1)) return undefined;
  return {
    shape: a.shape,
    inputs: ins.map((v) => ({ strides: broadcastStrides(v.shape, a.shape), dtype: FUSED_DTYPE[v.dtype] })),
    code: a.code.map((c) => ({ op: c.op, args: c.args, num: c.num })),
    outputs: a.outputs,
    ...(a.sums.length ? { sums: a.sums.map((s) => ({ slot: s.slot, cols: sumCols(a.shape, s), scale: sumScale(a.shape, s) })) } : {}),
  };
}

/**
 * Module bytes by spec (emission takes milliseconds; the train, eval and gradient programs of a
 * network share most kernels). The key is the spec's JSON with −0 kept apart from 0; op names
 * mean the same lowering in every table (they are the registry's names).
 */
const emitted = new Lru<string, Uint8Array>("fused wasm bytes", 256);
function wasmOf(spec: FusedSpec, table: FusedTable): Uint8Array {
  const key = JSON.stringify(spec, (_k, v: unknown) => (Object.is(v, -0) ? "-0" : v));
  return emitted.getOrMake(key, () => emitFusedElementwise(spec, table));
}

/**
 * The JavaScript source is written when first read (an enumerable getter, see withLazySource):
 * a planned program runs the WebAssembly module and never reads it.
 */
export function lowerCode(a: FusedElementwiseAttrs, ins: readonly ValueType[], table: ScalarTable): Lowered {
  const spec = fusedSpec(a, ins);
  const lowered = withLazySource<Lowered>({ kernel: "generated", params: [] }, () => elementwiseSource(a, ins.map((v) => v.shape), table));
  return spec ? Object.assign(lowered, { wasm: wasmOf(spec, table) }) : lowered;
}

/**
 * `target` with an enumerable `source` getter that makes the string once, on first read (a
 * spread or JSON.stringify reads it; only a lowered program's steps carry it unread).
 */
export function withLazySource<T extends object>(target: T, make: () => string): T & { readonly source: string } {
  let made: string | undefined;
  return Object.defineProperty(target, "source", { get: () => (made ??= make()), enumerable: true, configurable: true }) as T & { readonly source: string };
}

/** The op's formula as a float64 function (constant folding), compiled once per op and numbers. */
const scalars = new Lru<string, (...args: number[]) => number>("constant-folding functions", 256);
export function scalarFunction(name: string, def: ScalarDef<never>, nums: readonly number[]): (...args: number[]) => number {
  const key = `${name}:${nums.map(num).join(",")}`;
  return scalars.getOrMake(key, () => compileScalar(def.js(["a", "b", "c", "d"].slice(0, def.arity), nums), def.arity));
}
