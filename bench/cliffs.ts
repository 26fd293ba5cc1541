/**
 * The cliff sweep (issue 11): kiln on many models nobody tuned it for, against PyTorch eager.
 *
 *   npm run bench:cliffs -- [--dsl N] [--first S] [--budget SECONDS] [--rounds R] [--only REGEX] [--top K] [--json FILE]
 *
 * bench/torch_cliffs.py draws the models (every built-in layer, activation, loss and optimizer
 * at widths 32-1024 and batches 1-512, the fixtures' user functions and layers, and N random
 * user-DSL models of test/fixtures/random_dsl_fixtures.py) as the fixtures' JSON descriptions;
 * kiln builds them with test/helpers/fixture-model.ts, PyTorch with kiln_torch.py. Model by model,
 * kiln is compiled (threads: 1, and the default) and timed on trainStep, gradients and predict,
 * then the same Python process times PyTorch on the same shapes at 1 and 2 threads, so both see
 * the same minutes of a shared machine (--rounds R alternates them R times and takes each side's
 * median). The table is ranked by kiln ÷ PyTorch at one thread.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { compile } from "../src/index.js";
import { build, lossOf, optimizerOf, type LayerJson, type LossJson, type OptimizerJson } from "../test/helpers/fixture-model.js";
import { findPython, torchBlasWarning } from "./peers/torch.js";

interface Spec {
  readonly id: string; readonly model: LayerJson; readonly inputs: number; readonly outputs: number;
  readonly batch: number; readonly loss: LossJson; readonly optimizer: OptimizerJson;
}
const MODES = ["train", "gradients", "predict"] as const;
type Mode = (typeof MODES)[number];
type Times = Partial<Record<`${Mode}${1 | 2}`, number>>;
interface Row { readonly spec: Spec; readonly mode: Mode; readonly kiln1: number; readonly kilnN: number; readonly torch1: number; readonly torch2: number }

const here = path.dirname(fileURLToPath(import.meta.url));

function args() {
  const a = process.argv.slice(2);
  const get = (k: string, d: string) => { const i = a.indexOf(k); return i >= 0 && a[i + 1] !== undefined ? a[i + 1]! : d; };
  return {
    dsl: Number(get("--dsl", "30")), first: Number(get("--first", "0")), budget: Number(get("--budget", "0.25")), rounds: Number(get("--rounds", "1")),
    only: new RegExp(get("--only", "")), top: Number(get("--top", "40")), json: get("--json", ""),
  };
}

/** Seconds per call: warm-up, then 5 samples of at least budget/5 s each; the median (torch_cliffs.py measures the same way). */
function measure(run: () => void, budget: number): number {
  const t0 = performance.now();
  let n = 0;
  while (n < 2 || (performance.now() - t0 < budget * 250 && n < 20)) { run(); n++; }
  const est = (performance.now() - t0) / 1e3 / n;
  const inner = Math.max(1, Math.ceil(budget / 5 / est));
  const samples: number[] = [];
  for (let s = 0; s < 5; s++) {
    const t = performance.now();
    for (let i = 0; i < inner; i++) run();
    samples.push((performance.now() - t) / 1e3 / inner);
  }
  return samples.sort((x, y) => x - y)[2]!;
}

