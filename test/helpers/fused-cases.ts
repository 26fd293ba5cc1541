/**
 * Seeded random fused_elementwise cases: a code DAG over the chosen ops, a domain shape of odd
 * sizes, inputs broadcast in every pattern ([N], [B,1], [1,N], scalars, size-1 dims anywhere),
 * several outputs, and masks (each its own seed and stream) reading one int32 step scalar.
 */
import type { ElementInstr, FusedElementwiseAttrs } from "../../compiler/ops/fused_elementwise.js";
import { scalarOps, type ElementwiseName } from "../../compiler/ops/index.js";
import { rand } from "./run.js";

export const rng = rand;

export interface Case {
  readonly attrs: FusedElementwiseAttrs;
  readonly shapes: readonly (readonly number[])[];
  readonly dtypes: readonly ("f32" | "i32")[];
  /** A random input value (mostly O(1), sometimes 0, tiny or large). */
  readonly sample: (r: () => number) => number;
}

export type ElementOp = ElementwiseName | "const" | "mask";

/** Every elementwise primitive of the registry, const and mask, the common ones twice. */
export const DEFAULT_OPS: readonly ElementOp[] = [
  ...(Object.keys(scalarOps) as ElementwiseName[]), "const", "mask",
  "add", "sub", "mul", "mul", "relu", "const", "mask",
];
/** Exponents pow draws from (integer ones take repeated squaring, others e^{k·ln x}). */
const POW_K = [0, 1, 2, 3, -1, -2, 0.5, 1.5, -0.5, 2.25, 33];

const SHAPES: readonly (readonly number[])[] = [
  [], [1], [3], [7], [33], [513], [2, 3], [3, 7], [4, 33], [5, 8], [3, 1, 7], [2, 3, 5], [2, 513], [7, 4], [1, 9],
];
const CONSTS = [0, -0, 1, -1, 0.1, -2.5, 1e-4, 0.9, 3, 0.5];
const PS = [0, 0.1, 0.25, 0.5, 0.9, 0.999];

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** An input shape that broadcasts to `shape`. */
function broadcastShape(r: () => number, shape: readonly number[]): number[] {
  const u = r(), rank = shape.length;
  if (u < 0.45 || rank === 0) return [...shape]; // full
  if (u < 0.55) return []; // scalar
  if (u < 0.65) return [shape[rank - 1]!]; // [N]
  if (u < 0.75) return [...shape.slice(0, -1), 1]; // [B, 1]
  if (u < 0.85) return [1, ...shape.slice(1)]; // [1, N]
  const dropped = Math.floor(r() * rank); // drop leading dims, then ones at random
  return shape.slice(dropped).map((d) => (r() < 0.4 ? 1 : d));
}

export function randomCase(r: () => number, ops: readonly ElementOp[], domains: readonly (readonly number[])[] = SHAPES): Case {
  const shape = [...pick(r, domains)];
  const nIn = 1 + Math.floor(r() * 4);
  const shapes: number[][] = Array.from({ length: nIn }, () => broadcastShape(r, shape));
  const dtypes: ("f32" | "i32")[] = shapes.map(() => "f32");
  const length = 1 + Math.floor(r() * 10);
  const wantMask = ops.includes("mask") && r() < 0.4;
  if (wantMask) { shapes.push([]); dtypes.push("i32"); }
  const k = shapes.length, step = wantMask ? k - 1 : -1;
  const floats = Array.from({ length: k }, (_, j) => j).filter((j) => j !== step);
  const code: ElementInstr[] = [];
  for (let q = 0; q < length; q++) {
    let op = pick(r, ops);
    if (op === "mask" && !wantMask) op = "mul";
    const arg = () => pick(r, floats);
    if (op === "const") code.push({ op, args: [], num: [pick(r, CONSTS)] });
    else if (op === "mask") code.push({ op, args: [step], num: [pick(r, PS), Math.floor(r() * 2 ** 32), Math.floor(r() * 8)] });
    else if (op === "pow") code.push({ op, args: [arg()], num: [pick(r, POW_K)] });
    else code.push({ op, args: Array.from({ length: scalarOps[op].arity }, arg), num: [] });
    floats.push(k + q);
  }
  // The last result, plus up to two other slots (inputs included: a pass-through output).
  const outputs = [k + length - 1];
  for (let o = Math.floor(r() * 3); o > 0; o--) outputs.push(pick(r, floats));
  const sample = (rr: () => number) => {
    const u = rr();
    if (u < 0.05) return 0;
    if (u < 0.08) return (rr() - 0.5) * 1e-30;
    if (u < 0.1) return (rr() - 0.5) * 1e6;
    return (rr() - 0.5) * 4;
  };
  return { attrs: { shape, code, outputs, sums: [] }, shapes, dtypes, sample };
}
