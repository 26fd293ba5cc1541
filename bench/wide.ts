/**
 * The wider bench (issue 11): models off W2's path, each through the public API, kiln against
 * PyTorch eager (1 and 2 threads) in the same run, idle and under contention.
 *
 *   W4p  seq(layerNorm(1024)), mse, batch 256, net.gradients             µs per call
 *   W5   regression MLP 64-256(layerNorm)-256-1, mse, batch 64, train     samples/s
 *   W6   W2's model, predict on one sample                                µs (latency)
 *   W7   the lecture's net: 50 linear layers (784-100×49-10) + relu, batch 128, train   samples/s
 *   W8   odd sizes 37-300(batchNorm)-13, batch 50, train                  samples/s
 *   W9   W2's model with batchNorm, predict at batch 1024 (eval)          samples/s
 *   C2, C7  compile() time of W2's and W7's models (kiln only)           ms
 *
 * Models are specs (layers, loss, batch, mode) that kiln builds with its combinators and
 * bench/torch_wide.py with torch.nn; both load the same parameters. Under contention a child
 * process burns one core (burn(), bounded in time, stopped by the bench) while every case is
 * measured again; those rows carry "+load" in their workload id.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { batchNorm, compile, layerNorm, linear, mse, relu, seq, sgd, softmaxCrossEntropy, type LayerNode, type Net } from "../src/index.js";
import { CheckError, LR, MOMENTUM, WEIGHT_DECAY, checkClose, checkTraining, rng, transpose, uniform, type Workload } from "./workloads.js";

export type Layer = { kind: "linear"; in: number; out: number } | { kind: "layerNorm"; n: number } | { kind: "batchNorm"; n: number } | { kind: "relu" };
export type Mode = "train" | "gradients" | "predict" | "compile";

/** A workload of the wider bench; its group is its id (the W1–W4 peers' switch never sees one). */
export interface WideWorkload extends Omit<Workload, "group"> {
  readonly group: string;
  readonly layers: readonly Layer[];
  readonly inputs: number;
  readonly loss: "ce" | "mse";
  readonly batch: number;
  readonly mode: Mode;
}

const L = (i: number, o: number): Layer => ({ kind: "linear", in: i, out: o });
const R: Layer = { kind: "relu" };
const w2 = (norm: "layerNorm" | "batchNorm"): Layer[] => [L(784, 512), { kind: norm, n: 512 }, R, L(512, 512), { kind: norm, n: 512 }, R, L(512, 10)];
const lecture: Layer[] = [L(784, 100), R, ...Array.from({ length: 48 }, () => [L(100, 100), R]).flat(), L(100, 10)];

const wl = (id: string, title: string, unit: Workload["unit"], layers: Layer[], inputs: number, loss: "ce" | "mse", batch: number, mode: Mode): WideWorkload => ({
  id, group: id, title, unit, higherIsBetter: unit === "samples/s", layers, inputs, loss, batch, mode,
  toUnit: unit === "samples/s" ? (s) => batch / s : unit === "µs" ? (s) => s * 1e6 : (s) => s * 1e3,
});

export const WIDE: readonly WideWorkload[] = [
  wl("W4p", "seq(layerNorm(1024)), mse, batch 256: net.gradients", "µs", [{ kind: "layerNorm", n: 1024 }], 1024, "mse", 256, "gradients"),
  wl("W5", "regression 64-256(layerNorm)-256-1, mse, batch 64: train step", "samples/s", [L(64, 256), { kind: "layerNorm", n: 256 }, R, L(256, 256), R, L(256, 1)], 64, "mse", 64, "train"),
  wl("W6", "W2's model, predict on 1 sample (latency)", "µs", w2("layerNorm"), 784, "ce", 1, "predict"),
  wl("W7", "the lecture's 50 × linear(100,100) + relu (784 in, 10 out), batch 128: train step", "samples/s", lecture, 784, "ce", 128, "train"),
  wl("W8", "odd sizes 37-300(batchNorm)-13, batch 50: train step", "samples/s", [L(37, 300), { kind: "batchNorm", n: 300 }, R, L(300, 13)], 37, "ce", 50, "train"),
  wl("W9", "W2 with batchNorm, predict (eval) at batch 1024", "samples/s", w2("batchNorm"), 784, "ce", 1024, "predict"),
  wl("C2", "compile() of W2's model (train, gradients, eval programs)", "ms", w2("layerNorm"), 784, "ce", 128, "compile"),
  wl("C7", "compile() of W7's model", "ms", lecture, 784, "ce", 128, "compile"),
];

export const outputsOf = (w: WideWorkload) => [...w.layers].reverse().find((l): l is Extract<Layer, { kind: "linear" }> => l.kind === "linear")?.out
  ?? (w.layers[w.layers.length - 1] as { n: number }).n;

