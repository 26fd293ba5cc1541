/**
 * Which outputs checkNumerics must check: the values an op can make non-finite from finite
 * inputs. An op that cannot (relu, a reshape, a max, a 0/1 mask, a bounded function …) passes on
 * only a non-finite value it was given — and when each of its float inputs was itself made by an
 * earlier op of the program (checked there, or vouched for in the same way), that value was
 * already caught where it was made. So its check is skipped without moving the report: the
 * first non-finite value is still named at the op that produced it. A program input (a parameter
 * the user set to NaN) is not checked on entry, so the first op that reads one is checked.
 *
 * A value that reaches the program only through the kept side of a selection (where(c, a, b),
 * keep in the IR) may be non-finite where it is not kept: where(x.gt(0), x.log(), 0) computes
 * log of x ≤ 0 by design. So may one read only by a comparison (x.exp().gt(1e30) is 1 at ∞) or
 * a sign, or −x² read only by exp (erf's gradient e^{−x²} of an x beyond 1.8e19 is 0). Such a
 * guarded value, and the elementwise ops before it, are not checked; what reads
 * them is, so a non-finite value that is kept is still reported. (A fused loop checks only its
 * outputs: the reference program, one kernel per primitive, then raises where it does.)
 */
import type { Graph, Node } from "../compiler/ir/graph.js";
import type { ElementInstr } from "../compiler/ops/elementwise_codegen.js";
import { isElementwise } from "../compiler/ops/index.js";

/** Finite whatever they read (NaN included): nothing to check, ever. */
const ALWAYS_FINITE = new Set(["constant", "step", "sign", "one_hot", "dropout_mask", "max_mask"]);
/** Finite when every input is; the output's values are inputs' values, or bounded (|y| ≤ 1), or ±0/±1. */
const FINITE_FROM_FINITE = new Set([
  "relu", "neg", "abs", "detach", "maximum", "minimum", "max", "tanh", "sigmoid", "erf",
  "reshape", "transpose", "tril", "broadcast_to", "slice", "pad", "concat", "keep",
]);
/**
 * Values read only as the kept side of a selection (keep's first input), by an ALWAYS_FINITE op
 * (a comparison, a sign, a mask), or as −x² by exp, directly or through elementwise ops whose outputs are all so read;
 * never a program output. Decided from the last node back, since every reader follows what it
 * reads.
 */
function guardedValues(g: Graph): Set<number> {
  const readers = new Map<number, Node[]>();
  for (const n of g.nodes) for (const v of n.inputs) (readers.get(v) ?? readers.set(v, []).get(v)!).push(n);
  const maker = new Map<number, Node>();
  for (const n of g.nodes) for (const v of n.outputs) maker.set(v, n);
  // −x² (erf's gradient e^{−x²}): +∞ squared is e^{−∞} = 0 — read only by exp, it makes nothing non-finite.
  const negSquare = (v: number) => {
    const n = maker.get(v), sq = n?.op === "neg" ? maker.get(n.inputs[0]!) : undefined;
    return sq?.op === "mul" && sq.inputs[0] === sq.inputs[1];
  };
  const outputs = new Set(g.outputs.map((o) => o.value));
  const guarded = new Set<number>();
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    for (const v of g.nodes[i]!.outputs) {
      const rs = readers.get(v) ?? [];
      const kept = (r: Node) => (r.op === "keep" && r.inputs[0] === v && r.inputs[1] !== v) || ALWAYS_FINITE.has(r.op) || (r.op === "exp" && negSquare(v))
        || (isElementwise(r.op) && r.op !== "keep" && r.outputs.every((o) => guarded.has(o)));
      if (!outputs.has(v) && rs.length > 0 && rs.every(kept)) guarded.add(v);
    }
  }
  return guarded;
}

/**
 * What a fused loop's temporary is, when its inputs are finite: "unit" (finite, |v| ≤ 1),
 * "finite" (finite, no bound: an input's value or a constant), or null (may overflow: a sum or a
 * product of two unbounded values, exp …). A product is finite when one factor is a unit.
 */
type Kind = "unit" | "finite" | null;

function fusedKind(code: readonly ElementInstr[], inputs: number, outputs: readonly number[]): boolean {
  const kinds: Kind[] = Array.from({ length: inputs }, () => "finite");
  const both = (a: Kind, b: Kind): Kind => (a === null || b === null ? null : a === "unit" && b === "unit" ? "unit" : "finite");
  for (const c of code) {
    const [a, b] = c.args.map((i) => kinds[i] ?? null) as [Kind, Kind];
    let k: Kind;
    switch (c.op) {
      case "const": k = Math.abs(c.num[0]!) <= 1 ? "unit" : Number.isFinite(c.num[0]!) ? "finite" : null; break;
      case "mask": k = "finite"; break; // 0 or 1/(1 − p)
      case "step": case "sign": k = "unit"; break;
      case "tanh": case "sigmoid": case "erf": k = a === null ? null : "unit"; break;
      case "relu": case "neg": case "abs": case "detach": k = a; break;
      case "maximum": case "minimum": k = both(a, b); break;
      case "mul": k = a === null || b === null ? null : a === "unit" && b === "unit" ? "unit" : a === "unit" || b === "unit" ? "finite" : null; break;
      default: k = null;
    }
    kinds.push(k);
  }
  return outputs.every((o) => kinds[o] !== null);
}

/** Can this node make a non-finite value from finite inputs? */
function canOverflow(n: Node): boolean {
  if (ALWAYS_FINITE.has(n.op) || FINITE_FROM_FINITE.has(n.op)) return false;
  if (n.op === "fused_elementwise") return !fusedKind(n.attrs.code, n.inputs.length, n.attrs.outputs);
  return true;
}

/**
 * Each node's outputs to check (lowering makes one step per node, value = buffer): all of them,
 * except for a node that cannot overflow and reads only values earlier nodes made (or is finite
 * whatever it reads).
 */
export function checkedOutputs(g: Graph): number[][] {
  const made = new Set<number>();
  const guarded = guardedValues(g);
  return g.nodes.map((n) => {
    // Not checked, and not vouched for: the selection that reads it is checked instead.
    if (n.outputs.length > 0 && n.outputs.every((v) => guarded.has(v))) return [];
    const floatsMade = n.inputs.every((v) => g.values[v]!.dtype !== "f32" || made.has(v));
    const skip = ALWAYS_FINITE.has(n.op) || (!canOverflow(n) && floatsMade);
    n.outputs.forEach((v) => made.add(v));
    // A fused loop's sums (after its elementwise outputs) may overflow from finite terms: always checked.
    const sums = n.op === "fused_elementwise" ? n.outputs.slice(n.attrs.outputs.length) : [];
    return skip ? sums : [...n.outputs];
  });
}
