/**
 * A two-thread pool of a test file's own, its worker listening before the first test and its
 * judge off: on a busy machine the judge runs calls alone (the unsplit call, the same bits), and
 * then the calls a test makes would not split at all. Closed after the file's tests.
 */
import { afterAll, beforeAll } from "vitest";
import { ThreadPool } from "../../runtime/threads.js";
import { KERNEL_EXPORTS, kernelModule } from "../../runtime/wasm/module.js";

export function splitPool(): { pool: ThreadPool; workerIdle: () => void } {
  const pool = new ThreadPool(2, kernelModule(), KERNEL_EXPORTS);
  pool.judging = false;
  const ctrl = (pool as unknown as { lanes: { ctrl: Int32Array }[] }).lanes[0]!.ctrl;
  beforeAll(async () => {
    for (let k = 0; k < 500 && Atomics.load(ctrl, 6) === 0; k++) await new Promise((done) => setTimeout(done, 10));
  });
  afterAll(() => pool.close());
  /** Wait until the worker has finished its last job: a call finding it busy runs alone (unsplit). */
  const workerIdle = () => { const end = Date.now() + 20_000; while (Atomics.load(ctrl, 1) !== Atomics.load(ctrl, 0) && Date.now() < end); };
  return { pool, workerIdle };
}
