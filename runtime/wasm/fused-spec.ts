/**
 * The spec of a fused elementwise kernel (what emitFusedElementwise in fused.ts builds a module
 * from): its checks, the loop nest's coalesced dimensions, and how the loop splits into parts.
 */
import { keptStart, type SumSpec } from "./fused-sums.js";
import type { Expr, ValType } from "./emit.js";
import type { FLanes, Valued } from "./fused-lanes.js";
import type { LaneType } from "./lanes.js";

/**
 * How one elementwise op computes an element, lane-generic (fused-lanes.ts): the compiler derives
 * a table of these from its op definitions (compiler/ops/) and passes it in, so this emitter knows
 * no op but the two it implements itself: `const` (num = [value]) and `mask` (the dropout mask
 * recomputed from the counter-based RNG, num = [p, seed, stream], args = [scalar int32 input]).
 */
export interface FusedLowering {
  readonly arity: number;
  lower<F extends LaneType, I extends ValType>(L: FLanes<F, I>, args: readonly (() => Expr<F>)[], num: readonly number[]): Valued<F>;
}
export type FusedTable = Readonly<Record<string, FusedLowering>>;
/** Input element types: float32 buffers, or int32 buffers (the step counter of masks). */
export const FUSED_DTYPE = { f32: 0, i32: 1 } as const;

export interface FusedSpec {
  readonly shape: readonly number[];
  /** Per input: element strides into the domain (0 along broadcast dimensions) and dtype. */
  readonly inputs: readonly { readonly strides: readonly number[]; readonly dtype: number }[];
  /** SSA over slots (inputs first): an op of the table, or const / mask. */
  readonly code: readonly { readonly op: string; readonly args: readonly number[]; readonly num: readonly number[] }[];
  /** Slots stored to the outputs, in order (every output has the domain's shape, contiguous). */
  readonly outputs: readonly number[];
  /**
   * Reductions of slots computed in the same loop (fused-sums.ts), their outputs after the
   * others: y[c] = scale · Σ_r v[r·cols + c], cols a product of trailing dimensions (1: the total).
   */
  readonly sums?: readonly SumSpec[];
}

export const isIndex = (x: unknown, limit: number) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x < limit;
export const fail = (what: string): never => { throw new Error(`emitFusedElementwise: ${what}`); };

const arityOf = (op: string, table: FusedTable): number | undefined =>
  op === "const" ? 0 : op === "mask" ? 1 : Object.hasOwn(table, op) ? table[op]!.arity : undefined;

export function validate(s: FusedSpec, table: FusedTable): void {
  const rank = s.shape.length, k = s.inputs.length;
  if (!s.shape.every((d) => isIndex(d, 2 ** 30))) fail("shape must hold integers in [0, 2^30)");
  s.inputs.forEach((inp, j) => {
    if (inp.strides.length !== rank || !inp.strides.every((st) => isIndex(st, 2 ** 30))) fail(`input ${j}: bad strides`);
    if (inp.dtype !== FUSED_DTYPE.f32 && inp.dtype !== FUSED_DTYPE.i32) fail(`input ${j}: bad dtype`);
  });
  s.code.forEach((c, j) => {
    if (c.args.length !== arityOf(c.op, table) || !c.args.every((a) => isIndex(a, k + j))) fail(`code[${j}]: bad op or args`);
    if (!c.num.every((x) => typeof x === "number" && Number.isFinite(x))) fail(`code[${j}]: non-finite number`);
    if (c.op === "const" && c.num.length !== 1) fail(`code[${j}]: const needs one number`);
    if (c.op === "mask") {
      const [p, seed, stream] = c.num as [number, number, number], step = s.inputs[c.args[0]!];
      const u32 = (x: number) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
      if (c.num.length !== 3 || !(p >= 0 && p < 1) || !u32(seed) || !u32(stream)) fail(`code[${j}]: mask needs [p, seed, stream]`);
      if (!step || step.dtype !== FUSED_DTYPE.i32 || step.strides.some((st) => st !== 0)) fail(`code[${j}]: mask needs a scalar int32 input`);
    }
  });
  if (!s.outputs.every((o) => isIndex(o, k + s.code.length))) fail("bad output slot");
  (s.sums ?? []).forEach((x, j) => {
    if (!isIndex(x.slot, k + s.code.length) || s.inputs[x.slot]?.dtype === FUSED_DTYPE.i32) fail(`sums[${j}]: bad slot`);
    if (!isIndex(x.cols, 2 ** 30) || x.cols === 0 || typeof x.scale !== "number" || !Number.isFinite(x.scale)) fail(`sums[${j}]: bad cols or scale`);
    keptStart(s.shape, x.cols, (why) => fail(`sums[${j}]: ${why}`));
  });
}

/**
 * Merge adjacent dimensions d, d+1 when every operand has stride[d] = stride[d+1]·shape[d+1]
 * (outputs are contiguous, so they always do) and d+1 is no barrier (where a column sum's kept
 * dimensions start: a row then never straddles two of its rows); drop size-1 dimensions. Returns the dims and each
 * input's strides over them, outermost first; at least one dimension.
 */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[], barriers: ReadonlySet<number>): { dims: number[]; strides: number[][] } {
  const keep = shape.map((d, i) => [d, i] as const).filter(([d]) => d !== 1);
  const dims: number[] = [], st: number[][] = strides.map(() => []);
  for (const [d, i] of keep) {
    const last = dims.length - 1;
    if (last >= 0 && !barriers.has(i) && strides.every((s, j) => st[j]![last] === s[i]! * d)) {
      dims[last] = dims[last]! * d;
      strides.forEach((s, j) => { st[j]![last] = s[i]!; });
    } else {
      dims.push(d);
      strides.forEach((s, j) => st[j]!.push(s[i]!));
    }
  }
  if (dims.length === 0) return { dims: [1], strides: strides.map(() => [0]) };
  return { dims, strides: st };
}


/**
 * How the loop splits into parts (fusedPart(…, lo, hi)): along the outermost dimension of the
 * coalesced domain (rows, unit 1), or for a one-dimensional domain along its elements in
 * multiples of 16 (unit 16: a part then starts on a vector and on a dropout mask's run of four
 * Philox blocks, fused-philox.ts). Every element is computed by the same operations in a part as
 * in the whole call, so parts on any threads give the same bits. work: elements in all.
 */
export function splitOf(spec: FusedSpec, dims: readonly number[]): { extent: number; unit: number; work: number } | null {
  const work = spec.shape.reduce((a, b) => a * b, 1);
  if (work === 0) return null;
  return dims.length === 1 ? { extent: dims[0]!, unit: 16, work } : { extent: dims[0]!, unit: 1, work };
}
