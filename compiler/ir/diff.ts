/**
 * A readable diff of two graphs' IR text. Intermediate values are renamed by what computes
 * them (a short hash of op, attributes and operand names), so an op present in both graphs gets
 * the same name in both, and an op removed or added shows as one − or + line instead of
 * shifting every later name.
 */
import { createHash } from "node:crypto";
import type { Graph } from "./graph.js";
import type { V } from "./types.js";

/** The graph's lines with every node output renamed structurally. */
function canonicalLines(g: Graph): string[] {
  const name = new Map<V, string>(g.inputs.map((i) => [i.value, i.name]));
  const literal = new Set<V>();
  for (const n of g.nodes) {
    if (n.op === "constant" && n.attrs.shape.length === 0) {
      // Scalar constants read as literals, as in printIR.
      name.set(n.outputs[0]!, Number.isInteger(n.attrs.value) ? n.attrs.value.toFixed(1) : String(n.attrs.value));
      literal.add(n.outputs[0]!);
      continue;
    }
    const key = `${n.op}${JSON.stringify(n.attrs)}(${n.inputs.map((v) => name.get(v)).join(",")})`;
    const h = createHash("sha1").update(key).digest("hex").slice(0, 5);
    n.outputs.forEach((v, k) => name.set(v, `%${h}${n.outputs.length > 1 ? `.${k}` : ""}`));
  }
  const type = (v: V) => `${g.values[v]!.dtype}[${g.values[v]!.shape.join(",")}]`;
  const fmt = (v: unknown) => (Array.isArray(v) ? `[${v.join(",")}]` : String(v));
  const body = g.nodes.filter((n) => !n.outputs.every((v) => literal.has(v))).map((n) => {
    const attrs = Object.entries(n.attrs as Record<string, unknown>).map(([k, v]) => `${k}=${fmt(v)}`).join(" ");
    const defs = n.outputs.map((v) => `${name.get(v)}:${type(v)}`).join(" ");
    return `${defs} = ${n.op}${attrs ? `[${attrs}]` : ""} ${n.inputs.map((v) => name.get(v)).join(" ")}`.trimEnd();
  });
  return [...g.inputs.map((i) => `in ${i.name}:${type(i.value)}`), ...body, ...g.outputs.map((o) => `out ${o.name} = ${name.get(o.value)}`)];
}

/** Longest-common-subsequence line diff, in unified style (' ', '-', '+'), with context lines. */
export function diffLines(a: readonly string[], b: readonly string[], context = 2): string[] {
  const n = a.length, m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: [" " | "-" | "+", string][] = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { ops.push([" ", a[i]!]); i++; j++; }
    else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push(["-", a[i++]!]);
    else ops.push(["+", b[j++]!]);
  }
  const keep = ops.map((_o, k) => ops.slice(Math.max(0, k - context), k + context + 1).some(([t]) => t !== " "));
  const out: string[] = [];
  ops.forEach(([t, line], k) => {
    if (keep[k]) out.push(`${t} ${line}`);
    else if (keep[k - 1]) out.push("  …");
  });
  return out;
}

/** Diff of two graphs, e.g. the train-mode forward pass against the eval program. */
export function diffGraphs(a: Graph, b: Graph): string[] {
  return diffLines(canonicalLines(a), canonicalLines(b));
}
