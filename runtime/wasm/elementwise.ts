import type { ModuleBuilder } from "./builder.js";
export interface ElementwiseExports {}
export function emitElementwise(_m: ModuleBuilder): void {}
export function bindElementwise(_ex: Record<string, (...a: number[]) => unknown>): ElementwiseExports { return {}; }
