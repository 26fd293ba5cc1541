/**
 * `kiln profile <model.ts> [--batch N] [--steps N] [--threads N]`: where a step's time goes, per
 * compiled program (train step, gradients, predict), like torch.profiler's table — each kernel's
 * share of the step, its rate (GFLOP/s for arithmetic, GB/s for memory-bound kernels), the threads
 * it splits across, whether it runs in WebAssembly, and the arena each program runs in.
 *
 * Timing brackets every kernel call with performance.now() (Executor.startTiming) after warm-up
 * runs, so the columns add up to the step minus the per-call overhead the wrapper adds (~0.1 µs
 * per kernel); inputs are seeded random numbers, labels random valid ones.
 */
import type { Graph } from "../../compiler/ir/graph.js";
import { size, type ValueType } from "../../compiler/ir/types.js";
import type { OpDef } from "../../compiler/ops/def.js";
import { ops } from "../../compiler/ops/index.js";
import type { ProgramInfo as Executor } from "../../runtime/steps.js";
import { KilnError } from "../../runtime/errors.js";
import { defaultThreads } from "../../runtime/pool.js";
import { compile } from "../compile.js";
import type { Net } from "../net.js";
import { UsageError } from "./args.js";
import type { Loaded } from "./load.js";

export const PROFILE_HELP = `usage: kiln profile <file.ts> [--batch N] [--steps N] [--threads N] [--export NAME]

Runs the train step, gradients and predict on random data and prints, per compiled program, each
kernel's share of the step, its GFLOP/s (matrix products, normalizations, losses) or GB/s
(elementwise, copies, sums), the threads it runs on, and the program's arena.

  --batch N    training and eval batch (default: the options' batch)
  --steps N    timed runs per program after 5 warm-up runs (default 50)
  --threads N  threads the kernels may split across (default: the options', else the machine's cores, at most 8)`;

export interface ProfileOptions {
  readonly batch?: number; readonly steps?: number; readonly threads?: number;
  /** Rows per program (the slowest kernels; default 20). */
  readonly top?: number;
}

/** Parse a positive integer flag or fail naming it. */
export function positiveFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Kernels whose rate is arithmetic (GFLOP/s); the others are reported in GB/s. */
const ARITHMETIC = new Set(["linear", "matmul", "norm_forward", "norm_backward", "softmax_xent", "normalize", "log_softmax"]);

interface Row { readonly i: number; readonly us: number; readonly flops: number; readonly bytes: number; readonly op: string; readonly kernel: string; readonly wasm: boolean; readonly threads: number; readonly shapes: string }

const fmtShape = (t: ValueType) => `[${t.shape.join(",")}]`;

function rows(g: Graph, e: Executor): Row[] {
  const { ms } = e.stepTimes();
  if (g.nodes.length !== e.steps.length) throw new KilnError(`profile: ${e.label} has ${e.steps.length} steps for ${g.nodes.length} nodes`);
  return g.nodes.map((n, i) => {
    const ins = n.inputs.map((v) => g.values[v]!), outs = n.outputs.map((v) => g.values[v]!);
    const def = ops[n.op] as OpDef<unknown>;
    const flops = def.flops ? def.flops(n.attrs, ins, outs) : outs.reduce((s, t) => s + size(t.shape), 0);
    const bytes = [...ins, ...outs].reduce((s, t) => s + 4 * size(t.shape), 0);
    const s = e.steps[i]!;
    return { i, us: ms[i]! * 1000, flops, bytes, op: n.op, kernel: s.kernel, wasm: s.wasm, threads: s.threads, shapes: `${ins.map(fmtShape).join(" ")} → ${outs.map(fmtShape).join(" ")}` };
  });
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

/** The table of one program: slowest kernels first. */
export function formatProgram(name: string, g: Graph, e: Executor, top = 20): string {
  const rs = rows(g, e).sort((a, b) => b.us - a.us);
  const total = rs.reduce((s, r) => s + r.us, 0);
  const head = `── ${name}: ${total.toFixed(1)} µs per run (kernels only, mean of ${e.stepTimes().runs} runs), ${rs.length} kernels, scratch arena ${mib(e.scratchBytes)} ──`;
  const cols = `${"share".padStart(6)} ${"µs".padStart(9)} ${"rate".padStart(13)} ${"thr".padStart(3)}  kernel (op) shapes`;
  const lines = rs.slice(0, top).map((r) => {
    const rate = r.us <= 0 ? "–" : ARITHMETIC.has(r.op) ? `${(r.flops / r.us / 1e3).toFixed(2)} GFLOP/s` : `${(r.bytes / r.us / 1e3).toFixed(2)} GB/s`;
    const kernel = r.kernel === "generated" ? "fused" : r.kernel;
    return `${`${(total > 0 ? (100 * r.us) / total : 0).toFixed(1)}%`.padStart(6)} ${r.us.toFixed(2).padStart(9)} ${rate.padStart(13)} ${String(r.threads).padStart(3)}  #${r.i} ${kernel}${r.wasm ? "" : " [JavaScript]"} (${r.op}) ${r.shapes}`;
  });
  const rest = rs.length > top ? [`  … ${rs.length - top} more kernels, ${rs.slice(top).reduce((s, r) => s + r.us, 0).toFixed(1)} µs`] : [];
  return [head, cols, ...lines, ...rest].join("\n");
}

/** Seeded uniform numbers in [−1, 1) (mulberry32), so two profiles see the same data. */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * 2 - 1;
  };
}

