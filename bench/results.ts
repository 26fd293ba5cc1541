/**
 * The bench's timing protocol (shared with torch_bench.py) and its results: one outcome per
 * workload and peer, kiln's speed ratio over each peer, the printed tables, the machine.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import type { Workload } from "./workloads.js";

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

export const now = (): number => performance.now() / 1000;

/**
 * Warm up (at least 2 runs and 0.5 s; quick: 1 run, 0.2 s; one run when the check already
 * warmed the case up), then time samples of `inner` back-to-back runs, inner chosen so that a
 * sample lasts ≥ 25 ms; about 4 s of samples (quick: 1 s), at least 5 (quick, or runs over 1 s:
 * 3) and at most 25 (quick: 10). Returns seconds per run, one value per sample.
 * torch_bench.py follows the same protocol.
 */
export async function measure(run: () => unknown, quick: boolean, warmedUp = false): Promise<number[]> {
  return (await measureInterleaved([run], quick, warmedUp))[0]!;
}

/**
 * measure() for several cases at once, their samples taken in turn (a sample of each, then the
 * next round), so a ratio between them sees the same minutes of a machine whose speed swings:
 * kiln at 2 threads against kiln at 1 under load is the question "do threads ever hurt", and
 * measured one after the other a slow minute of the host decided it.
 */
export async function measureInterleaved(runs: readonly (() => unknown)[], quick: boolean, warmedUp = false): Promise<number[][]> {
  const once = async (run: () => unknown): Promise<void> => {
    const r = run();
    if (r instanceof Promise) await r;
  };
  const [warmMin, warmTime] = warmedUp ? [1, 0] : quick ? [1, 0.2] : [2, 0.5];
  const plans = [];
  for (const run of runs) {
    const t0 = now();
    let n = 0;
    while (n < warmMin || (now() - t0 < warmTime && n < 50)) { await once(run); n++; }
    const est = (now() - t0) / n;
    const inner = Math.max(1, Math.ceil(0.025 / est));
    const [budget, lo, hi] = quick ? [1, 3, 10] : [4, est > 1 ? 3 : 5, 25];
    plans.push({ run, inner, count: Math.min(hi, Math.max(lo, Math.round(budget / (est * inner)))), samples: [] as number[] });
  }
  for (let s = 0; plans.some((p) => s < p.count); s++) {
    for (const p of plans) {
      if (s >= p.count) continue;
      const start = now();
      for (let k = 0; k < p.inner; k++) await once(p.run);
      p.samples.push((now() - start) / p.inner);
    }
  }
  return plans.map((p) => p.samples);
}

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

export type Outcome =
  | {
      status: "ok"; peer: string; threads: number; unit: string; median: number;
      /** Half the interquartile range over the median, in percent. */
      spreadPct: number; min: number; max: number; samples: number[]; check: string;
    }
  | { status: "n/a" | "failed"; peer: string; threads: number; reason: string };

export function summarize(w: Workload, peer: string, threads: number, seconds: readonly number[], check: string): Outcome {
  const samples = seconds.map(w.toUnit);
  const sorted = [...samples].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  const spreadPct = ((quantile(sorted, 0.75) - quantile(sorted, 0.25)) / 2 / median) * 100;
  return { status: "ok", peer, threads, unit: w.unit, median, spreadPct, min: sorted[0]!, max: sorted[sorted.length - 1]!, samples, check };
}

export const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split("\n")[0]!.slice(0, 200);

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 1000) return x.toFixed(0);
  return x.toPrecision(4).replace(/\.?0+$/, (m) => (m.startsWith(".") ? "" : m));
}

/** kiln's speed over the peer's: > 1 means kiln is faster, whatever the unit. */
export function speedRatio(w: Workload, kilnValue: number, peerValue: number): number {
  return w.higherIsBetter ? kilnValue / peerValue : peerValue / kilnValue;
}

export function table(w: Workload, outcomes: readonly Outcome[]): string {
  const k = outcomes.find((o) => o.peer === "kiln");
  const kilnMedian = k?.status === "ok" ? k.median : null;
  const rows: string[][] = [["peer", "thr", `median ${w.unit}`, "spread", "n", "kiln÷peer", "check"]];
  for (const o of outcomes) {
    if (o.status !== "ok") {
      rows.push([o.peer, String(o.threads), o.status === "n/a" ? "n/a" : "failed", "", "", "", o.reason]);
      continue;
    }
    const ratio = kilnMedian === null ? "n/a" : o.peer === "kiln" ? "1" : `${fmt(speedRatio(w, kilnMedian, o.median))}×`;
    rows.push([o.peer, String(o.threads), fmt(o.median), `±${o.spreadPct.toFixed(1)}%`, String(o.samples.length), ratio, o.check]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (c === 6 ? 0 : r[c]!.length))));
  const right = new Set([1, 2, 3, 4, 5]);
  const line = (r: string[]) => "  " + r.map((cell, c) => (c === 6 ? cell : right.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ");
  const head = `${w.id} — ${w.title} (${w.unit}, ${w.higherIsBetter ? "higher" : "lower"} is better)`;
  return [head, ...rows.map(line)].join("\n");
}

export function machine(): Record<string, unknown> {
  let cpu = os.cpus()[0]?.model ?? "unknown", flags: string[] = [];
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    cpu = /^model name\s*:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? cpu;
    const f = /^flags\s*:\s*(.*)$/m.exec(info)?.[1]?.split(/\s+/) ?? [];
    flags = ["avx2", "fma", "avx512f"].filter((x) => f.includes(x));
  } catch { /* not Linux */ }
  return {
    cpu, cpuFlags: flags, logicalCpus: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version, platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}
