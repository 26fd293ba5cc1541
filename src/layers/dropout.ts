import { checkRange } from "./check.js";
import type { DropoutNode } from "./node.js";

/** The dropout marker type: passes its input size through. */
export type Dropout = DropoutNode;

/**
 * Dropout with DROP probability p: in training each activation is zeroed with probability p and
 * the survivors are scaled by 1/(1−p); in evaluation the layer is absent from the graph.
 * @example seq(linear(784, 256), relu, dropout(0.1))
 */
export function dropout(p: number): Dropout {
  return Object.freeze({ kind: "dropout" as const, p: checkRange("dropout probability p", p, 0, 1, true) });
}
