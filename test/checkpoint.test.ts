/**
 * Checkpoints in safetensors: a PyTorch-written state dict reproducing PyTorch's eval predictions
 * (test/fixtures/make_safetensors.py), bit-exact round trips, all-or-nothing loads, atomic saves,
 * and training that resumes bit for bit from checkpoint + optimizer state.
 *
 * To check that PyTorch accepts kiln's files (Node tests do not run Python):
 *   KILN_SAFETENSORS_OUT=/tmp/kiln.safetensors npx vitest run test/checkpoint
 *   /usr/bin/python3 test/fixtures/make_safetensors.py /tmp/kiln.safetensors
 */
import * as fs from "node:fs";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeFileAtomic, type FileIO } from "../src/io/atomic.js";
import {
  checkpointBytes, loadCheckpoint, loadCheckpointBytes, loadOptimizerState, saveCheckpoint, saveOptimizerState,
} from "../src/io/checkpoint.js";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "../src/io/safetensors.js";
import { fromSpec } from "../src/spec.js";
import {
  batchNorm, compile, DecodeError, dropout, KilnError, layerNorm, linear, ModelError, relu, residual, seq, sgd, type Net,
} from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-checkpoint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface TorchFixture {
  readonly spec: unknown;
  readonly inputs: number;
  readonly outputs: number;
  readonly names: readonly string[];
  readonly x: { readonly shape: readonly number[]; readonly data: readonly number[] };
  readonly predictions: { readonly shape: readonly number[]; readonly data: readonly number[] };
}
const FIXTURES = new URL("./fixtures/", import.meta.url);
const fixture = JSON.parse(readFileSync(new URL("torch-state.json", FIXTURES), "utf8")) as TorchFixture;
const torchFile = new URL("torch-state.safetensors", FIXTURES).pathname;

/** All the net's arrays, copied, to compare before/after. */
function snapshot(net: Net) {
  const copy = (r: Readonly<Record<string, Float32Array | BigInt64Array>>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.slice()]));
  return { params: copy(net.params), state: copy(net.state), optim: copy(net.optimizerState), step: net.step };
}

/** Element i passes when |got − want| ≤ rtol · max|want| (relative to the tensor's scale). */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number): void {
  expect(got.length).toBe(want.length);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(got[i]! - want[i]!) > rtol * scale) expect.fail(`element ${i}: got ${got[i]}, expected ${want[i]} (±${rtol * scale})`);
  }
}

const model = () => seq(
  linear(6, 5), layerNorm(5), relu, dropout(0.25),
  residual(seq(linear(5, 5), batchNorm(5), relu)),
  linear(5, 3),
);
const schedule = (step: number) => 0.1 / (1 + step);
const make = (seed = 0) => compile(model(), { inputs: 6, batch: 4, seed, optimizer: sgd({ lr: schedule, momentum: 0.9, weightDecay: 1e-3 }) });
const batch = (k: number) => ({
  x: new Float32Array(24).map((_, i) => Math.sin(i * 0.7 + k)),
  y: new Int32Array([k % 3, (k + 1) % 3, (k + 2) % 3, k % 2]),
});

