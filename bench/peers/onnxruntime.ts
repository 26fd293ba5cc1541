/**
 * onnxruntime-node (CPU execution provider), inference only: W3 at 1 and 2 intra-op threads.
 * The W3 model is written as ONNX in memory (./onnx.ts) from the shared parameters.
 */
import { CLASSES, INPUTS, W3_CHECK_ROWS, checkClose, type Workload } from "../workloads.js";
import { mlpOnnx } from "./onnx.js";
import type { Case, Peer, Shared } from "./types.js";
import { packageVersion } from "./util.js";

type Ort = typeof import("onnxruntime-node");

export function onnxruntime(threads: number): Peer {
  let ort: Ort | null = null;
  let version = "";
  return {
    name: `onnxruntime-${threads}t`,
    threads,
    async setup() {
      ort = await import("onnxruntime-node");
      version = packageVersion("onnxruntime-node");
    },
    info: () => ({ version, executionProvider: "cpu", intraOpNumThreads: threads, interOpNumThreads: 1 }),
    supports: (w: Workload) => w.group === "W3",
    async prepare(_w: Workload, shared: Shared): Promise<Case | null> {
      const session = await ort!.InferenceSession.create(mlpOnnx(shared.params("layerNorm")), {
        executionProviders: ["cpu"],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: "sequential",
        graphOptimizationLevel: "all",
      });
      const xe = shared.evalInput();
      const x = new ort!.Tensor("float32", xe, [xe.length / INPUTS, INPUTS]);
      const run = async () => (await session.run({ x }))["logits"]!.data as Float32Array;
      const out = await run();
      const rel = checkClose("logits", out.subarray(0, W3_CHECK_ROWS * CLASSES), shared.referenceLogits(), 1e-4);
      return { run, check: `logits vs f64 forward: ${rel.toExponential(1)}`, dispose: () => session.release() };
    },
  };
}
