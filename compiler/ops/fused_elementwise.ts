/**
 * A chain of elementwise primitives as ONE loop over its output domain: the fusion pass builds
 * it, and lowering generates a JavaScript kernel with the shapes and constants inlined plus a
 * WebAssembly SIMD module (elementwise_codegen.ts). Its code ops are the registry's elementwise
 * primitives (their table is passed in by index.ts) and `const` / `mask`.
 */
import { size } from "../ir/types.js";
import { defineMultiOp, shapeError, type OpDef } from "./def.js";
import { CodeAttrs, arityIn, lowerCode, type FusedElementwiseAttrs, type ScalarTable } from "./elementwise_codegen.js";
import { printSum, sumProblem, sumShape } from "./fused_sums.js";

export type { ElementInstr, FusedElementwiseAttrs } from "./elementwise_codegen.js";

const fmt = (a: FusedElementwiseAttrs, k: number) => {
  const name = (s: number) => (s < k ? `in${s}` : `t${s - k}`);
  const body = a.code.map((c, j) => `t${j}=${c.op}(${[...c.args.map(name), ...c.num.map(String)].join(",")})`).join(" ");
  const sums = a.sums.map((s) => ` ${printSum(s, name)}`).join("");
  return `shape=[${a.shape.join(",")}] ${body} →${a.outputs.length ? ` ${a.outputs.map(name).join(",")}` : ""}${sums}`;
};

export function fusedElementwiseOp(table: ScalarTable): OpDef<FusedElementwiseAttrs> {
  return defineMultiOp<FusedElementwiseAttrs>({
    attrs: CodeAttrs,
    arity: null,
    shapes: (ins, a) => {
      const k = ins.length;
      ins.forEach((v, j) => {
        const off = a.shape.length - v.shape.length;
        if (off < 0 || v.shape.some((d, i) => d !== 1 && d !== a.shape[off + i])) shapeError("fused_elementwise", ins, `input ${j} does not broadcast to [${a.shape.join(",")}]`);
      });
      // Slots index arrays and become identifiers of generated code: plain non-negative integers only (not −0).
      const slotOk = (s: number, limit: number) => Number.isInteger(s) && s >= 0 && !Object.is(s, -0) && s < limit;
      a.code.forEach((c, j) => {
        if (c.num.some((x) => !Number.isFinite(x))) shapeError("fused_elementwise", ins, `code[${j}] ${c.op} has a non-finite number`);
        const arity = arityIn(table, c.op);
        if (arity === undefined) shapeError("fused_elementwise", ins, `code[${j}]: no elementwise op ${JSON.stringify(c.op)}`);
        if (c.args.length !== arity || c.args.some((s) => !slotOk(s, k + j))) {
          shapeError("fused_elementwise", ins, `code[${j}] ${c.op} has bad arguments [${c.args.join(",")}]`);
        }
        const [p, seed, stream] = c.num as [number, number, number];
        const u32 = (x: number) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
        if (c.op === "mask" && (ins[c.args[0]!]?.dtype !== "i32" || c.num.length !== 3 || !(p >= 0 && p < 1) || !u32(seed) || !u32(stream))) {
          shapeError("fused_elementwise", ins, `code[${j}] mask needs the i32 step input and [p, seed, stream]`);
        }
        if (c.op === "const" && c.num.length !== 1) shapeError("fused_elementwise", ins, `code[${j}] const needs one number`);
      });
      if (a.outputs.some((s) => !slotOk(s, k + a.code.length))) shapeError("fused_elementwise", ins, "bad output slot");
      a.sums.forEach((s, j) => {
        if (!slotOk(s.slot, k + a.code.length) || ins[s.slot]?.dtype === "i32") shapeError("fused_elementwise", ins, `sums[${j}]: bad slot ${s.slot}`);
        const why = sumProblem(a.shape, s);
        if (why !== null) shapeError("fused_elementwise", ins, `sums[${j}]: ${why}`);
      });
      return [
        ...a.outputs.map(() => ({ shape: a.shape, dtype: "f32" as const })),
        ...a.sums.map((s) => ({ shape: sumShape(a.shape, s), dtype: "f32" as const })),
      ];
    },
    vjp: null,
    elementwise: true,
    // Only the elementwise outputs may take an input's buffer: a sum accumulates over the whole loop.
    inPlaceOutputs: (a) => a.outputs.length,
    lower: (a, ins) => lowerCode(a, ins, table),
    printAttrs: fmt,
    flops: (a) => size(a.shape) * (a.code.filter((c) => c.op !== "const").length + a.sums.length),
  });
}
