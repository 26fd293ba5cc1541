/**
 * A long-running process stays flat: compile/use/dispose cycles of varied models (widths, norms,
 * residuals, dropout, 1–4 threads) keep RSS and heap within 10% once warm (issue 9; the full
 * 1,000-cycle run is `npx tsx --expose-gc bench/soak.ts`).
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { expect, it } from "vitest";
import { soakCycle } from "../bench/soak.js";
import { poolStats } from "../runtime/pool.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

it("compile/dispose cycles keep RSS and heap flat", () => {
  const measure = () => { gc(); gc(); const m = process.memoryUsage(); return { rss: m.rss, heap: m.heapUsed }; };
  const leases = poolStats().leases;
  // 60 distinct models (widths, norms, residuals, dropout, 1–4 threads) over and over: once each
  // has been compiled the caches hold them all, so any growth after that is a leak.
  let i = 0;
  for (; i < 60; i++) soakCycle(i, i % 60); // warm: caches, JIT, the first workers
  const warm = measure();
  for (; i < 150; i++) soakCycle(i, i % 60);
  const after = measure();
  expect(poolStats().leases).toBe(leases);
  expect(after.heap / warm.heap, `heap ${warm.heap} → ${after.heap}`).toBeLessThan(1.1);
  expect(after.rss / warm.rss, `rss ${warm.rss} → ${after.rss}`).toBeLessThan(1.1);
}, 120_000);
