/**
 * Elementwise primitives: one definition states the shape rule (same shape, or numpy
 * broadcasting for two operands), the gradient rule, the reference formula (a JavaScript
 * expression) and the float32 WebAssembly lowering. Everything else is derived from it: the
 * op's kernel (a one-op chain of elementwise_codegen.ts, JavaScript and WebAssembly), its fusion
 * into `fused_elementwise` loops, and constant folding (the formula as a float64 function).
 * Leaving out any piece is a type error.
 */
import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import type { V, ValueType } from "../ir/types.js";
import type { Expr, ValType } from "../../runtime/wasm/emit.js";
import type { FLanes, Valued } from "../../runtime/wasm/fused-lanes.js";
import type { LaneType } from "../../runtime/wasm/lanes.js";
import { defineOp, requireF32, shapeError, type Emitter, type OpDef } from "./def.js";
import { lowerCode, type ScalarDef } from "./elementwise_codegen.js";

export const NoAttrs = closed({});
export type NoAttrs = t.TypeOf<typeof NoAttrs>;

/** An elementwise primitive: an op the fusion pass can put in a loop, since it says how to compute one element. */
export interface ElementwiseOpDef<A> extends OpDef<A> {
  readonly scalar: ScalarDef<A>;
}

type Thunk<F extends ValType> = () => Expr<F>;

interface Common<A> {
  /** Attributes (default: none); `num` lists them as the numbers the formula and lowering see. */
  readonly attrs?: t.Type<A, unknown, unknown>;
  readonly num?: (attrs: A) => number[];
  /** Extra checks of the attributes (the operand types are checked here). */
  readonly check?: (ins: readonly ValueType[], attrs: A) => void;
}

export interface UnarySpec<A> extends Common<A> {
  /** dx from g (the output's cotangent), x and y = f(x); null when the gradient is 0 almost everywhere. */
  readonly vjp: (b: Emitter, g: V, x: V, y: V, attrs: A) => V | null;
  readonly js: (a: string, num: readonly number[]) => string;
  readonly lower: <F extends LaneType, I extends ValType>(L: FLanes<F, I>, a: Thunk<F>, num: readonly number[]) => Valued<F>;
}

export interface BinarySpec<A> extends Common<A> {
  /** Full-shape cotangents of both operands (reduced to each operand's shape here). */
  readonly vjp: (b: Emitter, g: V, x: V, y: V, z: V, attrs: A) => [V | null, V | null];
  readonly js: (a: string, b: string, num: readonly number[]) => string;
  readonly lower: <F extends LaneType, I extends ValType>(L: FLanes<F, I>, a: Thunk<F>, b: Thunk<F>, num: readonly number[]) => Valued<F>;
}

/** Output shape of numpy-style broadcasting (trailing dimensions aligned). */
export function broadcastShape(name: string, ins: readonly ValueType[]): number[] {
  const [a, b] = [ins[0]!.shape, ins[1]!.shape];
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1, db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) shapeError(name, ins, `shapes do not broadcast (dimension ${i}: ${da} vs ${db})`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

function finish<A>(name: string, base: Omit<OpDef<A>, "lower" | "elementwise">, scalar: ScalarDef<A>): ElementwiseOpDef<A> {
  const table = { [name]: scalar as ScalarDef<never> };
  const lower = (a: A, ins: readonly ValueType[], outs: readonly ValueType[]) => lowerCode({
    shape: [...outs[0]!.shape],
    code: [{ op: name, args: ins.map((_v, j) => j), num: scalar.num(a) }],
    outputs: [ins.length],
    sums: [],
  }, ins, table);
  return Object.freeze({ ...base, lower, elementwise: true, scalar });
}

/** y = f(x), same shape. */
export function unaryOp<A = NoAttrs>(name: string, spec: UnarySpec<A>): ElementwiseOpDef<A> {
  const base = defineOp<A>({
    attrs: spec.attrs ?? (NoAttrs as unknown as t.Type<A, unknown, unknown>),
    arity: 1,
    shape: (ins, a) => { requireF32(name, ins); spec.check?.(ins, a); return ins[0]!; },
    vjp: (b, g, [x], y, a) => [spec.vjp(b, g, x!, y, a)],
    lower: () => { throw new Error("replaced below"); },
  });
  const num = spec.num ?? (() => []);
  return finish(name, base, {
    arity: 1, num,
    js: (args, n) => spec.js(args[0]!, n),
    lower: (L, args, n) => spec.lower(L, args[0]!, n),
  });
}

/** z = f(x, y) with numpy broadcasting; the vjp returns full-shape cotangents, reduced here by sumTo. */
export function binaryOp<A = NoAttrs>(name: string, spec: BinarySpec<A>): ElementwiseOpDef<A> {
  const base = defineOp<A>({
    attrs: spec.attrs ?? (NoAttrs as unknown as t.Type<A, unknown, unknown>),
    arity: 2,
    shape: (ins, a) => { requireF32(name, ins); spec.check?.(ins, a); return { shape: broadcastShape(name, ins), dtype: "f32" }; },
    vjp: (b, g, [x, y], out, a) => {
      const [gx, gy] = spec.vjp(b, g, x!, y!, out, a);
      return [gx === null ? null : b.sumTo(gx, b.type(x!).shape), gy === null ? null : b.sumTo(gy, b.type(y!).shape)];
    },
    lower: () => { throw new Error("replaced below"); },
  });
  const num = spec.num ?? (() => []);
  return finish(name, base, {
    arity: 2, num,
    js: (args, n) => spec.js(args[0]!, args[1]!, n),
    lower: (L, args, n) => spec.lower(L, args[0]!, args[1]!, n),
  });
}
