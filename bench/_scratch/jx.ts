import { init, numpy as np, jit, blockUntilReady } from "@jax-js/jax";
await init("wasm");
for (const n of [256, 512, 1024]) {
  const a = np.array(new Float32Array(n * n).map(() => Math.random())).reshape([n, n]);
  const b = np.array(new Float32Array(n * n).map(() => Math.random())).reshape([n, n]);
  const mm = jit((x: np.Array, y: np.Array) => np.matmul(x, y));
  for (let i = 0; i < 3; i++) { const c = mm(a.ref, b.ref); await blockUntilReady(c); console.log(c.refCount); c.dispose(); }
  const t0 = performance.now(); const R = 5;
  for (let i = 0; i < R; i++) { const c = mm(a.ref, b.ref); c.dataSync(); }
  const dt = (performance.now() - t0) / R / 1000;
  console.log(n, (2 * n ** 3 / dt / 1e9).toFixed(2), "GFLOP/s");
}
