/**
 * checkNumerics inside the fused elementwise kernels. A fused kernel's checked variant checks
 * the outputs it must (numerics-skip.ts) as it stores them, while they are in registers (the
 * module returns 1 if all were finite: runtime/wasm/fused.ts, `check`), instead of a pass that
 * reads each output back afterwards; and an in-place update also stores the input it
 * overwrites into the snapshot (numerics-snapshot.ts), instead of a copy of the array before it.
 * W2's 401,408-float SGD update, one thread (microbenchmark): the kernel 110 µs; with a copy
 * before and a check pass after 296–326 µs; the variant saving in-kernel 131 µs.
 *
 * A variant stores the same values to the same outputs as the program's own module (the
 * checks and saves only read them), so a checked run's results have the same bits; it runs only
 * in checked runs (Executor.useInCheckedRun).
 */
import type { Graph } from "../compiler/ir/graph.js";
import { fusedSpec } from "../compiler/ops/elementwise_codegen.js";
import { scalarOps } from "../compiler/ops/index.js";
import { Lru } from "../runtime/lru.js";
import { emitFusedElementwise } from "../runtime/wasm/fused.js";
import type { Snapshot, SnapshotExecutor } from "./numerics-snapshot.js";

/** What the variants need of an executor (runtime/executor.ts), structurally. */
export interface KernelExecutor extends SnapshotExecutor {
  /**
   * In checked runs, step i runs module `bytes` over its buffers then `extra`; with `checks` the
   * module returns whether the step's checked outputs were finite. False where it cannot.
   */
  useInCheckedRun(step: number, bytes: Uint8Array, extra: readonly Float32Array[], checks: boolean): boolean;
}

/** Module bytes by spec and checked outputs (W7's 49 hidden layers share one update kernel). */
const variants = new Lru<string, Uint8Array>("checkNumerics fused variants", 256);

/**
 * Give every fused elementwise step of `g` with outputs to check (`outs[i]`, value indices) or
 * arrays to save (`snapshot`) its checked variant.
 */
export function useCheckedKernels(g: Graph, exec: KernelExecutor, outs: readonly (readonly number[])[], snapshot: Snapshot | undefined): void {
  g.nodes.forEach((n, i) => {
    if (n.op !== "fused_elementwise") return;
    // The input slot reading each array to save: the same view, so the same elements in order.
    let saves = snapshot?.savedAt(i) ?? [];
    let slots = saves.map((k) => n.inputs.findIndex((v) => exec.buffer(v) === snapshot!.array(k)));
    // Copied before the step instead (a module's saves would sit before its sums' outputs).
    if (slots.some((s) => s < 0) || n.attrs.sums.length > 0) { saves = []; slots = []; }
    const checked = outs[i]!.map((v) => n.outputs.indexOf(v));
    if (saves.length === 0 && checked.length === 0) return;
    const spec = fusedSpec({ ...n.attrs, outputs: [...n.attrs.outputs, ...slots] }, n.inputs.map((v) => g.values[v]!));
    if (!spec || checked.some((o) => o < 0)) return;
    const key = JSON.stringify([spec, checked], (_k, v: unknown) => (Object.is(v, -0) ? "-0" : v));
    const bytes = variants.getOrMake(key, () => emitFusedElementwise(spec, scalarOps, checked));
    if (exec.useInCheckedRun(i, bytes, saves.map((k) => snapshot!.copy(k)), checked.length > 0) && saves.length) snapshot!.savedByKernel(i);
  });
}