/** Parameters by PyTorch state-dict name: linear U(±1/√in), norm weight U(0.5, 1.5), bias U(±0.1), running stats near 0 and 1. */
export function wideParams(w: WideWorkload): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  w.layers.forEach((l, i) => {
    const s = 9000 + 10 * i;
    if (l.kind === "linear") {
      const b = 1 / Math.sqrt(l.in);
      out[`${i}.weight`] = uniform(l.in * l.out, s, -b, b);
      out[`${i}.bias`] = uniform(l.out, s + 1, -b, b);
    } else if (l.kind !== "relu") {
      out[`${i}.weight`] = uniform(l.n, s, 0.5, 1.5);
      out[`${i}.bias`] = uniform(l.n, s + 1, -0.1, 0.1);
      if (l.kind === "batchNorm") { out[`${i}.running_mean`] = uniform(l.n, s + 2, -0.1, 0.1); out[`${i}.running_var`] = uniform(l.n, s + 3, 0.5, 1.5); }
    }
  });
  return out;
}

/** POOL batches of inputs and labels (class indices for ce, targets for mse). */
export function wideData(w: WideWorkload, pool = 4): { xs: Float32Array[]; ys: (Int32Array | Float32Array)[] } {
  const out = outputsOf(w);
  const xs = Array.from({ length: pool }, (_, b) => uniform(w.batch * w.inputs, 9500 + b));
  const ys = Array.from({ length: pool }, (_, b) => {
    if (w.loss === "mse") return uniform(w.batch * out, 9600 + b, -1, 1);
    const r = rng(9700 + b);
    return Int32Array.from({ length: w.batch }, () => Math.floor(r() * out));
  });
  return { xs, ys };
}

function kilnModel(w: WideWorkload): LayerNode {
  const layers = w.layers.map((l): LayerNode => (l.kind === "linear" ? linear(l.in, l.out) : l.kind === "relu" ? relu : l.kind === "layerNorm" ? layerNorm(l.n) : batchNorm(l.n)));
  return seq(...(layers as [LayerNode]));
}

function kilnNet(w: WideWorkload, threads: number): Net {
  return compile(kilnModel(w), {
    inputs: w.inputs, batch: w.mode === "predict" ? 2 : w.batch, seed: 0, threads,
    loss: w.loss === "mse" ? mse() : softmaxCrossEntropy(),
    optimizer: sgd({ lr: LR, momentum: MOMENTUM, weightDecay: WEIGHT_DECAY }),
  });
}

/**
 * A checked case. `reference`: kiln's outputs (predict), loss (gradients) or first training
 * loss (train), which the other peers are checked against; `grads`: kiln's gradients (gradients).
 */
export interface WideCase {
  readonly run: () => unknown;
  readonly check: string;
  readonly reference?: Float32Array;
  readonly grads?: Readonly<Record<string, Float32Array>>;
  dispose?(): void;
}

/** What the other peers are checked against: kiln's case's reference and gradients. */
export type KilnResult = Pick<WideCase, "reference" | "grads">;

/** A JavaScript peer of the wider bench (bench/peers/jaxjs_wide.ts, tfjs_wide.ts), run in this process. */
export interface WidePeer {
  readonly name: string;
  readonly threads: number;
  /** A case checked against kiln's (when kiln ran): throws on a failed check. */
  prepare(w: WideWorkload, kiln: KilnResult | undefined): Promise<WideCase>;
}

/** What a JavaScript peer computed, to check against kiln's case. */
export type PeerResult =
  | { readonly mode: "train"; readonly losses: readonly number[] }
  | { readonly mode: "predict"; readonly output: ArrayLike<number> }
  | { readonly mode: "gradients"; readonly loss: number; readonly grads: Readonly<Record<string, ArrayLike<number>>> };

/**
 * The check of a peer's result: training loss goes down and its first loss (same parameters,
 * same batch, no dropout in these models) matches kiln's; outputs, loss and gradients match kiln's.
 */
export function checkPeer(r: PeerResult, kiln: KilnResult | undefined): string {
  const vs = kiln?.reference ? "" : " (kiln did not run: not compared)";
  if (r.mode === "train") {
    const text = checkTraining(r.losses);
    if (!kiln?.reference) return text + vs;
    return `${text}; first vs kiln ${checkClose("first loss", [r.losses[0]!], kiln.reference, 1e-3).toExponential(1)}`;
  }
  if (r.mode === "predict") {
    if (![...Array.from(r.output)].every(Number.isFinite)) throw new CheckError("non-finite outputs");
    return kiln?.reference ? `outputs vs kiln: ${checkClose("outputs", r.output, kiln.reference, 1e-4).toExponential(1)}` : "outputs finite" + vs;
  }
  if (!kiln?.reference || !kiln.grads) return (Number.isFinite(r.loss) ? "loss finite" : "loss NaN") + vs;
  const rel = Math.max(checkClose("loss", [r.loss], kiln.reference, 1e-4),
    ...Object.entries(kiln.grads).map(([k, g]) => checkClose(`grad ${k}`, r.grads[k] ?? [], g, 1e-3)));
  return `loss and gradients vs kiln: ${rel.toExponential(1)}`;
}

/** A linear layer's weight, [out, in] as PyTorch and kiln hold it, transposed to [in, out] for x·W. */
export const inOut = (w: WideWorkload, name: string, v: Float32Array): Float32Array => {
  const l = w.layers[Number(name.split(".")[0])]!;
  return l.kind === "linear" && name.endsWith(".weight") ? transpose(v, l.out, l.in) : v;
};

