/**
 * Which outputs checkNumerics must check: the values an op can make non-finite from finite
 * inputs. An op that cannot (relu, a reshape, a max, a 0/1 mask, a bounded function …) passes on
 * only a non-finite value it was given — and when each of its float inputs was itself made by an
 * earlier op of the program (checked there, or vouched for in the same way), that value was
 * already caught where it was made. So its check is skipped without moving the report: the
 * first non-finite value is still named at the op that produced it. A program input (a parameter
 * the user set to NaN) is not checked on entry, so the first op that reads one is checked.
 */
import type { Graph, Node } from "../compiler/ir/graph.js";
import type { ElementInstr } from "../compiler/ops/elementwise_codegen.js";

/** Finite whatever they read (NaN included): nothing to check, ever. */
const ALWAYS_FINITE = new Set(["constant", "step", "sign", "one_hot", "dropout_mask", "max_mask"]);
/** Finite when every input is; the output's values are inputs' values, or bounded (|y| ≤ 1), or ±0/±1. */
const FINITE_FROM_FINITE = new Set([
  "relu", "neg", "abs", "maximum", "minimum", "max", "tanh", "sigmoid", "erf",
  "reshape", "broadcast_to", "slice", "pad", "concat",
]);

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
      case "relu": case "neg": case "abs": k = a; break;
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
  return g.nodes.map((n) => {
    const floatsMade = n.inputs.every((v) => g.values[v]!.dtype !== "f32" || made.has(v));
    const skip = ALWAYS_FINITE.has(n.op) || (!canOverflow(n) && floatsMade);
    n.outputs.forEach((v) => made.add(v));
    // A fused loop's sums (after its elementwise outputs) may overflow from finite terms: always checked.
    const sums = n.op === "fused_elementwise" ? n.outputs.slice(n.attrs.outputs.length) : [];
    return skip ? sums : [...n.outputs];
  });
}
