/**
 * The targets of the performance issue, evaluated on one run's medians: each is a ratio of kiln's
 * figure to a peer's (or to a fraction of the machine's peak), printed with met / missed. A target
 * whose peer did not run prints "not measured" rather than passing. `npm run bench` prints them
 * after its tables; `npx tsx bench/targets.ts [results.json]` prints them for a saved run.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** What the targets need of an outcome: the peer, its thread count, its median. */
export interface Measured { readonly status: string; readonly peer: string; readonly threads: number; readonly median?: number }

export interface TargetResult {
  readonly target: string;
  /** kiln's figure over the reference, oriented so that higher is better for kiln. */
  readonly ratio: number | null;
  readonly need: number;
  readonly met: boolean | null;
  readonly detail: string;
}

/** The WebAssembly SIMD128 multiply-add peak the bench measured (bench/peak.ts), GFLOP/s at 1 and 2 threads. */
export interface Peak { readonly 1: number; readonly 2: number }

type Results = ReadonlyMap<string, readonly Measured[]>;

const ok = (r: Results, id: string) => (r.get(id) ?? []).filter((o): o is Measured & { median: number } => o.status === "ok" && o.median !== undefined);
/**
 * The best median of the peers whose name starts with `prefix` (their best thread count), in
 * Node: the browser peers ("…-chromium") count only when the prefix names them.
 */
function best(r: Results, id: string, prefix: string, higherIsBetter: boolean, threads?: number): (Measured & { median: number }) | null {
  const browser = (peer: string) => peer.endsWith("-chromium") && !prefix.endsWith("-chromium");
  const xs = ok(r, id).filter((o) => o.peer.startsWith(prefix) && !browser(o.peer) && (threads === undefined || o.threads === threads));
  if (!xs.length) return null;
  return xs.reduce((a, b) => ((higherIsBetter ? b.median > a.median : b.median < a.median) ? b : a));
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));

