/**
 * Checkpoints: a net's state dict as a safetensors file, with PyTorch's names and layouts, so a
 * file moves both ways between kiln and `nn.Sequential.load_state_dict(strict=True)`.
 *
 *   checkpoint       params ("0.weight" [out, in], …) + state ("3.running_mean", …,
 *                    "3.num_batches_tracked" as an I64 scalar, shape []) — nothing else
 *   optimizer state  the optimizer's buffers ("0.weight.momentum_buffer", …) + "step" (I64 scalar)
 *
 * Saving is atomic (./atomic.ts). Loading validates the whole file against the net first — names,
 * dtypes, shapes, finite values — and reports every problem in one message; only then is any
 * array of the net written, so a rejected load changes nothing.
 */
import type { Graph } from "../../compiler/ir/graph.js";
import { DecodeError, ModelError } from "../../runtime/errors.js";
import { writeFileAtomic } from "./atomic.js";
import { readRegularFile } from "./read-file.js"; // a regular file only: not a FIFO, /dev/zero or a descriptor number
import { decodeSafetensors, encodeSafetensors, type SafeTensor, type TensorArray } from "./safetensors.js";

/** What a checkpoint reads and writes of a net (a `Net` is one). */
export interface CheckpointTarget {
  readonly ir: { readonly train: Graph; readonly forward?: Graph; readonly eval?: Graph };
  readonly params: Readonly<Record<string, Float32Array>>;
  readonly state: Readonly<Record<string, Float32Array | BigInt64Array>>;
}

/** What optimizer state reads and writes: the buffers and the step counter. */
export interface OptimizerTarget {
  readonly ir: { readonly train: Graph };
  readonly optimizerState: Readonly<Record<string, Float32Array>>;
  readonly step: number;
  /** Restore the step counter (the learning-rate schedule's and the dropout streams' step). */
  setStep?(step: number): void;
}

/** One tensor the net expects: its shape, and the array it is loaded into. */
interface Slot {
  readonly name: string;
  readonly shape: readonly number[];
  readonly target: Float32Array | BigInt64Array;
}

const CHECKPOINT_FORMAT = "pt"; // what safetensors.torch.save_file writes: a PyTorch state dict
const OPTIMIZER_FORMAT = "kiln-optimizer-state";
const STEP = "step";
const LIST_LIMIT = 50;

const quote = (name: string): string => JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);
const fmt = (dtype: string, shape: readonly number[]): string => `${dtype} [${shape.join(",")}]`;
const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The shape of each param/state/optim input, from the net's graphs (train first). */
function shapes(ir: CheckpointTarget["ir"]): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>();
  for (const g of [ir.train, ir.forward, ir.eval]) {
    for (const i of g?.inputs ?? []) {
      if ((i.kind === "param" || i.kind === "state" || i.kind === "optim") && !out.has(i.name)) out.set(i.name, g!.values[i.value]!.shape);
    }
  }
  return out;
}

function slotsOf(arrays: Readonly<Record<string, Float32Array | BigInt64Array>>, known: Map<string, readonly number[]>): Slot[] {
  return Object.keys(arrays).map((name) => {
    const target = arrays[name]!;
    // num_batches_tracked lives on the host, not in the graphs: PyTorch stores it as a 0-d int64.
    const shape = target instanceof BigInt64Array && target.length === 1 ? [] : known.get(name);
    if (shape === undefined || size(shape) !== target.length) {
      throw new ModelError(`checkpoint: the net's tensor ${quote(name)} has ${target.length} elements but its graphs give shape ${shape ? fmt("", shape) : "none"}`);
    }
    return { name, shape, target };
  });
}

/** The net's state dict: params then state, with shapes. */
const stateSlots = (net: CheckpointTarget): Slot[] => {
  const known = shapes(net.ir);
  return [...slotsOf(net.params, known), ...slotsOf(net.state, known)];
};

function encodeSlots(slots: readonly Slot[], metadata: Record<string, string>): Uint8Array {
  const tensors = new Map<string, TensorArray>(slots.map((s) => [s.name, s.target]));
  return encodeSafetensors(tensors, new Map(slots.map((s) => [s.name, s.shape])), metadata);
}

