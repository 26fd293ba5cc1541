/**
 * Tracing user code: an `fn` body, a `layer`'s apply, a `lossFn`. Each call gets its own Scope
 * (src/dsl/tensor.ts); whatever goes wrong inside — a throw, a result that is not a tensor
 * expression of this call, a wrong shape — is a ModelError that names the layer, raised while
 * compile() traces (nothing is allocated yet, so nothing half-compiled is left behind). The nodes
 * a call emits are recorded as a named range, written onto the graph's nodes as their `scope`.
 */
import type { Graph, Node } from "../../compiler/ir/graph.js";
import type { GraphBuilder } from "../../compiler/ir/builder.js";
import { fmtShape, sameShape, type V } from "../../compiler/ir/types.js";
import { KilnError, ModelError } from "../../runtime/errors.js";
import { describeValue } from "../validate.js";
import { Scope, type Tracing } from "./scope.js";
import { T, isTensor } from "./tensor.js";

/** Nodes [from, to) of a graph were emitted by the user code named `scope`. */
export interface ScopeRange { readonly from: number; readonly to: number; readonly scope: string }

const describeResult = (r: unknown): string =>
  typeof r === "function" ? "a function" : r !== null && typeof r === "object" && typeof (r as { then?: unknown }).then === "function"
    ? "a Promise (callbacks must be synchronous)" : describeValue(r);

/**
 * Call `body` with tensors for `inputs` (by name) in a new scope named `where`; returns what it
 * returned (checked by `result`) and records the range of nodes it emitted in `scopes`.
 * `tracing` is the layer's trace (its phase, its dropout); a loss has none.
 */
export function callUser<R>(
  b: GraphBuilder, where: string, scopes: ScopeRange[],
  body: (wrap: (v: V) => T) => unknown, result: (r: unknown, scope: Scope) => R, tracing?: Tracing,
): R {
  const scope = new Scope(b, where, tracing);
  const from = b.nodeCount;
  let r: unknown;
  try {
    r = body((v) => new T(scope, v));
  } catch (e) {
    if (e instanceof ModelError && e.message.startsWith(where)) throw e;
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw new ModelError(`${where}: the callback threw ${e instanceof KilnError ? "" : "an error: "}${msg}`, { cause: e });
  } finally {
    scope.close();
  }
  const out = result(r, scope);
  if (b.nodeCount > from) scopes.push({ from, to: b.nodeCount, scope: where });
  return out;
}

/** The value of a tensor expression returned by the callback of `scope`, else a ModelError. */
export function returnedTensor(r: unknown, scope: Scope, what = "a tensor expression"): V {
  if (!isTensor(r)) scope.fail(`expected the callback to return ${what}, got ${describeResult(r)}`);
  if (r.scope !== scope) scope.fail(`the callback returned a tensor from ${typeof r.scope?.where === "string" ? r.scope.where : "elsewhere"}, not one computed from its own inputs`);
  return r.v;
}

/** `v` must have shape `want`: ModelError naming the layer and both shapes. */
export function checkShape(b: GraphBuilder, where: string, v: V, want: readonly number[], what: string): V {
  const got = b.type(v).shape;
  if (!sameShape(got, want)) throw new ModelError(`${where}: ${what} must have shape ${fmtShape(want)}, got ${fmtShape(got)}`);
  return v;
}

/** The graph with each recorded node range carrying its scope name. */
export function withScopes(g: Graph, scopes: readonly ScopeRange[]): Graph {
  if (scopes.length === 0) return g;
  const nodes = [...g.nodes];
  for (const { from, to, scope } of scopes) {
    for (let i = from; i < to && i < nodes.length; i++) nodes[i] = Object.freeze({ ...nodes[i]!, scope }) as Node;
  }
  return Object.freeze({ ...g, nodes: Object.freeze(nodes) });
}
