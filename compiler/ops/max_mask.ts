import { size } from "../ir/types.js";
import { maxWasm } from "./axis_block.js";
import { defineOp, requireF32, type OpDef } from "./def.js";
import { maxView } from "./max.js";
import { ReduceAttrs } from "./reduce.js";

/** 1 at the first maximal element of each reduced group (see max.ts), 0 elsewhere; no gradient (piecewise constant). */
export const max_mask: OpDef<ReduceAttrs> = defineOp({
  attrs: ReduceAttrs,
  arity: 1,
  shape: (ins, a) => {
    requireF32("max_mask", ins);
    maxView("max_mask", ins, a);
    return ins[0]!;
  },
  vjp: () => [null],
  lower: (a, [x]) => {
    const view = maxView("max_mask", [x!], a);
    return { kernel: "maxMask", params: view, wasm: maxWasm(...view, true) };
  },
  flops: (_a, [x]) => size(x!.shape),
});
