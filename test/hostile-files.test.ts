/**
 * What kiln reads from outside, beyond the format fuzzers (fuzz.test.ts, onnx-fuzz.test.ts,
 * data-idx.test.ts): paths that are not strings (a number is a file descriptor to node's fs — 0
 * would wait on stdin), datasets made by hand, non-bytes given to the IDX decoder, and the command
 * line's file arguments and model modules. Every refusal is a KilnError naming what was expected.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  adam, batchNorm, Batcher, chunks, compile, decodeSafetensors, encodeSafetensors, InputError, KilnError, linear, makeDataset, seq, take, type Dataset,
} from "../src/index.js";
import { checkpointBytes, loadCheckpoint, loadCheckpointBytes, loadOptimizerStateBytes, optimizerStateBytes, saveCheckpoint } from "../src/io/checkpoint.js";
import { decodeIdx, readIdx } from "../src/data/idx.js";
import { loadIdxDir } from "../src/data/fashion.js";
import { cliOutput } from "./helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refused(f: () => unknown, message: RegExp, type: new (...a: never[]) => Error = KilnError): Promise<void> {
  let error: unknown;
  try { await f(); } catch (e) { error = e; }
  expect(error).toBeInstanceOf(type);
  expect((error as Error).message).toMatch(message);
}

describe("paths that are not strings", () => {
  it("a file descriptor number is refused by loadCheckpoint and readIdx, not read", async () => {
    const net = compile(seq(linear(2, 2)), { inputs: 2, batch: 1 });
    const file = join(dir, "c.safetensors");
    writeFileSync(file, checkpointBytes(net));
    const before = Array.from(net.params["0.weight"]!);
    net.params["0.weight"]!.fill(5);
    const fd = openSync(file, "r");
    try {
      await refused(() => loadCheckpoint(net, fd as unknown as string), /cannot read checkpoint \d+: expected a path \(string\), got number/);
      expect(Array.from(net.params["0.weight"]!)).toEqual([5, 5, 5, 5]);
      loadCheckpoint(net, file);
      expect(Array.from(net.params["0.weight"]!)).toEqual(before);
    } finally { closeSync(fd); }
    const labels = join(dir, "labels");
    writeFileSync(labels, Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 1, 3));
    const lfd = openSync(labels, "r");
    try {
      await refused(() => readIdx(lfd as unknown as string, "labels"), /readIdx: expected a path \(string\), got number/, InputError);
    } finally { closeSync(lfd); }
    await refused(() => loadIdxDir(7 as unknown as string, "x"), /loadIdxDir: expected a folder \(string\), got number/, InputError);
    await refused(() => saveCheckpoint(net, 3 as unknown as string), /cannot write a file: expected a path \(non-empty string\), got number 3/);
    // The system's message named the hidden temporary file (".m.safetensors.1234.ab12….tmp").
    await refused(() => saveCheckpoint(net, join(dir, "no", "such", "m.safetensors")), /cannot write ".*no\/such\/m\.safetensors": the folder ".*no\/such" does not exist \(expected an existing folder; create it first\)/);
    // Another kind of file given as a checkpoint: its first 8 bytes read as an absurd header length.
    const onnx = join(dir, "model.onnx");
    writeFileSync(onnx, Uint8Array.of(0x08, 0x08, 0x12, 0x04, 0x6b, 0x69, 0x6c, 0x6e, 0x3a, 0x10, 0, 0));
    await refused(() => loadCheckpoint(net, onnx), /header length .*: expected at most 100000000 bytes \(the header does not start with "\{": is this a safetensors file\?\)/);
  });
});

describe("paths that name no regular file", () => {
  // A FIFO with no writer made every read wait forever; /dev/zero never ends (the read grows until
  // memory runs out); /dev/null read as an empty file. Each is refused by what it is, unread.
  const fifo = join(dir, "pipe.onnx");
  execFileSync("mkfifo", [fifo]);

  it("loadCheckpoint, readIdx and kiln inspect refuse a FIFO, a character device and a directory", async () => {
    const net = compile(seq(linear(2, 2)), { inputs: 2, batch: 1 });
    for (const [path, kind] of [[fifo, "a FIFO \\(named pipe\\)"], ["/dev/null", "a character device"], ["/dev/zero", "a character device"], [dir, "a directory"]]) {
      await refused(() => loadCheckpoint(net, path!), new RegExp(`cannot read checkpoint ".*": expected a regular file, got ${kind}`));
      await refused(() => readIdx(path!, "images"), new RegExp(`: cannot read the IDX images file: expected a regular file, got ${kind}`), InputError);
    }
    await refused(() => cliOutput(["inspect", fifo]), /cannot read ONNX model ".*pipe\.onnx": expected a regular file, got a FIFO/);
  });
});

describe("datasets made by hand", () => {
  it("makeDataset wants the declared array types: a Float64Array's 1e39 or an Array's label 0.5 would change in a batch", async () => {
    await refused(() => makeDataset("d", new Float64Array([1e39, 0]) as unknown as Float32Array, Int32Array.of(1), 2, 10), /dataset d: expected images as a Float32Array, got Float64Array/, InputError);
    await refused(() => makeDataset("d", new Float32Array(2), [0.5] as unknown as Int32Array, 2, 10), /dataset d: expected labels as an Int32Array, got Array/, InputError);
    await refused(() => makeDataset("d", null as unknown as Float32Array, Int32Array.of(1), 2, 10), /expected images as a Float32Array, got null/, InputError);
  });

  it("Batcher, chunks and take refuse a Dataset whose fields disagree instead of batching NaN past its arrays", async () => {
    const good = makeDataset("d", new Float32Array(4), Int32Array.of(0, 1), 2, 2);
    const lying = { ...good, count: 5 } as Dataset;
    await refused(() => new Batcher(lying, { batch: 5 }), /Batcher: dataset d: count: expected 2 \(the labels' length\), got 5/, InputError);
    await refused(() => chunks({ ...good, features: 3 } as Dataset, 1), /chunks: dataset d: images: expected 6 values \(2 × 3\), got 4/, InputError);
    await refused(() => take(null as unknown as Dataset, 1), /take: expected a Dataset \(makeDataset\), got null/, InputError);
    await refused(() => new Batcher(good, null as never), /Batcher\(d\): expected options \{ batch/, InputError);
  });

  it("decodeIdx wants bytes and a kind", async () => {
    await refused(() => decodeIdx(null as unknown as Uint8Array, "f", "labels"), /decodeIdx\(f\): expected the file's bytes as a Uint8Array, got null/, InputError);
    await refused(() => decodeIdx(new ArrayBuffer(9) as unknown as Uint8Array, "f", "labels"), /got ArrayBuffer/, InputError);
    await refused(() => decodeIdx(Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 1, 3), "f", "__proto__" as "labels"), /expected kind "images" or "labels", got "__proto__"/, InputError);
  });
});

describe("the command line's files", () => {
  const model = join(dir, "m.mjs");
  writeFileSync(model, `import { seq, linear } from ${JSON.stringify(new URL("../src/index.ts", import.meta.url).href)};
export const model = seq(linear(4, 3)); export const options = { inputs: 4, batch: 2 };`);

  it("a command named like an Object property is an unknown command, not a silent exit", async () => {
    for (const c of ["__proto__", "toString", "constructor"]) await refused(() => cliOutput([c]), new RegExp(`unknown command "${c}"; expected inspect`));
  });

  it("a model module that throws a string or null is a KilnError quoting it", async () => {
    writeFileSync(join(dir, "s.mjs"), `throw "no model here";`);
    writeFileSync(join(dir, "n.mjs"), `throw null;`);
    await refused(() => cliOutput(["inspect", join(dir, "s.mjs")]), /cannot load .*s\.mjs: no model here/);
    await refused(() => cliOutput(["inspect", join(dir, "n.mjs")]), /cannot load .*n\.mjs: null/);
  });

  it("--out onto a folder or under a file is a KilnError naming the file", async () => {
    writeFileSync(join(dir, "plain"), "x");
    mkdirSync(join(dir, "folder"), { recursive: true });
    await refused(() => cliOutput(["inspect", model, "--graph", "eval", "--out", join(dir, "folder")]), /--out: cannot write ".*folder": EISDIR/);
    await refused(() => cliOutput(["inspect", model, "--graph", "eval", "--out", join(dir, "plain", "x.txt")]), /--out: cannot write ".*plain\/x\.txt": E(EXIST|NOTDIR)/);
  });
});

describe("checkpoint values no training makes", () => {
  /** The file with tensor `name` replaced by `value`. */
  const replaced = (bytes: Uint8Array, name: string, value: Float32Array): Uint8Array => {
    const f = decodeSafetensors(bytes);
    const data = new Map([...f.tensors].map(([k, t]) => [k, k === name ? value : t.data]));
    return encodeSafetensors(data, new Map([...f.tensors].map(([k, t]) => [k, t.shape])), Object.fromEntries(f.metadata));
  };

  it("a negative running_var or exp_avg_sq is refused (every eval output would be NaN) and changes nothing", async () => {
    const net = compile(seq(linear(3, 2), batchNorm(2)), { inputs: 3, batch: 2, optimizer: adam({ lr: 0.01 }) });
    net.trainStep(Float32Array.of(1, 2, 3, -1, 0, 2), Int32Array.of(0, 1));
    const variances = () => JSON.stringify([net.state["1.running_var"], net.optimizerState["0.weight.exp_avg_sq"]].map((a) => Array.from(a as Float32Array)));
    const before = variances();
    await refused(() => loadCheckpointBytes(net, replaced(checkpointBytes(net), "1.running_var", Float32Array.of(1, -0.25))),
      /checkpoint does not fit this model: negative variance \(1\): "1\.running_var" \(-0\.25 at element 1\)/);
    await refused(() => loadOptimizerStateBytes(net, replaced(optimizerStateBytes(net), "0.weight.exp_avg_sq", Float32Array.of(0, 0, -1, 0, 0, 0))),
      /optimizer state does not fit this model: negative variance \(1\): "0\.weight\.exp_avg_sq" \(-1 at element 2\)/);
    expect(variances()).toBe(before);
  });
});
