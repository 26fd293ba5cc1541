/** Type-level assertions for the files in this folder (checked by `tsc --noEmit`, never run). */

/** Exact type equality (the standard trick: two deferred conditionals compare their check types). */
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
export type Expect<T extends true> = T;