const WARMUP = 5;

function time(e: Executor, run: () => void, steps: number): number {
  for (let i = 0; i < WARMUP; i++) run();
  e.startTiming();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) run();
  return ((performance.now() - t0) / steps) * 1000;
}

export function profile(loaded: Loaded, o: ProfileOptions = {}): string {
  const batch = o.batch ?? loaded.options.batch, steps = o.steps ?? 50;
  const threads = o.threads ?? loaded.options.threads ?? defaultThreads();
  const net: Net = compile(loaded.model, { ...loaded.options, batch, threads });
  net.setTotalSteps(WARMUP + steps); // the train steps it times: a schedule without its own length (cosine({ from, to })) spans them
  const inputs = loaded.options.inputs, outputs = net.predict(new Float32Array(inputs)).length;
  const r = uniform(1);
  const x = Float32Array.from({ length: batch * inputs }, r);
  const labels = net.ir.train.values[net.ir.train.inputs.find((i) => i.name === "labels")!.value]!.dtype === "i32"
    ? Int32Array.from({ length: batch }, () => Math.floor(((r() + 1) / 2) * outputs) % outputs)
    : Float32Array.from({ length: batch * outputs }, r);
  const programs = net.programs();
  const train = programs.get("train")!, grad = programs.get("backward")!;
  const persistent = [net.params, net.state, net.optimizerState].reduce((s, d) => s + Object.values(d).reduce((t, a) => t + a.byteLength, 0), 0);
  const out = [
    `${loaded.file}: batch ${batch}, ${threads} thread${threads > 1 ? "s" : ""}, ${steps} timed runs per program; parameters, state and optimizer buffers ${mib(persistent)}`,
    "",
  ];
  const trainUs = time(train, () => net.trainStep(x, labels), steps);
  out.push(formatProgram(`train step (net.trainStep: ${trainUs.toFixed(1)} µs per call)`, net.ir.train, train, o.top), "");
  const gradUs = time(grad, () => net.gradients(x, labels), steps);
  out.push(formatProgram(`gradients (net.gradients: ${gradUs.toFixed(1)} µs per call)`, net.ir.backward, grad, o.top), "");
  net.predict(x);
  const ev = net.programs().get(`eval[${Math.min(batch, 1024)}]`)!;
  const evalUs = time(ev, () => net.predict(x), steps);
  // predict runs the eval program in chunks of at most 1024 samples; its graph is net.ir.eval at the training batch.
  if (batch <= 1024) out.push(formatProgram(`predict (net.predict: ${evalUs.toFixed(1)} µs per call of ${batch} samples)`, net.ir.eval, ev, o.top));
  else out.push(`predict: ${evalUs.toFixed(1)} µs per call of ${batch} samples (in chunks of 1024; per-kernel table only for batches ≤ 1024)`);
  return out.join("\n");
}
