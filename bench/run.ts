/**
 * `npm run bench` — kiln against its peers on the same workloads, in one run.
 *
 *   npm run bench                      every workload, every peer
 *   npm run bench -- --only W2,W3      some workloads (a group such as W1, or an id such as W1-512)
 *   npm run bench -- --quick           fewer repetitions (a smoke run)
 *   npm run bench -- --peers kiln,torch  some peers (names or prefixes)
 *
 * For each workload and peer: set up, check that the peer computes the same thing (a failed
 * check gives no number), warm up, then the median over repeated samples. Prints one table per
 * workload with kiln's speed relative to each peer, and writes bench/results.json. Timings are
 * reported, never asserted. Each peer is isolated: one that fails prints "failed: reason".
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  W3_CHECK_ROWS, WORKLOADS, evalInput, initialParams, layerNormData, referenceLayerNorm, referenceLogits, sgemmData,
  trainData, type Norm, type Workload,
} from "./workloads.js";
import { CHROMIUM_PEER, TFJS_CHROMIUM_PEER, runChromium, runTfjsChromium, type ChromiumRun } from "./peers/chromium.js";
import { jaxjs } from "./peers/jaxjs.js";
import { kilnPeer } from "./peers/kiln.js";
import { onnxruntime } from "./peers/onnxruntime.js";
import { TORCH_THREADS, findPython, runTorch, torchBlasWarning, torchPeerName, type TorchRun } from "./peers/torch.js";
import { tfjs } from "./peers/tfjs.js";
import { measurePeak } from "./peak.js";
import { evaluateTargets, formatTargets, type Peak } from "./targets.js";
import { WIDE } from "./wide.js";
import type { Peer, Shared } from "./peers/types.js";
import { runWideBench } from "./wide-run.js";
import { fmt, machine, measure, now, reasonOf, summarize, table, type Outcome } from "./results.js";

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

interface Options {
  readonly quick: boolean;
  readonly only: readonly string[] | null;
  readonly peers: readonly string[] | null;
  readonly out: string;
  /** Measure the wider workloads (W4p–W9, C2, C7) a second time with one core kept busy. */
  readonly load: boolean;
}

const here = path.dirname(fileURLToPath(import.meta.url));

