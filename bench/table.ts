/**
 * `npx tsx bench/table.ts run1.json run2.json …`: several full `npm run bench` results as one
 * markdown table (the README's), each cell the median over the runs of that run's median, with
 * kiln's per-run ratio to PyTorch eager at its best thread count beside it; then every target with
 * its ratio in each run and how many runs met it. Runs on a shared VM swing by tens of percent,
 * so a figure is only worth its spread across runs: the table shows both.
 */
import { readFileSync } from "node:fs";

interface PeerResult { readonly status: string; readonly median?: number; readonly threads?: number }
interface Workload { readonly title: string; readonly unit: string; readonly higherIsBetter: boolean; readonly peers: Record<string, PeerResult> }
interface Target { readonly target: string; readonly ratio: number | null; readonly met: boolean }
interface Results { readonly date: string; readonly seconds: number; readonly workloads: Record<string, Workload>; readonly targets: Target[]; readonly machine: { readonly loadavgAtStart?: number[] } }

/** Columns in this order; a peer not listed here gets a column after them. */
const ORDER = ["kiln", "kiln-1t", "torch-1t", "torch-2t", "jax-js", "tfjs-wasm", "tfjs-cpu", "onnxruntime-1t", "onnxruntime-2t", "kiln-chromium", "tfjs-wasm-chromium"];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number): string => x >= 100 ? Math.round(x).toLocaleString("en") : x >= 10 ? x.toFixed(1) : x.toFixed(2);

function main(files: string[]): void {
  if (files.length === 0) {
    console.error("usage: npx tsx bench/table.ts results1.json [results2.json …]");
    process.exit(2);
  }
  const runs = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as Results);
  const ids = [...new Set(runs.flatMap((r) => Object.keys(r.workloads)))];
  const seen = new Set(runs.flatMap((r) => Object.values(r.workloads).flatMap((w) => Object.keys(w.peers))));
  const peers = [...ORDER.filter((p) => seen.has(p)), ...[...seen].filter((p) => !ORDER.includes(p)).sort()];

  console.log(`${runs.length} runs: ${runs.map((r) => `${r.date} (${r.seconds.toFixed(0)} s, load ${r.machine.loadavgAtStart?.[0] ?? "?"})`).join("; ")}\n`);
  console.log(`| workload | unit | ${peers.join(" | ")} | kiln ÷ PyTorch best, per run |`);
  console.log(`| --- | --- | ${peers.map(() => "---").join(" | ")} | --- |`);
  for (const id of ids) {
    const ws = runs.map((r) => r.workloads[id]).filter((w): w is Workload => w !== undefined);
    const w = ws[0]!;
    const cell = (p: string): string => {
      const ms = ws.map((x) => x.peers[p]).filter((o) => o?.status === "ok" && o.median !== undefined).map((o) => o!.median!);
      return ms.length === 0 ? "" : fmt(median(ms));
    };
    // kiln (its default) against PyTorch at its better thread count, in each run separately.
    const ratios = ws.map((x) => {
      const k = x.peers["kiln"]?.median, t = [x.peers["torch-1t"]?.median, x.peers["torch-2t"]?.median].filter((v): v is number => v !== undefined);
      if (k === undefined || t.length === 0) return "";
      const best = x.higherIsBetter ? Math.max(...t) : Math.min(...t);
      return (x.higherIsBetter ? k / best : best / k).toFixed(2);
    }).filter((s) => s !== "");
    console.log(`| ${id} | ${w.unit} | ${peers.map(cell).join(" | ")} | ${ratios.join(", ")} |`);
  }

  console.log("\n| target | ratio per run | met |");
  console.log("| --- | --- | --- |");
  // The SGEMM targets name each run's measured peak ("(48.8 of 57.4 GFLOP/s)"): one row for all runs.
  const key = (target: string) => target.replace(/ \([\d.]+ of [\d.]+ GFLOP\/s\)$/, "");
  for (const name of new Set(runs.flatMap((r) => r.targets.map((t) => key(t.target))))) {
    const per = runs.map((r) => r.targets.find((x) => key(x.target) === name));
    const met = per.filter((x) => x?.met).length, had = per.filter((x) => x !== undefined).length;
    // "—": the run did not have this target (an older bench); "n/a": it had it but not the figures.
    console.log(`| ${name} | ${per.map((x) => (x === undefined ? "—" : x.ratio == null ? "n/a" : x.ratio.toFixed(2))).join(", ")} | ${met}/${had} |`);
  }
}

main(process.argv.slice(2));
