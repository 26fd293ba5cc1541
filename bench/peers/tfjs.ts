/**
 * TensorFlow.js 4.22 on its CPU (plain JS) and WASM (XNNPACK) backends. Both are single-threaded
 * in Node: the WASM backend's threaded build needs web Workers (WASM_HAS_MULTITHREAD_SUPPORT is
 * false here), so it runs its SIMD build on one thread. The W2/W2b model is tfjs_model.ts's.
 */
import { createRequire } from "node:module";
import path from "node:path";
import {
  CHECK_STEPS, CLASSES, EPS, POOL, W3_CHECK_ROWS, checkClose, checkLayerNorm, checkSgemm, checkTraining, type Norm, type Workload,
} from "../workloads.js";
import { model, w2Trainer } from "./tfjs_model.js";
import type { Case, Peer, Shared } from "./types.js";

type TF = typeof import("@tensorflow/tfjs-core");
type Tensor = import("@tensorflow/tfjs-core").Tensor;

let tfModule: Promise<{ tf: TF; wasm: typeof import("@tensorflow/tfjs-backend-wasm") }> | null = null;

/** tfjs-core with both backends registered, once per process (the wider bench's peer uses it too). */
export function load() {
  tfModule ??= (async () => {
    const tf = await import("@tensorflow/tfjs-core");
    const require = createRequire(import.meta.url);
    // tfjs-core alone registers no gradients (the @tensorflow/tfjs union package does this
    // import). The file is ES-module syntax in a CommonJS package: tsx's require hook loads it.
    require("@tensorflow/tfjs-core/dist/register_all_gradients");
    await import("@tensorflow/tfjs-backend-cpu");
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    // The .wasm binaries ship in the package's dist/ folder.
    wasm.setWasmPaths(path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + path.sep);
    tf.enableProdMode(); // no debug checks; also silences the "install tfjs-node" banner
    return { tf, wasm };
  })();
  return tfModule;
}

/** tfjs on this backend (switched to it if another one is active). */
export async function useBackend(backend: "cpu" | "wasm"): Promise<TF> {
  const { tf } = await load();
  if (tf.getBackend() !== backend) {
    if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} did not initialize`);
  }
  await tf.ready();
  return tf;
}

export function tfjs(backend: "cpu" | "wasm"): Peer {
  let threads = 1;
  let info: Record<string, unknown> = {};
  const use = () => useBackend(backend);
  return {
    name: `tfjs-${backend}`,
    get threads() { return threads; },
    async setup() {
      const tf = await use();
      info = { version: tf.version_core };
      if (backend === "wasm") {
        threads = (await load()).wasm.getThreadsCount();
        info = { ...info, simd: tf.env().getBool("WASM_HAS_SIMD_SUPPORT"), multithread: tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT") };
      }
    },
    info: () => info,
    supports: (w: Workload) => !w.kilnOnly,
    async prepare(w: Workload, shared: Shared): Promise<Case | null> {
      const tf = await use();
      switch (w.group) {
        case "W1": {
          const n = w.n!;
          const { a, b } = shared.sgemm(n);
          const ta = tf.tensor2d(a, [n, n]), tb = tf.tensor2d(b, [n, n]);
          const run = () => { const c = tf.matMul(ta, tb); const d = c.dataSync(); c.dispose(); return d; };
          return { run, check: checkSgemm(n, a, b, run()), dispose: () => tf.dispose([ta, tb]) };
        }
        case "W2": case "W2b": {
          const norm: Norm = w.group === "W2" ? "layerNorm" : "batchNorm";
          const t = w2Trainer(tf, norm, shared.params(norm), shared.train());
          const step = t.step;
          const losses: number[] = [];
          for (let s = 0; s < CHECK_STEPS; s++) losses.push(step(0));
          const check = checkTraining(losses);
          let i = 0;
          return {
            check,
            warmedUp: true,
            run: () => step(i++ % POOL),
            dispose: t.dispose,
          };
        }
        case "W3": {
          const m = model(tf, "layerNorm", shared.params("layerNorm"));
          const xe = shared.evalInput();
          const x = tf.tensor2d(xe, [xe.length / 784, 784]);
          const run = () => { const y = tf.tidy(() => m.forward(x, false)); const d = y.dataSync(); y.dispose(); return d; };
          const out = run();
          const rel = checkClose("logits", out.subarray(0, W3_CHECK_ROWS * CLASSES), shared.referenceLogits(), 1e-4);
          return { run, check: `logits vs f64 forward: ${rel.toExponential(1)}`, dispose: () => tf.dispose([x, ...Object.values(m.vars)]) };
        }
        case "W2u": return null; // kiln only (supports() is false)
        case "W4": {
          const d = shared.layerNorm();
          const rows = d.x.length / d.weight.length, cols = d.weight.length;
          const x = tf.tensor2d(d.x, [rows, cols]), wt = tf.tensor1d(d.weight), bt = tf.tensor1d(d.bias), dy = tf.tensor2d(d.dy, [rows, cols]);
          const f = tf.valueAndGrads((x: Tensor, w: Tensor, b: Tensor) => {
            const { mean, variance } = tf.moments(x, 1, true);
            return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, EPS))), w), b);
          });
          const once = () => { const { value, grads } = f([x, wt, bt], dy); return [value, ...grads] as Tensor[]; };
          const [y, dx, dw, db] = once().map((t) => { const a = t.dataSync() as Float32Array; t.dispose(); return a; }) as Float32Array[];
          const check = checkLayerNorm({ y: y!, dx: dx!, dw: dw!, db: db! }, shared.layerNormReference());
          const run = () => { const outs = once(); outs[3]!.dataSync(); tf.dispose(outs); };
          return { run, check, dispose: () => tf.dispose([x, wt, bt, dy]) };
        }
      }
    },
  };
}
