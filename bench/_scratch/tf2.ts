import * as tf from "@tensorflow/tfjs-core";
import * as wasm from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import path from "node:path";
const require = createRequire(import.meta.url);
wasm.setWasmPaths(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")) + "/dist/");
await tf.setBackend("wasm"); await tf.ready();
for (const n of [256, 512]) {
  const a = tf.randomNormal([n, n]); const b = tf.randomNormal([n, n]);
  for (let i = 0; i < 8; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b); const t1 = performance.now(); c.dataSync(); const t2 = performance.now(); c.dispose();
    console.log(n, (t1 - t0).toFixed(1), (t2 - t1).toFixed(1), (2 * n ** 3 / ((t2 - t0) / 1000) / 1e9).toFixed(2));
  }
}