/** kiln's case: checked (training loss goes down; predictions and gradients against the reference interpreter). */
export function kilnCase(w: WideWorkload, threads: number): WideCase {
  if (w.mode === "compile") {
    const run = () => kilnNet(w, threads);
    run();
    return { run, check: "compiles" };
  }
  const net = kilnNet(w, threads), params = wideParams(w), { xs, ys } = wideData(w);
  const load = (n: Net) => { for (const [k, v] of Object.entries(params)) ((n.params[k] ?? n.state[k]) as Float32Array).set(v); };
  load(net);
  if (w.mode === "train") {
    const losses = Array.from({ length: 10 }, () => net.trainStep(xs[0]!, ys[0]!));
    let i = 0;
    return { run: () => { const b = i++ % xs.length; return net.trainStep(xs[b]!, ys[b]!); }, check: checkTraining(losses), reference: Float32Array.of(losses[0]!) };
  }
  // The same numbers through the reference interpreter (optimize: false) as the check.
  const ref = compile(kilnModel(w), { inputs: w.inputs, batch: w.mode === "predict" ? 2 : w.batch, threads: 1, optimize: false, loss: w.loss === "mse" ? mse() : softmaxCrossEntropy() });
  load(ref);
  if (w.mode === "predict") {
    const x = xs[0]!, out = new Float32Array(w.batch * outputsOf(w));
    net.predict(x, out);
    const rel = checkClose("outputs", out, ref.predict(x), 1e-4);
    return { run: () => net.predict(x, out), check: `outputs vs reference interpreter: ${rel.toExponential(1)}`, reference: out.slice() };
  }
  const g = net.gradients(xs[0]!, ys[0]!), r = ref.gradients(xs[0]!, ys[0]!);
  const rel = Math.max(...Object.keys(r.grads).map((k) => checkClose(`grad ${k}`, g.grads[k]!, r.grads[k]!, 1e-3)));
  return { run: () => net.gradients(xs[0]!, ys[0]!), check: `gradients vs reference interpreter: ${rel.toExponential(1)}`, reference: Float32Array.of(g.loss), grads: Object.fromEntries(Object.entries(g.grads).map(([k, v]) => [k, v.slice()])) };
}

/**
 * One core's worth of load: a child process spinning until stopped, or `seconds` at most (so a
 * bench that dies leaves nothing behind).
 */
export function burn(seconds: number): { stop: () => void } {
  const child: ChildProcess = spawn(process.execPath, ["-e", `const end = Date.now() + ${Math.round(seconds * 1000)}; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1);`], { stdio: "ignore" });
  child.unref();
  return { stop: () => { child.kill("SIGKILL"); } };
}

// ---------------------------------------------------------------------------------------------
// PyTorch
// ---------------------------------------------------------------------------------------------

export interface TorchWideCase { readonly workload: string; readonly threads: number; readonly seconds?: number[]; readonly check?: string; readonly error?: string }

const bytes = (a: Float32Array | Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Run bench/torch_wide.py on these workloads at 1 and 2 threads; `references` are kiln's outputs to check against. */
export async function runTorchWide(python: string, ws: readonly WideWorkload[], references: ReadonlyMap<string, Float32Array>, quick: boolean): Promise<TorchWideCase[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kiln-wide-"));
  try {
    const specs = ws.filter((w) => w.mode !== "compile").map((w) => {
      const params = wideParams(w), { xs, ys } = wideData(w);
      for (const [k, v] of Object.entries(params)) writeFileSync(path.join(dir, `${w.id}_p_${k}.bin`), bytes(v));
      xs.forEach((x, b) => writeFileSync(path.join(dir, `${w.id}_x_${b}.bin`), bytes(x)));
      ys.forEach((y, b) => writeFileSync(path.join(dir, `${w.id}_y_${b}.bin`), bytes(y)));
      const ref = references.get(w.id);
      if (ref) writeFileSync(path.join(dir, `${w.id}_ref.bin`), bytes(ref));
      return { id: w.id, layers: w.layers, inputs: w.inputs, outputs: outputsOf(w), loss: w.loss, batch: w.batch, mode: w.mode, pool: xs.length, params: Object.keys(params), lr: LR, momentum: MOMENTUM, weightDecay: WEIGHT_DECAY };
    });
    writeFileSync(path.join(dir, "specs.json"), JSON.stringify(specs));
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "torch_wide.py");
    const child = spawn(python, [script, "--data", dir, "--threads", "1,2", ...(quick ? ["--quick"] : [])], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill("SIGKILL"), 10 * 60_000);
    const code = await new Promise<number | null>((resolve, reject) => { child.on("error", reject); child.on("close", resolve); });
    clearTimeout(timer);
    const last = out.trim().split("\n").pop() ?? "";
    if (code !== 0 || !last.startsWith("{")) throw new CheckError(`torch_wide.py exited ${code ?? "by signal"}: ${err.trim().split("\n").slice(-3).join(" | ") || "no output"}`);
    return (JSON.parse(last) as { results: TorchWideCase[] }).results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
