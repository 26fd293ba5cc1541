/**
 * Softmax cross-entropy, loss and logit gradient in one pass over each row of z [rows, classes]:
 *   m = max z,  s = Σ e^(z − m),  lse = m + ln s          (every exponent ≤ 0: no overflow)
 *   loss = scale · Σ_rows (z[label] − lse)
 *   dz = gradScale · (onehot − e^(z − m)/s · [label in range])
 * e^(z − m) is written into dz by the first pass and scaled by the second.
 * p = [rows, classes, scale, gradScale]; bufs = z, labels (int32), loss (one value), dz.
 */
import { fitsAll } from "./bounds.js";
import type { AnyArray, FloatArray, Kernel, KernelContext } from "./types.js";

const softmaxXentJs = (bufs: readonly AnyArray[], p: readonly number[]): void => {
  const z = bufs[0] as FloatArray, labels = bufs[1] as Int32Array, loss = bufs[2] as FloatArray, dz = bufs[3] as FloatArray;
  const rows = p[0]!, classes = p[1]!, scale = p[2]!, gradScale = p[3]!;
  let total = 0;
  for (let r = 0, o = 0; r < rows; r++, o += classes) {
    let m = -Infinity;
    for (let c = 0; c < classes; c++) if (z[o + c]! > m) m = z[o + c]!;
    let s = 0;
    for (let c = 0; c < classes; c++) { const e = Math.exp(z[o + c]! - m); dz[o + c] = e; s += e; }
    const label = labels[r]!;
    const valid = label >= 0 && label < classes;
    if (valid) total += z[o + label]! - (m + Math.log(s));
    const k = valid ? -gradScale / s : 0;
    for (let c = 0; c < classes; c++) dz[o + c] = dz[o + c]! * k;
    if (valid) dz[o + label] = dz[o + label]! + gradScale;
  }
  loss[0] = scale * total;
};

/**
 * In an arena: the WebAssembly kernel (runtime/wasm/softmax.ts), whose gradient is
 * (softmax − onehot)·scale, so scale = −gradScale; a label out of range counts for nothing in
 * both.
 */
export const softmaxXent: Kernel = Object.assign(softmaxXentJs, {
  prepare: (bufs: readonly AnyArray[], p: readonly number[], ctx: KernelContext) => {
    const rows = p[0]!, classes = p[1]!;
    fitsAll("softmax_xent", bufs, [rows * classes, rows, 1, rows * classes], ["z", "labels", "loss", "dz"]);
    const [z, labels, loss, dz] = bufs.map((b) => b.byteOffset) as [number, number, number, number];
    return ctx.wasm.softmaxCrossEntropy.bind(null, z, labels, loss, dz, 0, p[0]!, p[1]!, -p[3]!, p[2]!) as () => void;
  },
});
