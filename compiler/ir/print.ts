/**
 * jaxpr-like text for a graph, every value with its type:
 *
 *   { lambda x:f32[4,8] 0.weight:f32[16,8] .
 *     let a:f32[4,16] = matmul[transA=false transB=true] x 0.weight
 *     in (logits=a) }
 *
 * Inputs print under their names; other values get short letter names (a, b, …, z, ba, …).
 * Scalar constants print inline as literals, as jaxpr does. A node emitted by user code ends
 * with its scope: `… = erf c  # fn "gelu" at 1`.
 */
import { ops } from "../ops/index.js";
import type { OpDef } from "../ops/def.js";
import type { Graph, Node } from "./graph.js";
import { fmtType, type V } from "./types.js";

/** a, b, …, z, ba, bb, … (jaxpr's scheme: base-26 with 'a' as the zero digit after the first). */
function letters(i: number): string {
  let s = "";
  do { s = String.fromCharCode(97 + (i % 26)) + s; i = Math.floor(i / 26); } while (i > 0);
  return s;
}

const fmtAttr = (v: unknown): string => (Array.isArray(v) ? `[${v.join(",")}]` : String(v));

/** Literals print as floats (2.0, 0.5), as they are f32 values. */
const fmtNumber = (x: number): string => (Number.isInteger(x) ? x.toFixed(1) : String(x));

const isScalarConstant = (n: Node): n is Extract<Node, { op: "constant" }> => n.op === "constant" && n.attrs.shape.length === 0;

/** A user's scope name, on one line whatever it holds (it is data: control characters are escaped). */
const scopeText = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** Every value's printed name: inputs by name, scalar constants as literals, others a, b, …. */
function valueNames(g: Graph): Map<V, string> {
  const names = new Map<V, string>();
  const taken = new Set(g.inputs.map((i) => i.name));
  for (const i of g.inputs) names.set(i.value, i.name);
  let counter = 0;
  const fresh = (): string => { let s; do { s = letters(counter++); } while (taken.has(s)); return s; };
  for (const n of g.nodes) {
    if (isScalarConstant(n)) names.set(n.outputs[0]!, fmtNumber(n.attrs.value));
    else for (const v of n.outputs) names.set(v, fresh());
  }
  return names;
}

function equation(g: Graph, n: Node, names: Map<V, string>, origins: boolean): string {
  const name = (v: V) => names.get(v) ?? `?${v}`;
  const attrs = Object.entries(n.attrs as Record<string, unknown>);
  const custom = (ops[n.op] as OpDef<unknown>).printAttrs;
  const params = custom ? `[${custom(n.attrs, n.inputs.length)}]` : attrs.length ? `[${attrs.map(([k, v]) => `${k}=${fmtAttr(v)}`).join(" ")}]` : "";
  const args = n.inputs.map(name).join(" ");
  const outs = n.outputs.map((v) => `${name(v)}:${fmtType(g.values[v]!)}`).join(" ");
  const notes = [...(n.scope === undefined ? [] : [scopeText(n.scope)]), ...(origins && n.at?.length ? [n.at.join(", ")] : [])];
  return `${outs} = ${n.op}${params}${args ? " " + args : ""}${notes.length ? `  # ${notes.join("; ")}` : ""}`;
}

/** One node's line of printIR(g), and the printed names of all values (for messages). */
export function printEquation(g: Graph, node: number): { text: string; names: Map<V, string> } {
  const names = valueNames(g);
  return { text: equation(g, g.nodes[node]!, names, false), names };
}

/**
 * The graph as text; a node with a user scope ends with `  # <scope>`. With `origins`, the
 * node's provenance follows (`  # forward@37, forward@38`, see Node.at).
 */
export function printIR(g: Graph, opts: { origins?: boolean } = {}): string {
  const names = valueNames(g);
  const name = (v: V) => names.get(v) ?? `?${v}`;
  const head = g.inputs.map((i) => `${i.name}:${fmtType(g.values[i.value]!)}`).join(" ");
  const lines = g.nodes.filter((n) => !isScalarConstant(n)).map((n) => equation(g, n, names, opts.origins ?? false));
  const outs = g.outputs.map((o) => `${o.name}=${name(o.value)}`).join(", ");
  const body = lines.length ? `\n  let ${lines.join("\n      ")}\n  in` : "\n  in";
  return `{ lambda ${head} .${body} (${outs}) }`;
}
