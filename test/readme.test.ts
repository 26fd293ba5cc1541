/**
 * README.md as a reader uses it: its TypeScript snippets, pasted into files beside the sources
 * with stand-in data for the names they leave to the reader, type-check under the project's
 * tsconfig and run; the IR they print is the IR the README quotes, character for character;
 * the ONNX snippet's ONNX Runtime output is net.predict's; and every function and method the
 * README names exists where it says.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as kiln from "../src/index.js";
import * as kilnNode from "../src/node.js";

const root = resolve(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

/** The fenced blocks of the README, in order: language and text. */
const blocks = [...readme.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, text: m[2]! }));

/** The TypeScript block that begins with `start`, and the blocks after it. */
function block(start: string): { text: string; next: (i: number) => string } {
  const i = blocks.findIndex((b) => b.lang === "ts" && b.text.startsWith(start));
  if (i < 0) throw new Error(`README.md has no ts block starting with ${JSON.stringify(start)}`);
  return { text: blocks[i]!.text, next: (k) => blocks[i + k]!.text };
}

const MODEL = block("import { seq, linear, layerNorm, batchNorm, relu, dropout, residual,");
const DSL = block("import { seq, linear, layer, fn, concat, tanh,");
const ORT = block("import * as ort from \"onnxruntime-node\";");
const FROM_ONNX = block("import { readFileSync } from \"node:fs\";\nimport { fromOnnx, compile, sgd } from \"./src/index.js\";");

// The snippets import "./src/index.js" from the repository's root; they are written two levels down.
const rebase = (text: string) => text.replaceAll("\"./src/index.js\"", "\"../../src/index.js\"");

// Each file starts with stand-in data for the names its snippet leaves to the reader.
const files: Record<string, string> = {
  "model.mts": [
    "const x = Float32Array.from({ length: 128 * 784 }, (_, i) => Math.sin(i));",
    "const labels = Int32Array.from({ length: 128 }, (_, i) => i % 10);",
    "const xTest = Float32Array.from({ length: 16 * 784 }, (_, i) => Math.cos(i));",
    "const out = new Float32Array(16 * 10);",
    rebase(MODEL.text),
    "void [loss, l, grads, logits];",
    // The README's traced program: the same compile options with optimize: false.
    "console.log(printIR(compile(model, { inputs: 784, batch: 128, seed: 0, loss: softmaxCrossEntropy(),",
    "  optimizer: sgd({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }), optimize: false }).ir.eval));",
    "console.log(printIR(net.ir.eval));",
  ].join("\n"),
  "dsl.mts": [
    "const x = Float32Array.from({ length: 32 * 20 }, (_, i) => Math.sin(i));",
    "const targets = Float32Array.from({ length: 32 }, (_, i) => i % 2);",
    rebase(DSL.text),
    "void [sigmoid, silu, relu, huber, l1, lossFn, cat, grads, inputGrad];",
    "console.log(printIR(net.ir.eval));",
  ].join("\n"),
  // The ONNX snippet runs on a net trained one step: the README's model.
  "onnx.mts": [
    "import { seq, linear, layerNorm, batchNorm, relu, dropout, residual, softmaxCrossEntropy, sgd, init, compile } from \"../../src/index.js\";",
    "const net = compile(seq(linear(784, 256, { init: init.he() }), layerNorm(256), relu, dropout(0.1),",
    "  residual(seq(linear(256, 256), batchNorm(256), relu)), linear(256, 10)),",
    "  { inputs: 784, batch: 128, seed: 0, loss: softmaxCrossEntropy(), optimizer: sgd({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }) });",
    "net.trainStep(Float32Array.from({ length: 128 * 784 }, (_, i) => Math.sin(i)), Int32Array.from({ length: 128 }, (_, i) => i % 10));",
    "const n = 5;",
    "const xTest = Float32Array.from({ length: n * 784 }, (_, i) => Math.cos(i));",
    ORT.text,
    "const mine = net.predict(xTest);",
    "console.log(JSON.stringify({ dims: logits!.dims, diff: Math.max(...Array.from(logits!.data as Float32Array, (v, i) => Math.abs(v - mine[i]!))) }));",
  ].join("\n"),
  "from-onnx.mts": [
    rebase(FROM_ONNX.text),
    "console.log(JSON.stringify({ inputs, params: Object.keys(params).length, out: net.predict(new Float32Array(inputs * 64)).length }));",
  ].join("\n"),
};

let dir = "";

