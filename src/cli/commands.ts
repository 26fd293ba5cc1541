/** The subcommands of `kiln`: inspect, diff, train, eval. */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { diffGraphs } from "../../compiler/ir/diff.js";
import { toDot } from "../../compiler/ir/dot.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { printIR } from "../../compiler/ir/print.js";
import { dce } from "../../compiler/passes/dce.js";
import { runPasses } from "../../compiler/passes/index.js";
import { optimizationPasses } from "../../compiler/pipeline.js";
import { formatSummary, summarize } from "../../compiler/summary.js";
import { KilnError } from "../../runtime/errors.js";
import { UsageError } from "./args.js";
import { compile } from "../compile.js";
import { Batcher } from "../data/batches.js";
import type { Dataset } from "../data/dataset.js";
import { loadData } from "../data/select.js";
import { evaluate } from "../metrics.js";
import { lossOfStep } from "../numerics.js";
import type { Net } from "../net.js";
import type { Loaded } from "./load.js";
import { modelTree } from "./tree.js";

export const GRAPHS = ["forward", "backward", "train", "eval"] as const;
export type GraphName = (typeof GRAPHS)[number];

export function graphName(s: string | undefined, fallback: GraphName): GraphName {
  const g = s ?? fallback;
  if (!(GRAPHS as readonly string[]).includes(g)) throw new UsageError(`--graph must be one of ${GRAPHS.join(", ")}, got ${JSON.stringify(g)}`);
  return g as GraphName;
}

/** The graphs as traced (the reference compilation: no passes, no arena). */
const tracedIR = (loaded: Loaded): Net["ir"] => compile(loaded.model, { ...loaded.options, optimize: false, threads: 1 }).ir;

/** A graph after the optimization pipeline up to `after` ("none": as traced; default: all passes). */
function graphAfter(ir: Net["ir"], name: GraphName, after?: string): Graph {
  const g = ir[name];
  if (name === "forward" || after === "none") return g;
  const names = optimizationPasses.map((p) => p.name);
  const upto = after === undefined ? names.length - 1 : names.indexOf(after);
  if (upto < 0) throw new UsageError(`--after must be "none" or one of ${[...new Set(names)].join(", ")}, got ${JSON.stringify(after)}`);
  return runPasses(g, optimizationPasses.slice(0, upto + 1), name);
}

export function inspect(loaded: Loaded, o: { graph?: string; after?: string; dot?: boolean }): string {
  const ir = tracedIR(loaded);
  if (o.dot) {
    const name = graphName(o.graph, "train");
    return toDot(graphAfter(ir, name, o.after), name);
  }
  const names = o.graph === undefined ? GRAPHS : [graphName(o.graph, "eval")];
  const parts = [modelTree(loaded.model), ""];
  for (const name of names) {
    const g = graphAfter(ir, name, o.after);
    parts.push(`── ${name}${o.after ? ` after ${o.after}` : ""} ──`, printIR(g), "", formatSummary(name, summarize(g)), "");
  }
  return parts.join("\n");
}

/** The forward computation of a program: train-mode forward without the loss, or eval. */
function forwardOnly(ir: Net["ir"], name: string): Graph {
  if (name === "eval") return ir.eval;
  if (name !== "train" && name !== "forward") throw new UsageError(`kiln diff: compares "train" and "eval", got ${JSON.stringify(name)}`);
  const b = new GraphBuilder(ir.forward);
  b.filterOutputs((out) => out.kind !== "loss");
  return dce(b.build());
}

export function diff(loaded: Loaded, a: string, b: string): string {
  const ir = tracedIR(loaded);
  const lines = diffGraphs(forwardOnly(ir, a), forwardOnly(ir, b));
  const header = [`--- ${a} (forward pass${a === "eval" ? "" : " in training mode"})`, `+++ ${b} (forward pass${b === "eval" ? "" : " in training mode"})`];
  const changed = lines.filter((l) => l.startsWith("-") || l.startsWith("+")).length;
  return [...header, ...lines, "", changed ? `${changed} lines differ` : "the two programs compute the same forward pass"].join("\n");
}

function checkInputs(loaded: Loaded, ds: Dataset): void {
  if (loaded.options.inputs !== ds.features) {
    throw new KilnError(`${loaded.file} compiles for ${loaded.options.inputs} input features, but ${ds.name} has ${ds.features}`);
  }
}

export async function train(loaded: Loaded, o: { data?: string; epochs: number; out: string; log: (s: string) => void }): Promise<void> {
  const { train: tr, test } = await loadData(o.data);
  checkInputs(loaded, tr);
  const net = compile(loaded.model, loaded.options);
  const batcher = new Batcher(tr, { batch: loaded.options.batch, seed: loaded.options.seed ?? 0 });
  net.setTotalSteps(o.epochs * batcher.batchesPerEpoch); // a schedule without its own length spans every epoch
  o.log(`training on ${tr.name}: ${tr.count} samples, ${o.epochs} epoch${o.epochs === 1 ? "" : "s"} of ${batcher.batchesPerEpoch} steps`);
  for (let e = 0; e < o.epochs; e++) {
    const t0 = performance.now();
    let sum = 0, n = 0;
    for (const { x, labels } of batcher.epoch(e)) {
      const step = net.step, loss = lossOfStep(net, x, labels);
      // A diverged run stops here (the step with the non-finite loss was not taken).
      if (!Number.isFinite(loss)) {
        throw new KilnError(`the loss is ${loss} at step ${step} (epoch ${e + 1}); stopped without writing ${o.out} (run again with --check-numerics to find the layer and op that made the first non-finite value)`);
      }
      sum += loss;
      n++;
    }
    const r = evaluate(net, test);
    o.log(`epoch ${e + 1}: train loss ${(sum / n).toFixed(4)}, test error ${(r.error * 100).toFixed(2)}%, ${((n * loaded.options.batch) / ((performance.now() - t0) / 1000)).toFixed(0)} samples/s`);
  }
  try {
    mkdirSync(dirname(o.out), { recursive: true });
  } catch (e) {
    throw new KilnError(`--out: cannot make the folder of ${JSON.stringify(o.out)}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  await net.save(o.out);
  o.log(`wrote ${o.out}`);
}

export async function evalCommand(loaded: Loaded, o: { data?: string; checkpoint: string; log: (s: string) => void }): Promise<void> {
  const { test } = await loadData(o.data);
  checkInputs(loaded, test);
  const net = compile(loaded.model, loaded.options);
  await net.load(o.checkpoint);
  const r = evaluate(net, test);
  o.log(`${test.name}: ${test.count} samples, accuracy ${(r.accuracy * 100).toFixed(2)}% (error ${(r.error * 100).toFixed(2)}%), mean loss ${r.loss.toFixed(4)}`);
}