function decode(bytes: Uint8Array, source: string) {
  try {
    return decodeSafetensors(bytes);
  } catch (e) {
    if (e instanceof DecodeError) throw new DecodeError(`${source}: ${e.message}`);
    throw e;
  }
}

/** What is wrong with a file tensor for a slot, or null if it fits. */
function misfit(slot: Slot, t: SafeTensor): string | null {
  const want = slot.target instanceof BigInt64Array ? "I64" : "F32";
  const dtypeOk = want === "I64" ? t.dtype === "I64" : t.dtype === "F32" || t.dtype === "F16" || t.dtype === "BF16";
  const shapeOk = t.shape.length === slot.shape.length && t.shape.every((d, i) => d === slot.shape[i]);
  return dtypeOk && shapeOk ? null : `${quote(slot.name)} (expected ${fmt(want, slot.shape)}, got ${fmt(t.dtype, t.shape)})`;
}

function firstNonFinite(t: SafeTensor): number {
  if (!(t.data instanceof Float32Array)) return -1;
  return t.data.findIndex((v) => !Number.isFinite(v));
}

/** Variances (batchNorm's running_var, Adam's exp_avg_sq) are ≥ 0: √ of a negative one makes NaN. */
const VARIANCE = /(^|\.)(running_var|exp_avg_sq)$/;
const firstNegative = (name: string, t: SafeTensor): number =>
  VARIANCE.test(name) && t.data instanceof Float32Array ? t.data.findIndex((v) => v < 0) : -1;

const listed = (what: string, items: readonly string[]): string => items.length === 0 ? "" :
  `${what} (${items.length}): ${items.slice(0, LIST_LIMIT).join(", ")}${items.length > LIST_LIMIT ? `, … and ${items.length - LIST_LIMIT} more` : ""}`;

/**
 * Check every slot against the file; returns the writes to do, or throws one DecodeError listing
 * the missing, unexpected, mis-shaped (or mis-typed) and non-finite tensors.
 */
function plan(slots: readonly Slot[], file: ReadonlyMap<string, SafeTensor>, source: string, hint: string): (() => void)[] {
  const missing: string[] = [], misshaped: string[] = [], nonFinite: string[] = [], negative: string[] = [];
  const writes: (() => void)[] = [];
  const wanted = new Set(slots.map((s) => s.name));
  for (const slot of slots) {
    const t = file.get(slot.name);
    if (t === undefined) { missing.push(quote(slot.name)); continue; }
    const bad = misfit(slot, t);
    if (bad !== null) { misshaped.push(bad); continue; }
    const at = firstNonFinite(t);
    if (at >= 0) { nonFinite.push(`${quote(slot.name)} (${(t.data as Float32Array)[at]} at element ${at})`); continue; }
    const below = firstNegative(slot.name, t);
    if (below >= 0) { negative.push(`${quote(slot.name)} (${(t.data as Float32Array)[below]} at element ${below})`); continue; }
    const { target } = slot;
    writes.push(target instanceof BigInt64Array ? () => { target[0] = (t.data as BigInt64Array)[0]!; } : () => { target.set(t.data as Float32Array); });
  }
  const unexpected = [...file.keys()].filter((n) => !wanted.has(n)).map(quote);
  const problems = [listed("missing", missing), listed("unexpected", unexpected), listed("mis-shaped", misshaped), listed("non-finite", nonFinite), listed("negative variance", negative)].filter((p) => p !== "");
  if (problems.length > 0) throw new DecodeError(`${source} does not fit this model${hint}: ${problems.join("; ")}`);
  return writes;
}

// ─────────────────────────────── state dict ───────────────────────────────

/**
 * The net's state dict as safetensors bytes (what `saveCheckpoint` writes).
 * @example const bytes = checkpointBytes(net);
 */
export function checkpointBytes(net: CheckpointTarget): Uint8Array {
  return encodeSlots(stateSlots(net), { format: CHECKPOINT_FORMAT });
}

