/**
 * What a model expression is at run time: an immutable tree of plain descriptions. Nothing is
 * allocated here; `compile()` traces the tree into IR and allocates parameters.
 *
 * At the type level each layer also carries its feature sizes (see ./shapes.ts), so that `seq`
 * can reject neighbours that do not fit while the user types.
 */
import type { Initializer } from "../init.js";
import type { Phase } from "../dsl/scope.js";
import type { T } from "../dsl/tensor.js";

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

/** A shape-preserving function of its input written by a user with tensor expressions (src/dsl/). */
export interface FnNode {
  readonly kind: "fn";
  readonly name: string;
  readonly f: (x: T, phase: Phase) => T;
  /** Set on kiln's own activations only: what a spec stores instead of the function. */
  readonly builtin?: BuiltinActivation;
}
export type BuiltinActivation =
  | { readonly name: "tanh" | "sigmoid" | "silu" }
  | { readonly name: "gelu"; readonly approximate: "none" | "tanh" }
  | { readonly name: "leakyRelu"; readonly slope: number };
/** A declared parameter (or state buffer) of a user layer. */
export interface ParamDecl { readonly shape: readonly number[]; readonly init: Initializer }
/** A user layer with its own parameters: `apply(params, x, state)` maps [batch, in] to [batch, out]. */
export interface UserLayerNode {
  readonly kind: "layer";
  readonly name: string;
  readonly in: number;
  readonly out: number;
  readonly params: Readonly<Record<string, ParamDecl>>;
  readonly state: Readonly<Record<string, ParamDecl>>;
  readonly apply: (p: Readonly<Record<string, T>>, x: T, s: Readonly<Record<string, T>>, phase: Phase) => unknown;
}
/** Branches fed the same input, outputs concatenated on the feature axis. */
export interface ConcatNode { readonly kind: "concat"; readonly branches: readonly LayerNode[] }

export type LayerNode = LinearNode | ReluNode | DropoutNode | LayerNormNode | BatchNormNode | ResidualNode | SeqNode
  | FnNode | UserLayerNode | ConcatNode;
export type LayerKind = LayerNode["kind"];

/** Feature sizes of a layer: `null` means it passes its input size through (relu, dropout). */
export interface Features { readonly in: number | null; readonly out: number | null }

/** Input and output feature sizes, walking through shape-preserving layers. */
export function features(node: LayerNode): Features {
  return { in: inputOf(node), out: flowOut(node, null) };
}

/** The first known input size (null: the layer takes any width). */
function inputOf(node: LayerNode): number | null {
  switch (node.kind) {
    case "linear": case "layer": return node.in;
    case "relu": case "dropout": case "fn": return null;
    case "layerNorm": case "batchNorm": return node.n;
    case "residual": return inputOf(node.fn);
    case "seq": {
      // The first known input size, if only width-keeping layers come before it: a concat of
      // pass-through branches (k of them map w to k·w) hides it — in seq(concat(relu, relu),
      // linear(8, 3)) the seq takes 4, not 8.
      for (const l of node.layers) {
        const w = inputOf(l);
        if (w !== null) return w;
        if (flowOut(l, 1) !== 1 || flowOut(l, 2) !== 2) return null;
      }
      return null;
    }
    case "concat": {
      // Every branch takes the same input.
      for (const b of node.branches) {
        const w = inputOf(b);
        if (w !== null) return w;
      }
      return null;
    }
  }
}

/**
 * Output size of `node` fed `width` features (null: unknown). Pass-through layers give `width`
 * back, so for them `features(node).out` is null; a concat of pass-through branches multiplies an
 * unknown width, so its output is known only once the input is.
 */
export function flowOut(node: LayerNode, width: number | null): number | null {
  switch (node.kind) {
    case "linear": case "layer": return node.out;
    case "relu": case "dropout": case "fn": return width;
    case "layerNorm": case "batchNorm": return node.n;
    case "residual": return flowOut(node.fn, width);
    case "seq": return node.layers.reduce<number | null>((w, l) => flowOut(l, w), width);
    case "concat": {
      const input = inputOf(node) ?? width;
      const outs = node.branches.map((b) => flowOut(b, input));
      return outs.every((o) => o !== null) ? (outs as number[]).reduce((a, b) => a + b, 0) : null;
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
    case "fn": return `fn(${JSON.stringify(node.name)})`;
    case "layer": return `layer(${JSON.stringify(node.name)}, ${node.in}→${node.out})`;
    case "concat": return `concat(${node.branches.length} branches)`;
  }
}