beforeAll(() => {
  // Under the repository (its tsconfig, node_modules and sources), in /tmp/, which git ignores.
  mkdirSync(join(root, "tmp"), { recursive: true });
  dir = mkdtempSync(join(root, "tmp", "readme-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), `${text}\n`);
  // The project's tsconfig with the snippets (and the WebAssembly types the sources declare for themselves).
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ extends: "../../tsconfig.json", include: ["*.mts", "../../runtime/webassembly.d.ts"] }));
  // The README reads test/fixtures/onnx/mlp.onnx (a PyTorch export, make_onnx.py) from the repository's root.
  mkdirSync(join(dir, "test/fixtures/onnx"), { recursive: true });
  copyFileSync(join(root, "test/fixtures/onnx/mlp.onnx"), join(dir, "test/fixtures/onnx/mlp.onnx"));
});

afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

const run = (file: string) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: dir, encoding: "utf8", env: { ...process.env, KILN_DEBUG: "" }, timeout: 120_000 });
  expect(r.stderr, file).toBe("");
  expect(r.status, file).toBe(0);
  return r.stdout;
};

describe("the README's snippets", () => {
  it("type-check as written (strict, the project's tsconfig)", () => {
    const r = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")], { encoding: "utf8", timeout: 120_000 });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 120_000);

  it("the model: runs, and prints the optimized and the traced eval programs the README quotes", () => {
    const printed = run("model.mts");
    // The snippet prints net.ir.eval; the test then the traced program, then net.ir.eval again.
    const optimized = MODEL.next(1), traced = MODEL.next(2);
    expect(printed).toBe(`${optimized}${traced}${optimized}`);
  }, 120_000);

  it("your own layers: runs, and prints the eval program the README quotes", () => {
    const printed = run("dsl.mts");
    const train = printed.slice(0, printed.lastIndexOf("{ lambda"));
    expect(train).toMatch(/= fused_elementwise\[/); // printIR(net.ir.train): swish and glu fused
    expect(printed.slice(train.length)).toBe(DSL.next(1));
  }, 120_000);

  it("ONNX out: ONNX Runtime's logits are net.predict's", () => {
    const got = JSON.parse(run("onnx.mts")) as { dims: number[]; diff: number };
    expect(got.dims).toEqual([5, 10]);
    expect(got.diff).toBeLessThan(1e-4);
  }, 120_000);

  it("ONNX in: a PyTorch export compiles and predicts", () => {
    const got = JSON.parse(run("from-onnx.mts")) as { inputs: number; params: number; out: number };
    expect(got.params).toBeGreaterThan(0);
    expect(got.out % 64).toBe(0);
    expect(got.out).toBeGreaterThan(0);
  }, 120_000);
});

describe("what the README names", () => {
  // "kiln": the platform-neutral entry; "kiln/node": files, data, figures on disk, the command line.
  const neutral = [
    "seq", "linear", "layerNorm", "batchNorm", "relu", "dropout", "residual", "layer", "fn", "concat", "cat",
    "tanh", "sigmoid", "gelu", "leakyRelu", "silu", "softmaxCrossEntropy", "mse", "binaryCrossEntropy", "l1", "huber", "lossFn",
    "sgd", "adam", "adamw", "cosine", "stepDecay", "warmup", "constant", "compile", "printIR", "toSpec", "fromSpec", "fromOnnx",
    "checkpointBytes", "loadCheckpointBytes", "Batcher", "KilnError", "ModelError", "NumericsError",
  ];
  const node = ["loadMnistDigits", "loadIdxDir", "loadFashionMnist", "saveCheckpoint", "writeFigure"];

  it("exists where the README says", () => {
    expect(neutral.filter((k) => (kiln as Record<string, unknown>)[k] === undefined)).toEqual([]);
    expect(node.filter((k) => typeof (kilnNode as Record<string, unknown>)[k] !== "function")).toEqual([]);
    expect(["he", "xavier", "normal", "zeros", "ones"].filter((k) => typeof (kiln.init as Record<string, unknown>)[k] !== "function")).toEqual([]);
    for (const k of [...neutral, ...node]) expect(readme, k).toContain(`${k}`);
  });

  it("a compiled net has the methods the README calls", () => {
    const net = kiln.compile(kiln.seq(kiln.linear(4, 3)), { inputs: 4, batch: 2, threads: 1 });
    const methods = ["trainStep", "gradients", "predict", "save", "load", "saveOptimizerState", "loadOptimizerState",
      "setTotalSteps", "probes", "exportOnnx", "toOnnx", "dispose"];
    expect(methods.filter((m) => typeof (net as unknown as Record<string, unknown>)[m] !== "function")).toEqual([]);
    for (const m of methods) expect(readme, m).toMatch(new RegExp(`\\b${m}\\b`));
    for (const k of ["params", "state", "ir", "step"]) expect(net, k).toHaveProperty(k);
    net.dispose();
  });
});
