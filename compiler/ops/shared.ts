/** Builders for the two families of elementwise primitives; each op still lives in its own file. */
import * as t from "io-ts";
import { closed } from "../ir/closed.js";
import type { KernelName } from "../../runtime/kernels/index.js";
import type { V } from "../ir/types.js";
import type { GraphBuilder } from "../ir/builder.js";
import { broadcastStrides, defineOp, requireF32, shapeError, type OpDef } from "./def.js";

export const NoAttrs = closed({});
export type NoAttrs = t.TypeOf<typeof NoAttrs>;

/** y = f(x), same shape. */
export function unaryOp(
  name: string,
  kernel: KernelName,
  vjp: (b: GraphBuilder, g: V, x: V, y: V) => V | null,
): OpDef<NoAttrs> {
  return defineOp({
    attrs: NoAttrs,
    arity: 1,
    shape: (ins) => { requireF32(name, ins); return ins[0]!; },
    vjp: (b, g, [x], y) => [vjp(b, g, x!, y)],
    lower: () => ({ kernel, params: [] }),
    elementwise: true,
  });
}

/** Output shape of numpy-style broadcasting (trailing dimensions aligned). */
export function broadcastShape(name: string, ins: readonly { shape: readonly number[]; dtype: "f32" | "i32" }[]): number[] {
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

/** y = f(a, b) with broadcasting; the vjp returns full-shape cotangents, reduced here by sumTo. */
export function binaryOp(
  name: string,
  kernel: KernelName,
  vjp: (b: GraphBuilder, g: V, x: V, y: V, out: V) => [V | null, V | null],
): OpDef<NoAttrs> {
  return defineOp({
    attrs: NoAttrs,
    arity: 2,
    shape: (ins) => { requireF32(name, ins); return { shape: broadcastShape(name, ins), dtype: "f32" }; },
    vjp: (b, g, [x, y], out) => {
      const [gx, gy] = vjp(b, g, x!, y!, out);
      return [gx === null ? null : b.sumTo(gx, b.type(x!).shape), gy === null ? null : b.sumTo(gy, b.type(y!).shape)];
    },
    elementwise: true,
    lower: (_a, ins, out) => ({
      kernel,
      params: [out.shape.length, ...out.shape, ...broadcastStrides(ins[0]!.shape, out.shape), ...broadcastStrides(ins[1]!.shape, out.shape)],
    }),
  });
}