/** Deterministic data of the spec's shapes: x ~ U(-2, 2); labels as the loss takes them. */
function data(s: Spec): { x: Float32Array; labels: Float32Array | Int32Array } {
  let u = 12345;
  const next = () => ((u = (Math.imul(u, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const x = Float32Array.from({ length: s.batch * s.inputs }, () => 4 * next() - 2);
  const kind = typeof s.loss === "string" ? s.loss : s.loss.kind;
  if (kind === "softmaxCrossEntropy") return { x, labels: Int32Array.from({ length: s.batch }, () => Math.floor(next() * s.outputs)) };
  const bce = kind === "binaryCrossEntropy";
  return { x, labels: Float32Array.from({ length: s.batch * s.outputs }, () => (bce ? next() : 2 * next() - 1)) };
}

/** A compiled net and its timer: seconds per call of each mode; `js` the steps of its programs running a JavaScript kernel ("program: kernel"). */
function kilnTimer(s: Spec, threads: number | undefined) {
  const { x, labels } = data(s);
  const net = compile(build(s.model), {
    inputs: s.inputs, batch: s.batch, seed: 0, loss: lossOf(s.loss), optimizer: optimizerOf(s.optimizer),
    ...(threads === undefined ? {} : { threads }),
  });
  const out = new Float32Array(s.batch * s.outputs);
  const t = (net.trainStep as (x: Float32Array, l: Float32Array | Int32Array) => number).bind(net);
  const g = (net.gradients as (x: Float32Array, l: Float32Array | Int32Array) => unknown).bind(net);
  return {
    time: (budget: number): Record<Mode, number> => ({
      train: measure(() => t(x, labels), budget),
      gradients: measure(() => g(x, labels), budget),
      predict: measure(() => net.predict(x, out), budget),
    }),
    js: () => [...new Set([...net.programs()].flatMap(([name, e]) => e.steps.filter((st) => !st.wasm).map((st) => `${name}: ${st.kernel}`)))],
    dispose: () => net.dispose(),
  };
}

const median = (xs: readonly number[]) => { const s = [...xs].sort((a, b) => a - b), h = s.length >> 1; return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2; };
/** Per key, the median over rounds. */
const medians = <K extends string>(rounds: readonly Record<K, number>[]): Record<K, number> =>
  Object.fromEntries(Object.keys(rounds[0]!).map((k) => [k, median(rounds.map((r) => r[k as K]))])) as Record<K, number>;

/** The PyTorch side: one process, asked model by model. */
function torchServer(python: string, specsFile: string, budget: number) {
  const child = spawn(python, [path.join(here, "torch_cliffs.py"), "serve", specsFile, String(budget)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next();
    if (r.done) throw new Error("bench/torch_cliffs.py ended early");
    return JSON.parse(r.value as string) as Record<string, unknown>;
  };
  return {
    ready: next,
    time: async (i: number): Promise<Times | string> => {
      child.stdin.write(`${i}\n`);
      const r = await next();
      return typeof r["error"] === "string" ? r["error"] : (r as Times);
    },
    close: () => child.stdin.end(),
  };
}

const fmt = (s: number) => (s >= 1e-3 ? `${(s * 1e3).toFixed(2)} ms` : `${(s * 1e6).toFixed(s >= 1e-5 ? 0 : 1)} µs`);
const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length));
const lpad = (s: string, n: number) => (s.length >= n ? s : " ".repeat(n - s.length) + s);

export function table(rows: readonly Row[], top: number): string {
  const sorted = [...rows].sort((a, b) => b.kiln1 / b.torch1 - a.kiln1 / a.torch1).slice(0, top);
  const head = `${pad("model", 52)} ${pad("call", 9)} ${lpad("kiln 1t", 10)} ${lpad("kiln", 10)} ${lpad("torch 1t", 10)} ${lpad("torch 2t", 10)} ${lpad("k1/t1", 6)} ${lpad("k/best t", 8)}`;
  const body = sorted.map((r) => `${pad(r.spec.id, 52)} ${pad(r.mode, 9)} ${lpad(fmt(r.kiln1), 10)} ${lpad(fmt(r.kilnN), 10)} ${lpad(fmt(r.torch1), 10)} ${lpad(fmt(r.torch2), 10)} ${lpad((r.kiln1 / r.torch1).toFixed(2), 6)} ${lpad((r.kilnN / Math.min(r.torch1, r.torch2)).toFixed(2), 8)}`);
  return [head, ...body].join("\n");
}

async function main(): Promise<void> {
  const opts = args();
  const python = findPython();
  if (!python) throw new Error("no python with torch found (set KILN_BENCH_PYTHON)");
  const blasWarning = torchBlasWarning(python);
  if (blasWarning) console.error(`WARNING: ${blasWarning}`);
  const gen = spawnSync(python, [path.join(here, "torch_cliffs.py"), "specs", String(opts.dsl), String(opts.first)], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (gen.status !== 0) throw new Error(`torch_cliffs.py specs failed: ${gen.stderr}`);
  const all = JSON.parse(gen.stdout) as Spec[];
  const dir = mkdtempSync(path.join(os.tmpdir(), "kiln-cliffs-"));
  const specsFile = path.join(dir, "specs.json");
  writeFileSync(specsFile, JSON.stringify(all));
  const torch = torchServer(python, specsFile, opts.budget);
  const rows: Row[] = [];
  const failures: string[] = [];
  const jsKernels: string[] = [];
  try {
    await torch.ready();
    for (let i = 0; i < all.length; i++) {
      const s = all[i]!;
      if (!opts.only.test(s.id)) continue;
      // Rounds alternate kiln (one thread, then the default) and PyTorch, so both sides see the
      // same minutes of a shared machine; each side's time is its median over the rounds.
      let nets: ReturnType<typeof kilnTimer>[];
      try {
        nets = [kilnTimer(s, 1), kilnTimer(s, undefined)];
      } catch (e) {
        failures.push(`${s.id}: kiln: ${String((e as Error).message ?? e).split("\n")[0]}`);
        continue;
      }
      const r1: Record<Mode, number>[] = [], rN: Record<Mode, number>[] = [], rT: Times[] = [];
      let torchError = "";
      try {
        for (let r = 0; r < opts.rounds && !torchError; r++) {
          r1.push(nets[0]!.time(opts.budget));
          rN.push(nets[1]!.time(opts.budget));
          const t = await torch.time(i);
          if (typeof t === "string") torchError = t;
          else rT.push(t);
        }
        const js = nets[0]!.js();
        if (js.length) jsKernels.push(`${s.id}: ${js.join(", ")}`);
      } finally {
        for (const n of nets) n.dispose();
      }
      if (torchError) { failures.push(`${s.id}: torch: ${torchError}`); continue; }
      const k1 = medians(r1), kN = medians(rN), t = medians(rT as Record<string, number>[]) as Times;
      for (const m of MODES) {
        rows.push({ spec: s, mode: m, kiln1: k1[m]!, kilnN: kN[m]!, torch1: t[`${m}1`]!, torch2: t[`${m}2`]! });
      }
      const worst = Math.max(...MODES.map((m) => k1[m]! / t[`${m}1`]!));
      process.stderr.write(`${lpad(String(i + 1), 3)}/${all.length} ${pad(s.id, 52)} worst k1/t1 ${worst.toFixed(2)}\n`);
    }
  } finally {
    torch.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nkiln ÷ PyTorch eager, ranked by kiln 1 thread ÷ PyTorch 1 thread (worst ${opts.top} of ${rows.length}); the machine is shared, ratios are within one run`);
  console.log(table(rows, opts.top));
  console.log(jsKernels.length ? `\nsteps running a JavaScript kernel in the optimized programs:\n  ${jsKernels.join("\n  ")}` : "\nno step of any optimized program runs a JavaScript kernel");
  if (failures.length) console.log(`\nnot measured:\n  ${failures.join("\n  ")}`);
  if (blasWarning) console.log(`\nWARNING: ${blasWarning}`);
  if (opts.json) writeFileSync(opts.json, JSON.stringify(rows.map((r) => ({ id: r.spec.id, mode: r.mode, kiln1: r.kiln1, kiln: r.kilnN, torch1: r.torch1, torch2: r.torch2 })), null, 1));
}

await main();
