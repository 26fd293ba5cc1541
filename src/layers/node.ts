/**
 * What a model expression is at run time: an immutable tree of plain descriptions. Nothing is
 * allocated here; `compile()` traces the tree into IR and allocates parameters.
 *
 * At the type level each layer also carries its feature sizes (see ./shapes.ts), so that `seq`
 * can reject neighbours that do not fit while the user types.
 */
import type { Initializer } from "../init.js";

export interface LinearNode {
  readonly kind: "linear";
  readonly in: number;
  readonly out: number;
  readonly bias: boolean;
  readonly init: Initializer;
  readonly biasInit: Initializer;
}
export interface ReluNode { readonly kind: "relu" }
export interface DropoutNode { readonly kind: "dropout"; readonly p: number }
export interface LayerNormNode { readonly kind: "layerNorm"; readonly n: number; readonly eps: number; readonly affine: boolean }
export interface BatchNormNode { readonly kind: "batchNorm"; readonly n: number; readonly eps: number; readonly momentum: number }
export interface ResidualNode { readonly kind: "residual"; readonly fn: LayerNode }
export interface SeqNode { readonly kind: "seq"; readonly layers: readonly LayerNode[] }

export type LayerNode = LinearNode | ReluNode | DropoutNode | LayerNormNode | BatchNormNode | ResidualNode | SeqNode;
export type LayerKind = LayerNode["kind"];

/** Feature sizes of a layer: `null` means it passes its input size through (relu, dropout). */
export interface Features { readonly in: number | null; readonly out: number | null }

/** Input and output feature sizes, walking through shape-preserving layers. */
export function features(node: LayerNode): Features {
  switch (node.kind) {
    case "linear": return { in: node.in, out: node.out };
    case "relu": case "dropout": return { in: null, out: null };
    case "layerNorm": case "batchNorm": return { in: node.n, out: node.n };
    case "residual": return features(node.fn);
    case "seq": {
      // Pass-through layers report null for both sizes, so the first known input size and the
      // last known output size are the sequence's.
      const fs = node.layers.map(features);
      return { in: fs.find((f) => f.in !== null)?.in ?? null, out: fs.findLast((f) => f.out !== null)?.out ?? null };
    }
  }
}

/** One-line description used in error messages and model trees: `linear(128→10)`. */
export function describe(node: LayerNode): string {
  switch (node.kind) {
    case "linear": return `linear(${node.in}→${node.out}${node.bias ? "" : ", no bias"})`;
    case "relu": return "relu";
    case "dropout": return `dropout(${node.p})`;
    case "layerNorm": return `layerNorm(${node.n}${node.affine ? "" : ", no affine"})`;
    case "batchNorm": return `batchNorm(${node.n})`;
    case "residual": return `residual(${describe(node.fn)})`;
    case "seq": return `seq(${node.layers.length} layers)`;
  }
}
