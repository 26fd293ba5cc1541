import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as wasm from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import path from "node:path";
const require = createRequire(import.meta.url);
const dir = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")) + "/dist/";
wasm.setWasmPaths(dir);
for (const be of ["wasm", "cpu"]) {
  await tf.setBackend(be); await tf.ready();
  console.log(be, tf.getBackend(), be === "wasm" ? wasm.getThreadsCount() : "", tf.env().getFlags());
  for (const n of [256, 512]) {
    const a = tf.randomNormal([n, n]); const b = tf.randomNormal([n, n]);
    for (let i = 0; i < 2; i++) tf.tidy(() => tf.matMul(a, b).dataSync());
    const t0 = performance.now(); const R = 3;
    for (let i = 0; i < R; i++) tf.tidy(() => tf.matMul(a, b).dataSync());
    const dt = (performance.now() - t0) / R / 1000;
    console.log(n, (2 * n ** 3 / dt / 1e9).toFixed(2));
  }
}
