/** The wider workloads of `npm run bench` (bench/wide.ts) against every peer, idle and under load. */
import type { Workload } from "./workloads.js";
import { jaxjsWide } from "./peers/jaxjs_wide.js";
import { tfjsWide } from "./peers/tfjs_wide.js";
import { TORCH_THREADS, findPython, torchPeerName } from "./peers/torch.js";
import { fmt, measure, measureInterleaved, reasonOf, summarize, type Outcome } from "./results.js";
import { burn, kilnCase, runTorchWide, type KilnResult, type WideCase, type WidePeer, type WideWorkload } from "./wide.js";

/**
 * The wider workloads (bench/wide.ts): kiln at 2 and 1 threads, jax-js and TF.js, then PyTorch at 1 and 2 in its
 * own process; idle, then (opts.load) all again with a CPU-burning child process running, as
 * "<id>+load". jax-js and TF.js (bench/peers/*_wide.ts) run in this process after kiln, checked
 * against kiln's case.
 */
export async function runWideBench(ws: readonly WideWorkload[], opts: { readonly quick: boolean; readonly load: boolean }, wanted: (name: string) => boolean, torch: boolean, log: (s: string) => void): Promise<Map<string, Outcome[]>> {
  const rows = new Map<string, Outcome[]>();
  if (!ws.length) return rows;
  const references = new Map<string, Float32Array>();
  const kilnCases = new Map<string, KilnResult>();
  const jsPeers: WidePeer[] = [jaxjsWide(), tfjsWide("cpu"), tfjsWide("wasm")];
  const python = torch ? findPython() : null;
  for (const phase of opts.load ? ["", "+load"] : [""]) {
    const burner = phase ? burn(30 * 60) : null;
    try {
      for (const w of ws) {
        if (phase && w.mode === "compile") continue;
        const id = w.id + phase, out: Outcome[] = [];
        rows.set(id, out);
        const record = (o: Outcome, check: string) => {
          out.push(o);
          log(`  [${id}] ${o.peer}: ${o.status === "ok" ? `${fmt(o.median)} ${w.unit} — ${check}` : `failed: ${o.reason}`}`);
        };
        // kiln first (the JavaScript peers are checked against its case), at 2 and 1 threads
        // with their samples taken in turn (measureInterleaved); tfjs-cpu idle only (its W9
        // predict takes ~7 s).
        const kilnNames = ([["kiln", 2], ["kiln-1t", 1]] as const).filter(([name]) => wanted(name));
        const ready: { name: string; threads: number; c: WideCase }[] = [];
        for (const [name, threads] of kilnNames) {
          try {
            const c = kilnCase(w, threads);
            if (name === "kiln") { kilnCases.set(w.id, { reference: c.reference, grads: c.grads }); if (c.reference) references.set(w.id, c.reference); }
            ready.push({ name, threads, c });
          } catch (e) {
            out.push({ status: "failed", peer: name, threads, reason: reasonOf(e) });
            log(`  [${id}] ${name}: failed: ${reasonOf(e)}`);
          }
        }
        try {
          const seconds = await measureInterleaved(ready.map((r) => r.c.run), opts.quick, w.mode === "train");
          ready.forEach((r, i) => record(summarize(w as unknown as Workload, r.name, r.threads, seconds[i]!, r.c.check), r.c.check));
        } catch (e) {
          for (const r of ready) record({ status: "failed", peer: r.name, threads: r.threads, reason: reasonOf(e) }, "");
        } finally {
          for (const r of ready) r.c.dispose?.();
        }
        const cases: [string, number, () => Promise<WideCase>][] = w.mode === "compile" ? []
          : jsPeers.filter((p) => !phase || p.name !== "tfjs-cpu").map((p) => [p.name, p.threads, () => p.prepare(w, kilnCases.get(w.id))]);
        for (const [name, threads, prepare] of cases) {
          if (!wanted(name)) continue;
          try {
            const c = await prepare();
            try {
              record(summarize(w as unknown as Workload, name, threads, await measure(c.run, opts.quick, w.mode === "train"), c.check), c.check);
            } finally {
              c.dispose?.();
            }
          } catch (e) {
            record({ status: "failed", peer: name, threads, reason: reasonOf(e) }, "");
          }
        }
        if (w.mode === "compile" && !phase) for (const p of jsPeers) if (wanted(p.name)) out.push({ status: "n/a", peer: p.name, threads: p.threads, reason: "jit compiles on first call: nothing to compare" });
      }
      if (!torch) continue;
      const measured = ws.filter((w) => w.mode !== "compile");
      const torchRows = python ? await runTorchWide(python, measured, references, opts.quick).catch((e: unknown) => reasonOf(e)) : "no python with torch found (set KILN_BENCH_PYTHON)";
      log(`  [wide${phase}] torch: ${typeof torchRows === "string" ? torchRows : "done"}`);
      for (const w of measured) {
        for (const t of TORCH_THREADS) {
          const name = torchPeerName(t);
          if (!wanted(name)) continue;
          const r = typeof torchRows === "string" ? { error: torchRows } : torchRows.find((x) => x.workload === w.id && x.threads === t) ?? { error: "no result from torch_wide.py" };
          rows.get(w.id + phase)!.push("seconds" in r && r.seconds ? summarize(w as unknown as Workload, name, t, r.seconds, r.check ?? "")
            : { status: "failed", peer: name, threads: t, reason: ("error" in r && r.error) || "no samples" });
        }
      }
      for (const w of ws.filter((x) => x.mode === "compile")) if (wanted("torch")) rows.get(w.id + phase)?.push({ status: "n/a", peer: "torch", threads: 1, reason: "eager: nothing to compile" });
    } finally {
      burner?.stop();
    }
  }
  return rows;
}
