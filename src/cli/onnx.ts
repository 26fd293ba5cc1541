/** The ONNX side of `kiln`: `export` (a model and its checkpoint → .onnx) and `inspect model.onnx`. */
import { compile } from "../compile.js";
import { features } from "../layers/node.js";
import { fromOnnx } from "../onnx/import.js";
import { readRegularFile } from "../io/read-file.js";
import { countParams } from "./tree.js";
import type { Loaded } from "./load.js";

/** Batch of the programs `kiln inspect model.onnx` prints (the file's own batch is symbolic). */
const INSPECT_BATCH = 32;

export async function exportCommand(loaded: Loaded, o: { checkpoint: string; onnx: string; foldBatchNorm: boolean; log: (s: string) => void }): Promise<void> {
  const net = compile(loaded.model, { ...loaded.options, threads: 1 });
  await net.load(o.checkpoint);
  await net.exportOnnx(o.onnx, { program: "eval", foldBatchNorm: o.foldBatchNorm });
  const out = features(loaded.model).out ?? loaded.options.inputs;
  o.log(`wrote ${o.onnx}: ONNX opset 17, input x [batch, ${loaded.options.inputs}] → logits [batch, ${out}], ${countParams(loaded.model).toLocaleString("en-US")} parameters${o.foldBatchNorm ? " (batchNorm folded)" : ""}`);
}

/** An .onnx file as `inspect` reads a model module: the imported model, compiled at a fixed batch. */
export function loadOnnx(file: string): Loaded & { header: string } {
  const { model, inputs } = fromOnnx(readRegularFile(file, "ONNX model")); // not a FIFO or /dev/zero
  const header = `${file}: imported from ONNX, ${inputs} input features (programs shown at batch ${INSPECT_BATCH})`;
  return { model, options: { inputs, batch: INSPECT_BATCH }, file, header };
}
