/**
 * Softmax cross-entropy, loss and logit gradient in one pass over each row of z [rows, classes]:
 *   m = max z,  s = Σ e^(z − m),  lse = m + ln s          (every exponent ≤ 0: no overflow)
 *   loss = scale · Σ_rows (z[label] − lse)
 *   dz = gradScale · (onehot − e^(z − m)/s · [label in range])
 * e^(z − m) is written into dz by the first pass and scaled by the second.
 * p = [rows, classes, scale, gradScale]; bufs = z, labels (int32), loss (one value), dz.
 */
import type { FloatArray, Kernel } from "./types.js";

export const softmaxXent: Kernel = (bufs, p) => {
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
