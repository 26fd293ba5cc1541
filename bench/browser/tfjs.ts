/**
 * W2 on TensorFlow.js's WASM backend in the browser: the page `npm run bench` opens in headless
 * Chromium next to kiln's (peer tfjs-wasm-chromium, bench/peers/chromium.ts). The same model,
 * parameters, batches and train step as the Node peer (bench/peers/tfjs_model.ts). Served
 * cross-origin isolated, so the backend picks its threaded SIMD build (XNNPACK's thread pool on
 * Web Workers), asked for as many threads as logical cores (`?threads=N` to choose).
 *
 * Protocol (that of bench/run.ts's measure()): the check's 20 steps on batch 0 are the warm-up;
 * then samples of back-to-back steps (each ≥ 25 ms) cycling the 8 batches, about 4 s of them
 * (`?quick`: 1 s), 5 to 25 (quick: 3 to 10). #status says "done" (or "error"); #result's
 * data-seconds holds seconds per step of each sample, data-check the check, data-threads the threads.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients.js"; // tfjs-core alone registers no gradients
import { getThreadsCount, setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { CHECK_STEPS, POOL, checkTraining, initialParams, trainData } from "../workloads.js";
import { w2Trainer } from "../peers/tfjs_model.js";

const status = document.getElementById("status")!, result = document.getElementById("result")!;

async function run(): Promise<void> {
  const query = new URLSearchParams(location.search), quick = query.has("quick");
  setWasmPaths("./"); // the .wasm files are served beside this page (copied there by the bench)
  // A user after speed asks for the logical cores (kiln's page uses them all). tfjs 4.22 keeps
  // its default, logical cores / 2 (1 on a 2-core machine): setThreadsCount has no effect
  // (tensorflow/tfjs issue 8513). #result's data-threads reports the count it really uses.
  setThreadsCount(Number(query.get("threads") ?? navigator.hardwareConcurrency));
  if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend did not initialize");
  tf.enableProdMode();
  const t = w2Trainer(tf, "layerNorm", initialParams("layerNorm"), trainData());
  const losses: number[] = [];
  let t0 = performance.now();
  for (let s = 0; s < CHECK_STEPS; s++) losses.push(t.step(0));
  const est = (performance.now() - t0) / 1000 / CHECK_STEPS;
  const check = checkTraining(losses);
  const inner = Math.max(1, Math.ceil(0.025 / est));
  const [budget, lo, hi] = quick ? [1, 3, 10] : [4, est > 1 ? 3 : 5, 25];
  const count = Math.min(hi, Math.max(lo, Math.round(budget / (est * inner))));
  const seconds: number[] = [];
  let b = 0;
  for (let s = 0; s < count; s++) {
    t0 = performance.now();
    for (let k = 0; k < inner; k++) t.step(b++ % POOL);
    seconds.push((performance.now() - t0) / 1000 / inner);
  }
  t.dispose();
  const threads = getThreadsCount();
  Object.assign(result.dataset, { seconds: JSON.stringify(seconds), check, threads: String(threads) });
  result.textContent = `${check}; ${threads} threads; seconds per step: ${seconds.map((x) => x.toFixed(3)).join(" ")}`;
  status.textContent = "done";
}

run().catch((e: unknown) => {
  result.textContent = e instanceof Error ? e.message : String(e);
  status.textContent = "error";
});

// This project's TypeScript has no DOM library: what this page uses of it.
declare const document: { getElementById(id: string): { textContent: string | null; dataset: Record<string, string | undefined> } | null };
declare const location: { search: string };
declare const navigator: { hardwareConcurrency: number };
