/** The model tree with parameter counts per layer, as `kiln inspect` prints it. */
import { describe, type LayerNode } from "../layers/node.js";

/** Trainable parameters of one layer (not counting children). */
function ownParams(n: LayerNode): number {
  switch (n.kind) {
    case "linear": return n.in * n.out + (n.bias ? n.out : 0);
    case "layerNorm": return n.affine ? 2 * n.n : 0;
    case "batchNorm": return 2 * n.n;
    case "layer": return Object.values(n.params).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    default: return 0;
  }
}

export function countParams(n: LayerNode): number {
  if (n.kind === "seq") return n.layers.reduce((s, l) => s + countParams(l), 0);
  if (n.kind === "residual") return countParams(n.fn);
  if (n.kind === "concat") return n.branches.reduce((s, l) => s + countParams(l), 0);
  return ownParams(n);
}

export function modelTree(root: LayerNode): string {
  const lines: string[] = [];
  const fmt = (k: number) => k.toLocaleString("en-US");
  const walk = (n: LayerNode, path: string, depth: number) => {
    const label = n.kind === "seq" || n.kind === "residual" || n.kind === "concat" ? n.kind : describe(n);
    const count = countParams(n);
    lines.push(`${"  ".repeat(depth)}${path ? `${path}: ` : ""}${label}${count ? `  (${fmt(count)} params)` : ""}`);
    if (n.kind === "seq") n.layers.forEach((l, i) => walk(l, path ? `${path}.${i}` : String(i), depth + 1));
    if (n.kind === "residual") walk(n.fn, path ? `${path}.fn` : "fn", depth + 1);
    if (n.kind === "concat") n.branches.forEach((l, i) => walk(l, path ? `${path}.${i}` : String(i), depth + 1));
  };
  walk(root, "", 0);
  lines.push(`total: ${fmt(countParams(root))} parameters`);
  return lines.join("\n");
}