export function evaluateTargets(r: Results, peak?: Peak): TargetResult[] {
  const out: TargetResult[] = [];
  const vs = (id: string, prefix: string, need: number, higherIsBetter: boolean, threads?: number, label?: string) => {
    const k = best(r, id, "kiln", higherIsBetter, threads), p = best(r, id, prefix, higherIsBetter, threads);
    const target = `${id}: kiln${threads ? ` (${threads}t)` : ""} ≥ ${need}× ${label ?? prefix}${threads ? ` (${threads}t)` : ""}${higherIsBetter ? "" : " speed"}`;
    if (!k || !p) { out.push({ target, ratio: null, need, met: null, detail: "not measured" }); return; }
    const ratio = higherIsBetter ? k.median / p.median : p.median / k.median;
    out.push({ target, ratio, need, met: ratio >= need, detail: `${k.peer} ${fmt(k.median)} vs ${p.peer} ${fmt(p.median)}` });
  };
  vs("W1-1024", "torch", 1, true, undefined, "PyTorch eager (its best thread count)");
  for (const id of ["W2", "W2b"]) vs(id, "torch", 1.5, true, undefined, "PyTorch eager (its best thread count)");
  // Every training workload against the JavaScript peers (W4p, net.gradients, is a train step's
  // forward and backward without the update).
  for (const id of ["W2", "W2b", "W4p", "W5", "W7", "W8"]) {
    const higher = id !== "W4p";
    vs(id, "jax-js", 3, higher, undefined, "jax-js (jit)");
    vs(id, "tfjs-wasm", 20, higher, undefined, "TF.js WASM");
  }
  // W2 in headless Chromium (issue 12): kiln in the page against kiln in Node, and against
  // TF.js's WASM backend in the same browser.
  const pair = (id: string, a: string, b: string, need: number, label: string) => {
    const x = ok(r, id).find((o) => o.peer === a), y = ok(r, id).find((o) => o.peer === b);
    const target = `${id}: ${a} ≥ ${need}× ${label}`;
    out.push(x && y ? { target, ratio: x.median / y.median, need, met: x.median >= need * y.median, detail: `${a} ${fmt(x.median)} vs ${b} ${fmt(y.median)}` }
      : { target, ratio: null, need, met: null, detail: "not measured" });
  };
  pair("W2", "kiln-chromium", "kiln", 0.8, "kiln in Node");
  pair("W2", "kiln-chromium", "tfjs-wasm-chromium", 10, "TF.js WASM in the same browser");
  vs("W3", "torch", 1.5, true, undefined, "PyTorch eager (its best thread count)");
  vs("W3", "onnxruntime", 0.7, true, 1);
  vs("W3", "onnxruntime", 0.7, true, 2);
  for (const t of [1, 2] as const) {
    const k = best(r, "W1-1024", "kiln", true, t), p = peak?.[t];
    const target = `W1-1024: kiln (${t}t) ≥ 85% of the measured SIMD128 FMA peak${p ? ` (${(0.85 * p).toFixed(1)} of ${p.toFixed(1)} GFLOP/s)` : ""}`;
    out.push(k && p ? { target, ratio: k.median / p, need: 0.85, met: k.median >= 0.85 * p, detail: `${k.peer} ${fmt(k.median)} GFLOP/s` }
      : { target, ratio: null, need: 0.85, met: null, detail: "not measured" });
  }
  vs("W4", "torch", 1, false, 1, "PyTorch eager");
  vs("W4", "torch", 1, false, 2, "PyTorch eager");
  // The wider bench (bench/wide.ts): idle, and with one core kept busy ("+load").
  for (const id of ["W4p", "W5", "W6", "W7", "W8", "W9"]) {
    const higher = !["W4p", "W6"].includes(id);
    vs(id, "torch", id === "W7" ? 1.5 : 1, higher, undefined, "PyTorch eager (its best thread count)");
    vs(`${id}+load`, "torch", 1, higher, undefined, "PyTorch eager under the same load");
    // At its default thread count kiln is never slower than at 1 thread, even under load.
    const k2 = ok(r, `${id}+load`).find((o) => o.peer === "kiln"), k1 = ok(r, `${id}+load`).find((o) => o.peer === "kiln-1t");
    const target = `${id}+load: kiln (default threads) ≥ 1× kiln-1t`;
    if (!k2 || !k1) out.push({ target, ratio: null, need: 1, met: null, detail: "not measured" });
    else {
      const ratio = higher ? k2.median / k1.median : k1.median / k2.median;
      out.push({ target, ratio, need: 1, met: ratio >= 1, detail: `kiln ${fmt(k2.median)} vs kiln-1t ${fmt(k1.median)}` });
    }
  }
  const under = (id: string, peer: string, limit: number, unit: string) => {
    const k = ok(r, id).find((o) => o.peer === peer), target = `${id}: ${peer} ≤ ${limit} ${unit}`;
    out.push(k ? { target, ratio: limit / k.median, need: 1, met: k.median <= limit, detail: `${fmt(k.median)} ${unit}` } : { target, ratio: null, need: 1, met: null, detail: "not measured" });
  };
  under("W6", "kiln", 50, "µs");
  under("C7", "kiln", 150, "ms");
  return out;
}

export function formatTargets(ts: readonly TargetResult[]): string {
  const w = Math.max(...ts.map((t) => t.target.length));
  return ["Targets (ratios of this run's medians; higher is better for kiln)",
    ...ts.map((t) => `  ${t.target.padEnd(w)}  ${t.ratio === null ? "   —  " : `${t.ratio.toFixed(2)}×`.padStart(6)}  ${t.met === null ? "not measured" : t.met ? "met   " : "MISSED"}  ${t.met === null ? "" : t.detail}`),
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2] ?? fileURLToPath(new URL("./results.json", import.meta.url));
  const saved = JSON.parse(readFileSync(file, "utf8")) as { machine?: { simd128Peak?: Peak }; workloads: Record<string, { peers: Record<string, Omit<Measured, "peer">> }> };
  const r = new Map(Object.entries(saved.workloads).map(([id, w]) => [id, Object.entries(w.peers).map(([peer, o]) => ({ ...o, peer }))]));
  console.log(formatTargets(evaluateTargets(r, saved.machine?.simd128Peak)));
}