/**
 * Load safetensors bytes into the net's parameters and state, all or nothing.
 * @example loadCheckpointBytes(net, new Uint8Array(await (await fetch(url)).arrayBuffer()));
 */
export function loadCheckpointBytes(net: CheckpointTarget, bytes: Uint8Array, source = "checkpoint"): void {
  const file = decode(bytes, source);
  const hint = file.metadata.get("format") === OPTIMIZER_FORMAT ? " (it is an optimizer-state file: use loadOptimizerState)" : "";
  for (const write of plan(stateSlots(net), file.tensors, source, hint)) write();
}

/**
 * Write the net's state dict (parameters, running statistics, num_batches_tracked) to `path`,
 * atomically. PyTorch reads it with `load_state_dict(safetensors.torch.load_file(path))`.
 * @example saveCheckpoint(net, "mnist.safetensors")
 */
export function saveCheckpoint(net: CheckpointTarget, path: string): void {
  writeFileAtomic(path, checkpointBytes(net));
}

/**
 * Read a state dict written by kiln or PyTorch into the net. A file that does not fit (missing,
 * unexpected or mis-shaped tensors, non-finite values) is refused with all problems in one
 * DecodeError, and the net is left unchanged.
 * @example loadCheckpoint(net, "mnist.safetensors")
 */
export function loadCheckpoint(net: CheckpointTarget, path: string): void {
  loadCheckpointBytes(net, readRegularFile(path, "checkpoint"), `checkpoint ${JSON.stringify(path)}`);
}

// ─────────────────────────────── optimizer state ───────────────────────────────

const optimizerSlots = (net: OptimizerTarget): Slot[] => slotsOf(net.optimizerState, shapes(net.ir));

/** The optimizer's buffers and step counter as safetensors bytes. @example optimizerStateBytes(net) */
export function optimizerStateBytes(net: OptimizerTarget): Uint8Array {
  const step = net.step;
  if (!Number.isSafeInteger(step) || step < 0) throw new ModelError(`optimizer state: the step counter is ${step}; expected an integer ≥ 0`);
  const slots = [...optimizerSlots(net), { name: STEP, shape: [], target: new BigInt64Array([BigInt(step)]) }];
  return encodeSlots(slots, { format: OPTIMIZER_FORMAT });
}

/** Load optimizer buffers and the step counter from bytes, all or nothing. @example loadOptimizerStateBytes(net, bytes) */
export function loadOptimizerStateBytes(net: OptimizerTarget, bytes: Uint8Array, source = "optimizer state"): void {
  if (typeof net.setStep !== "function") throw new ModelError(`${source}: this net cannot restore its step counter (it has no setStep)`);
  const file = decode(bytes, source);
  const hint = file.metadata.get("format") === CHECKPOINT_FORMAT ? " (it is a model checkpoint: use loadCheckpoint)" : "";
  const step = new BigInt64Array(1);
  const writes = plan([...optimizerSlots(net), { name: STEP, shape: [], target: step }], file.tensors, source, hint);
  const value = file.tensors.get(STEP)!.data[0] as bigint;
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(`${source}: "step" is ${value}; expected an integer in [0, 2⁵³)`);
  for (const write of writes) write();
  net.setStep(Number(step[0]));
}

/**
 * Write the optimizer's buffers (momentum, …) and the step counter to `path`, atomically, so
 * training resumes bit for bit after loadCheckpoint + loadOptimizerState.
 * @example saveOptimizerState(net, "mnist.optim.safetensors")
 */
export function saveOptimizerState(net: OptimizerTarget, path: string): void {
  writeFileAtomic(path, optimizerStateBytes(net));
}

/**
 * Read optimizer state written by saveOptimizerState; refused (net unchanged) if it does not fit.
 * @example loadOptimizerState(net, "mnist.optim.safetensors")
 */
export function loadOptimizerState(net: OptimizerTarget, path: string): void {
  loadOptimizerStateBytes(net, readRegularFile(path, "optimizer state"), `optimizer state ${JSON.stringify(path)}`);
}