describe("checkpoints: PyTorch state dicts in and out", () => {
  it("loads a PyTorch-written state dict and reproduces PyTorch's eval predictions (1e-5)", () => {
    const net = compile(fromSpec(fixture.spec), { inputs: fixture.inputs, batch: 2 });
    expect([...Object.keys(net.params), ...Object.keys(net.state)].sort()).toEqual([...fixture.names].sort());
    loadCheckpoint(net, torchFile);
    expect(net.state["3.num_batches_tracked"]).toEqual(new BigInt64Array([3n]));
    expectClose(net.predict(Float32Array.from(fixture.x.data)), fixture.predictions.data, 1e-5);
    const out = process.env.KILN_SAFETENSORS_OUT;
    if (out) saveCheckpoint(net, out); // for make_safetensors.py FILE (see the header)
  });

  it("writes exactly the state dict, byte-identical to PyTorch's file for the same tensors", () => {
    const net = compile(fromSpec(fixture.spec), { inputs: fixture.inputs, batch: 2 });
    loadCheckpoint(net, torchFile);
    const bytes = checkpointBytes(net);
    expect(Buffer.from(bytes).equals(readFileSync(torchFile))).toBe(true);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata.get("format")).toBe("pt");
    expect(tensors.get("3.num_batches_tracked")).toMatchObject({ dtype: "I64", shape: [] });
    expect(tensors.get("2.fn.0.weight")).toMatchObject({ dtype: "F32", shape: [8, 8] });
  });

  it("save → load round trip is bit-exact, into a net with other parameters", () => {
    const a = make(1);
    for (let k = 0; k < 3; k++) a.trainStep(batch(k).x, batch(k).y);
    const path = join(dir, "roundtrip.safetensors");
    saveCheckpoint(a, path);
    const b = make(2);
    expect(b.params["0.weight"]).not.toEqual(a.params["0.weight"]);
    loadCheckpoint(b, path);
    const bits = (r: Readonly<Record<string, Float32Array | BigInt64Array>>) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)]]));
    expect(bits(b.params)).toEqual(bits(a.params));
    expect(bits(b.state)).toEqual(bits(a.state));
    expect(b.state["4.fn.1.num_batches_tracked"]).toEqual(new BigInt64Array([3n]));
    expect(b.predict(batch(9).x)).toEqual(a.predict(batch(9).x));
    expect(Buffer.from(checkpointBytes(b)).equals(readFileSync(path))).toBe(true);
  });

  it("a checkpoint that does not fit is refused with every problem in one message, and changes nothing", () => {
    const net = make();
    net.trainStep(batch(0).x, batch(0).y);
    const before = snapshot(net);
    const { tensors } = decodeSafetensors(checkpointBytes(make(5)));
    const edited = new Map<string, SafeTensor>(tensors);
    edited.delete("0.bias");
    edited.delete("4.fn.1.running_var");
    edited.set("9.weight", { dtype: "F32", shape: [2], data: new Float32Array(2) });
    edited.set("0.weight", { dtype: "F32", shape: [6, 5], data: new Float32Array(30) });
    edited.set("4.fn.1.num_batches_tracked", { dtype: "F32", shape: [], data: new Float32Array(1) });
    edited.set("5.bias", { dtype: "F32", shape: [3], data: new Float32Array([0, NaN, 0]) });
    const bytes = encodeSafetensors(new Map([...edited].map(([k, v]) => [k, v.data])), new Map([...edited].map(([k, v]) => [k, v.shape])));
    const path = join(dir, "misfit.safetensors");
    writeFileSync(path, bytes);
    let error: Error | undefined;
    try { loadCheckpoint(net, path); } catch (e) { error = e as Error; }
    expect(error).toBeInstanceOf(DecodeError);
    expect(error!.message).toContain(`checkpoint ${JSON.stringify(path)} does not fit this model`);
    expect(error!.message).toContain('missing (2): "0.bias", "4.fn.1.running_var"');
    expect(error!.message).toContain('unexpected (1): "9.weight"');
    expect(error!.message).toContain('"0.weight" (expected F32 [5,6], got F32 [6,5])');
    expect(error!.message).toContain('"4.fn.1.num_batches_tracked" (expected I64 [], got F32 [])');
    expect(error!.message).toContain('non-finite (1): "5.bias" (NaN at element 1)');
    expect(snapshot(net)).toEqual(before);
  });

  it("a corrupt or unreadable file changes nothing either", () => {
    const net = make();
    const before = snapshot(net);
    const good = checkpointBytes(make(3));
    expect(() => loadCheckpointBytes(net, good.subarray(0, good.length - 1))).toThrow(/checkpoint: invalid safetensors file: .*trailing|past the data region/);
    expect(() => loadCheckpoint(net, join(dir, "no-such-file.safetensors"))).toThrow(KilnError);
    expect(snapshot(net)).toEqual(before);
  });

  it("an optimizer-state file given as a checkpoint says so", () => {
    const net = make();
    const path = join(dir, "optim-as-model.safetensors");
    saveOptimizerState(net, path);
    expect(() => loadCheckpoint(net, path)).toThrow(/optimizer-state file: use loadOptimizerState/);
  });
});

