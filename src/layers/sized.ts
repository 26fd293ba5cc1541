/**
 * Phantom feature sizes. A layer value is its runtime description (./node.ts) intersected with
 * `Sized<In, Out>`, a property that exists only for the type checker. Shape-preserving layers
 * (relu, dropout) carry no `Sized` at all: they are markers the checks in ./shapes.ts walk through,
 * so they never turn checking off downstream the way a generic `relu<N>()` would.
 */
export declare const sizes: unique symbol;

export interface Sized<In extends number, Out extends number> {
  /** Never present at run time. */
  readonly [sizes]?: { readonly in: In; readonly out: Out };
}
