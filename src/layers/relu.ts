import type { ReluNode } from "./node.js";

/** The ReLU marker type: passes its input size through (no phantom sizes, see ./sized.ts). */
export type Relu = ReluNode;

/**
 * Rectified linear unit, max(0, x). A value, not a function: write `relu`, not `relu()`.
 * @example seq(linear(784, 256), relu, linear(256, 10))
 */
export const relu: Relu = Object.freeze({ kind: "relu" as const });