describe("atomic saves", () => {
  const failing = (at: keyof FileIO, afterBytes = 0): FileIO => {
    let written = 0;
    return {
      openSync: (p, f, m) => fs.openSync(p, f, m),
      writeSync: (fd, b, o, l) => {
        if (at === "writeSync") {
          const n = fs.writeSync(fd, b, o, Math.min(l, afterBytes - written));
          written += n;
          if (written >= afterBytes) throw new Error("ENOSPC: no space left on device (simulated)");
          return n;
        }
        return fs.writeSync(fd, b, o, l);
      },
      fsyncSync: (fd) => { if (at === "fsyncSync") throw new Error("EIO (simulated)"); fs.fsyncSync(fd); },
      closeSync: (fd) => fs.closeSync(fd),
      renameSync: (a, b) => { if (at === "renameSync") throw new Error("EXDEV (simulated)"); fs.renameSync(a, b); },
      unlinkSync: (p) => fs.unlinkSync(p),
    };
  };

  for (const [where, io] of [["mid-write", failing("writeSync", 100)], ["at fsync", failing("fsyncSync")], ["at rename", failing("renameSync")]] as const) {
    it(`a failure ${where} leaves the previous file intact and no temporary file`, () => {
      const sub = mkdtempSync(join(dir, "atomic-"));
      const path = join(sub, "model.safetensors");
      const net = make();
      saveCheckpoint(net, path);
      const old = readFileSync(path);
      net.trainStep(batch(0).x, batch(0).y);
      const next = checkpointBytes(net);
      expect(Buffer.from(next).equals(old)).toBe(false);
      expect(() => writeFileAtomic(path, next, io)).toThrow(/cannot write .*model\.safetensors.*simulated.*previous file.*unchanged/);
      expect(readFileSync(path).equals(old)).toBe(true);
      expect(readdirSync(sub)).toEqual(["model.safetensors"]);
      saveCheckpoint(net, path); // and a save that succeeds replaces it
      expect(readFileSync(path).equals(Buffer.from(next))).toBe(true);
      expect(readdirSync(sub)).toEqual(["model.safetensors"]);
    });
  }

  it("saving into a missing directory is a KilnError", () => {
    expect(() => saveCheckpoint(make(), join(dir, "missing", "x.safetensors"))).toThrow(KilnError);
  });
});

describe("optimizer state", () => {
  it("checkpoint + optimizer state resume training bit for bit (momentum, dropout, lr schedule)", () => {
    const a = make(0);
    for (let k = 0; k < 3; k++) a.trainStep(batch(k).x, batch(k).y);
    const model = join(dir, "resume.safetensors"), optim = join(dir, "resume.optim.safetensors");
    saveCheckpoint(a, model);
    saveOptimizerState(a, optim);
    const l4 = a.trainStep(batch(3).x, batch(3).y), l5 = a.trainStep(batch(4).x, batch(4).y);

    const b = make(0); // same seed: the dropout streams are keyed by it (it is a compile option)
    b.trainStep(batch(7).x, batch(7).y); // and some other history, all of which the load overwrites
    loadCheckpoint(b, model);
    loadOptimizerState(b, optim);
    expect(b.step).toBe(3);
    expect([b.trainStep(batch(3).x, batch(3).y), b.trainStep(batch(4).x, batch(4).y)]).toEqual([l4, l5]);
    expect(snapshot(b)).toEqual(snapshot(a));
  });

  it("writes the buffers with their parameter's shape and the step as an I64 scalar", () => {
    const net = make();
    net.trainStep(batch(0).x, batch(0).y);
    const path = join(dir, "optim.safetensors");
    saveOptimizerState(net, path);
    const { tensors } = decodeSafetensors(readFileSync(path));
    expect(tensors.get("step")).toMatchObject({ dtype: "I64", shape: [], data: new BigInt64Array([1n]) });
    expect(tensors.get("0.weight.momentum_buffer")).toMatchObject({ dtype: "F32", shape: [5, 6] });
    expect(tensors.size).toBe(Object.keys(net.optimizerState).length + 1);
  });

  it("a misfit or a negative step is refused and changes nothing; a net without setStep is refused", () => {
    const net = make();
    net.trainStep(batch(0).x, batch(0).y);
    const before = snapshot(net);
    const other = compile(seq(linear(6, 3)), { inputs: 6, batch: 4, optimizer: sgd({ lr: 0.1, momentum: 0.9 }) });
    const path = join(dir, "other.optim.safetensors");
    saveOptimizerState(other, path);
    expect(() => loadOptimizerState(net, path)).toThrow(/missing \(8\): "1.weight.momentum_buffer".*mis-shaped \(2\): "0.weight.momentum_buffer" \(expected F32 \[5,6\], got F32 \[3,6\]\)/);
    const negative = join(dir, "negative.optim.safetensors");
    const slots = Object.entries(net.optimizerState);
    writeFileSync(negative, encodeSafetensors(
      new Map<string, Float32Array | BigInt64Array>([...slots, ["step", new BigInt64Array([-1n])]]),
      new Map([...slots.map(([k]) => [k, net.ir.train.values[net.ir.train.inputs.find((i) => i.name === k)!.value]!.shape] as const), ["step", []]]),
    ));
    expect(() => loadOptimizerState(net, negative)).toThrow(/"step" is -1/);
    expect(() => loadOptimizerState({ ir: net.ir, optimizerState: net.optimizerState, step: net.step }, path)).toThrow(ModelError);
    expect(snapshot(net)).toEqual(before);
  });
});