function usage(msg: string): never {
  console.error(`bench: ${msg}\nusage: npm run bench -- [--only W1,W2,W2b,W3,W4,W4p,W5,W6,W7,W8,W9,C2,C7 | W1-256,…] [--peers kiln,jax-js,tfjs,onnxruntime,torch,kiln-chromium,tfjs-wasm-chromium] [--quick] [--no-load] [--out FILE]`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Options {
  let quick = false, load = true, only: string[] | null = null, peers: string[] | null = null, out = path.join(here, "results.json");
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const eq = a.indexOf("=");
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === "--quick") quick = true;
    else if (a === "--no-load") load = false;
    else if (a === "--only" || a.startsWith("--only=")) only = value().split(",").map((s) => s.trim()).filter(Boolean);
    else if (a === "--peers" || a.startsWith("--peers=")) peers = value().split(",").map((s) => s.trim()).filter(Boolean);
    else if (a === "--out" || a.startsWith("--out=")) out = path.resolve(value());
    else usage(`unknown argument ${a}`);
  }
  if (only) {
    const known = new Set([...WORKLOADS.flatMap((w) => [w.id, w.group]), ...WIDE.map((w) => w.id)]);
    const bad = only.filter((o) => !known.has(o));
    if (bad.length) usage(`unknown workload ${bad.join(", ")} (known: ${[...known].join(", ")})`);
  }
  return { quick, only, peers, out, load };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

function makeShared(quick: boolean): Shared {
  const memo = <T>(f: () => T): (() => T) => { let v: T | undefined; return () => (v ??= f()); };
  const params: Partial<Record<Norm, Record<string, Float32Array>>> = {};
  const sgemm = new Map<number, { a: Float32Array; b: Float32Array }>();
  const train = memo(trainData);
  const input = memo(evalInput);
  const lnData = memo(layerNormData);
  const shared: Shared = {
    quick,
    train,
    params: (norm) => (params[norm] ??= initialParams(norm)),
    evalInput: input,
    referenceLogits: memo(() => referenceLogits(shared.params("layerNorm"), input(), W3_CHECK_ROWS)),
    sgemm: (n) => { let d = sgemm.get(n); if (!d) sgemm.set(n, (d = sgemmData(n))); return d; },
    layerNorm: lnData,
    layerNormReference: memo(() => referenceLayerNorm(lnData())),
  };
  return shared;
}


async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const log = (s: string) => console.error(s);
  const workloads = WORKLOADS.filter((w) => !opts.only || opts.only.includes(w.group) || opts.only.includes(w.id));
  const wanted = (name: string) => !opts.peers || opts.peers.some((p) => name === p || name.startsWith(p));
  const peers: Peer[] = [kilnPeer(2), kilnPeer(1), jaxjs(), tfjs("cpu"), tfjs("wasm"), onnxruntime(1), onnxruntime(2)].filter((p) => wanted(p.name));
  const torchNames = TORCH_THREADS.map(torchPeerName).filter(wanted);
  const torchWorkloads = workloads.filter((w) => !w.kilnOnly);
  const shared = makeShared(opts.quick);
  const started = new Date();
  const loadStart = os.loadavg();
  const t0 = now();
  log(`kiln bench${opts.quick ? " (quick)" : ""}: ${workloads.map((w) => w.id).join(", ")} on ${(machine()["cpu"] as string)}, node ${process.version}`);
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  if (loadStart[0]! > 0.5) {
    log(`  warning: load average ${loadStart[0]!.toFixed(2)} on ${cores} cores — other processes are running; figures (multi-threaded ones most) will be low and noisy`);
  }

  // The SIMD128 multiply-add peak W1 is held against, measured here, before any peer loads the machine.
  let peak: Peak | undefined;
  if (workloads.some((w) => w.group === "W1")) {
    peak = { 1: (await measurePeak(1)).gflops, 2: (await measurePeak(2)).gflops };
    log(`  SIMD128 FMA peak (register-only f32x4 multiply-add loop): ${peak[1].toFixed(1)} GFLOP/s on 1 thread, ${peak[2].toFixed(1)} on 2`);
  }

  const outcomes = new Map<string, Outcome[]>(workloads.map((w) => [w.id, []]));
  const peerInfo: Record<string, Record<string, unknown>> = {};
  const setupErrors = new Map<string, string>();
  for (const p of peers) {
    try {
      await p.setup?.();
      peerInfo[p.name] = { threads: p.threads, ...p.info?.() };
    } catch (e) {
      setupErrors.set(p.name, reasonOf(e));
      peerInfo[p.name] = { threads: p.threads, setupError: reasonOf(e) };
      log(`  ${p.name}: setup failed: ${reasonOf(e)}`);
    }
  }

  for (const w of workloads) {
    for (const p of peers) {
      if (!p.supports(w)) continue;
      const record = (o: Outcome) => {
        outcomes.get(w.id)!.push(o);
        const text = o.status === "ok" ? `${fmt(o.median)} ${o.unit} ±${o.spreadPct.toFixed(1)}% (${o.samples.length} samples) — ${o.check}` : `${o.status}: ${o.reason}`;
        log(`  [${w.id}] ${p.name}: ${text}`);
      };
      const setupError = setupErrors.get(p.name);
      if (setupError) { record({ status: "failed", peer: p.name, threads: p.threads, reason: setupError }); continue; }
      try {
        const c = await p.prepare(w, shared);
        if (!c) { record({ status: "n/a", peer: p.name, threads: p.threads, reason: "not measured" }); continue; }
        try {
          record(summarize(w, p.name, p.threads, await measure(() => c.run(), opts.quick, c.warmedUp), c.check));
        } finally {
          await c.dispose?.();
        }
      } catch (e) {
        record({ status: "failed", peer: p.name, threads: p.threads, reason: reasonOf(e) });
      }
    }
  }

  // PyTorch runs last, in its own process, all its cases at once.
  let torch: TorchRun | null = null;
  let blasWarning: string | null = null;
  if (torchNames.length) {
    const python = findPython();
    const fail = (reason: string) => {
      for (const w of torchWorkloads) for (const t of TORCH_THREADS) if (torchNames.includes(torchPeerName(t))) outcomes.get(w.id)!.push({ status: "failed", peer: torchPeerName(t), threads: t, reason });
      log(`  torch: ${reason}`);
    };
    if (!python) fail("no python with torch found (set KILN_BENCH_PYTHON)");
    else {
      blasWarning = torchBlasWarning(python);
      if (blasWarning) log(`  torch: WARNING: ${blasWarning}`);
      log(`  torch: running bench/torch_bench.py with ${python}`);
      try {
        torch = await runTorch(python, torchWorkloads, shared, log);
        for (const t of TORCH_THREADS) peerInfo[torchPeerName(t)] = { threads: t, ...torch.info, pythonPath: python, ...(blasWarning ? { blasWarning } : {}) };
        for (const w of torchWorkloads) {
          for (const t of TORCH_THREADS) {
            const name = torchPeerName(t);
            if (!torchNames.includes(name)) continue;
            const r = torch.results.find((x) => x.workload === w.id && x.threads === t);
            const o: Outcome = !r ? { status: "failed", peer: name, threads: t, reason: "no result from torch_bench.py" }
              : r.error || !r.seconds ? { status: "failed", peer: name, threads: t, reason: r.error ?? "no samples" }
              : summarize(w, name, t, r.seconds, r.check ?? "");
            outcomes.get(w.id)!.push(o);
          }
        }
      } catch (e) {
        fail(reasonOf(e));
      }
    }
  }

  // W2 in headless Chromium, each peer in its own browser process: kiln (the web page's ?bench)
  // and TF.js's WASM backend (bench/browser/).
  const w2 = workloads.find((w) => w.id === "W2");
  const browserPeers: [string, () => Promise<ChromiumRun>][] = [
    [CHROMIUM_PEER, () => runChromium(opts.quick ? 100 : 300)],
    [TFJS_CHROMIUM_PEER, () => runTfjsChromium(opts.quick)],
  ];
  for (const [name, run] of w2 ? browserPeers.filter(([n]) => wanted(n)) : []) {
    log(`  ${name}: W2 in headless Chromium`);
    try {
      const r = await run();
      peerInfo[name] = { threads: r.info["threads"], ...r.info };
      outcomes.get("W2")!.push(summarize(w2!, name, Number(r.info["threads"]), r.seconds, r.check));
    } catch (e) {
      outcomes.get("W2")!.push({ status: "failed", peer: name, threads: 2, reason: reasonOf(e) });
    }
    const o = outcomes.get("W2")!.at(-1)!;
    log(`  [W2] ${name}: ${o.status === "ok" ? `${fmt(o.median)} ${o.unit} ±${o.spreadPct.toFixed(1)}% — ${o.check}` : `${o.status}: ${o.reason}`}`);
  }

  const wide = WIDE.filter((w) => !opts.only || opts.only.includes(w.id));
  const wideRows = await runWideBench(wide, opts, wanted, torchNames.length > 0, log);
  for (const [id, rows] of wideRows) outcomes.set(id, rows);
  const shown: { id: string; title: string; unit: string; higherIsBetter: boolean }[] = [
    ...workloads,
    ...wide.flatMap((w) => [w, ...(opts.load && w.mode !== "compile" ? [{ ...w, id: `${w.id}+load`, title: `${w.title}, one core kept busy by another process` }] : [])]),
  ];

  const elapsed = now() - t0;
  console.log("");
  if (peak) console.log(`SIMD128 FMA peak of this machine (bench/peak.ts): ${peak[1].toFixed(1)} GFLOP/s on 1 thread, ${peak[2].toFixed(1)} on 2 — W1's reference\n`);
  for (const w of shown) console.log(table(w as Workload, outcomes.get(w.id) ?? []) + "\n");
  console.log(`kiln÷peer is kiln's speed over the peer's (>1: kiln faster); spread is half the interquartile range. ${elapsed.toFixed(0)} s in all.`);
  const targets = evaluateTargets(outcomes, peak);
  console.log("\n" + formatTargets(targets));
  if (blasWarning) console.log(`\nWARNING: ${blasWarning}`);

  const results = {
    date: started.toISOString(),
    quick: opts.quick,
    seconds: +elapsed.toFixed(1),
    machine: { ...machine(), ...(peak ? { simd128Peak: peak } : {}), loadavgAtStart: loadStart.map((x) => +x.toFixed(2)), loadavgAtEnd: os.loadavg().map((x) => +x.toFixed(2)) },
    peers: peerInfo,
    targets,
    workloads: Object.fromEntries(shown.map((w) => [w.id, {
      title: w.title,
      unit: w.unit,
      higherIsBetter: w.higherIsBetter,
      peers: Object.fromEntries((outcomes.get(w.id) ?? []).map((o) => [o.peer, o.status === "ok"
        ? { status: o.status, threads: o.threads, median: o.median, unit: o.unit, spreadPct: +o.spreadPct.toFixed(2), min: o.min, max: o.max, samples: o.samples, check: o.check }
        : { status: o.status, threads: o.threads, reason: o.reason }])),
    }])),
  };
  writeFileSync(opts.out, JSON.stringify(results, null, 2) + "\n");
  console.log(`wrote ${path.relative(process.cwd(), opts.out) || opts.out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
