import { binaryOp } from "./shared.js";
/** z = x + y;  dx = g, dy = g (each reduced to its operand's shape) */
export const add = binaryOp("add", "add", (_b, g) => [g, g]);
