/** What the ONNX import tests share: PyTorch's records of a fixture, the error measure, loading. */
import type { Net } from "../../src/index.js";
import type { Imported } from "../../src/onnx/import.js";

interface TensorJson { readonly shape: number[]; readonly data: number[] }

/** make_onnx.py's and random_onnx_fixtures.py's record: eval logits, then three SGD steps. */
export interface OnnxFixture {
  readonly x: TensorJson;
  readonly logits: TensorJson;
  readonly train: { lr: number; steps: { x: TensorJson; labels: number[] }[]; losses: number[]; logits: TensorJson } | null;
}

/** The worst |a − e| / max(|e_i|, scale) over the tensor, scale the largest |e| (at least 1e-3). */
export function relErr(actual: ArrayLike<number>, expected: readonly number[]): number {
  const scale = Math.max(1e-3, ...expected.map(Math.abs));
  let worst = 0;
  expected.forEach((e, i) => { worst = Math.max(worst, Math.abs(actual[i]! - e) / Math.max(Math.abs(e), scale)); });
  return worst;
}

/** The imported parameters and state into a compiled net. */
export function load(net: Net, imported: Imported): void {
  for (const [k, v] of Object.entries(imported.params)) net.params[k]!.set(v);
  for (const [k, v] of Object.entries(imported.state)) (net.state[k] as Float32Array).set(v as Float32Array);
}
