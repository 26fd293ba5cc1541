/** The `kiln` command line: inspect, diff, train, eval, help and errors. */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliOutput } from "./helpers/cli.js";

const MODEL = "examples/models/mlp.ts";
const out = cliOutput;

describe("kiln inspect", () => {
  it("prints the model tree with parameter counts, every program's IR and a summary", async () => {
    const text = await out(["inspect", MODEL]);
    expect(text).toMatch(/0: linear\(784→256\)  \(200,960 params\)/);
    expect(text).toMatch(/total: 270,346 parameters/);
    for (const g of ["forward", "backward", "train", "eval"]) expect(text).toContain(`── ${g} ──`);
    expect(text).toMatch(/train: \d+ kernels, [\d.]+ MFLOP per call, arena [\d.]+ MiB/);
    expect(text).toMatch(/fused kernels: .*fused_elementwise/);
  });

  it("shows the IR after a chosen pass, and as traced", async () => {
    expect(await out(["inspect", MODEL, "--graph", "eval", "--after", "none"])).toMatch(/= normalize\[axis=1/);
    const afterLinear = await out(["inspect", MODEL, "--graph", "eval", "--after", "fuseLinear"]);
    expect(afterLinear).toMatch(/= linear\[/);
    expect(afterLinear).not.toMatch(/fused_elementwise/);
    await expect(out(["inspect", MODEL, "--after", "unroll"])).rejects.toThrow(/--after must be "none" or one of simplify, cse/);
  });

  it("writes Graphviz DOT", async () => {
    const dot = await out(["inspect", MODEL, "--graph", "eval", "--dot"]);
    expect(dot).toMatch(/^digraph "eval" \{/);
    expect(dot).toMatch(/shape=box, label="linear", style=filled/);
  });
});

describe("kiln diff", () => {
  it("shows dropout gone and batchNorm on running statistics", async () => {
    const d = await out(["diff", MODEL, "train", "eval"]);
    expect(d).toMatch(/^- .*dropout_mask\[p=0.1/m);
    expect(d).toMatch(/^- .*mean\[axes=\[0\]/m);
    expect(d).toMatch(/^\+ .*sub .* 5\.running_mean/m);
    expect(d).toMatch(/^- out 5\.running_var/m);
    expect(d).toMatch(/lines differ/);
  });
});

describe("kiln train and eval", () => {
  it("trains one epoch, writes a checkpoint, and evaluates it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-cli-"));
    const ckpt = join(dir, "mlp.safetensors");
    const log = await out(["train", MODEL, "--epochs", "1", "--out", ckpt]);
    expect(log).toMatch(/epoch 1: train loss [\d.]+, test error [\d.]+%/);
    const ev = await out(["eval", MODEL, "--checkpoint", ckpt]);
    const acc = Number(/accuracy ([\d.]+)%/.exec(ev)![1]);
    expect(acc).toBeGreaterThan(85);
  }, 120_000);
});

describe("the kiln binary", () => {
  const kiln = (...args: string[]) => spawnSync("node", ["bin/kiln.mjs", ...args], { encoding: "utf8", env: { ...process.env, KILN_DEBUG: "" } });

  it("has --help for every command", () => {
    expect(execFileSync("node", ["bin/kiln.mjs", "--help"], { encoding: "utf8" })).toMatch(/usage: kiln <command>/);
    for (const c of ["inspect", "diff", "train", "eval"]) expect(kiln(c, "--help").stdout).toMatch(new RegExp(`usage: kiln ${c}`));
  }, 180_000);

  it("fails with one clear line and a non-zero exit, no stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-cli-"));
    const bad = join(dir, "bad.mts"); // .mts: ESM whatever package.json is (or is not) near it
    writeFileSync(bad, `import { seq, linear } from "${process.cwd()}/src/index.js";\nexport const model = seq(linear(4, 8), linear(7, 2));\nexport const options = { inputs: 4, batch: 2 };\n`);
    const cases: [string[], number, RegExp][] = [
      [["frob"], 2, /^kiln: unknown command "frob"/],
      [["inspect"], 2, /^kiln inspect: expected a model file \(kiln inspect --help\)$/m],
      [["inspect", MODEL, "--bogus"], 2, /unknown option '--bogus'/],
      [["inspect", join(dir, "missing.ts")], 1, /^kiln: cannot load .*missing\.ts: expected a model file \(.*\), but there is no such file$/m],
      [["inspect", MODEL, "--graph", "nope"], 2, /^kiln: --graph must be one of forward, backward, train, eval, got "nope"$/m],
      [["inspect", MODEL, "--after", "unroll"], 2, /^kiln: --after must be "none" or one of simplify, cse, dce, foldBatchNorm, fuseLinear, fuseNormalize, fuseNormalizeBackward, /m],
      [["diff", MODEL, "train", "frob"], 2, /^kiln diff: compares "train" and "eval", got "frob"$/m],
      [["profile", MODEL, "--batch", "0"], 2, /^kiln: --batch must be a positive integer, got "0"$/m],
      [["inspect", bad], 1, /seq argument 1 expects 7 features, but previous layer outputs 8/],
      [["eval", MODEL], 2, /--checkpoint FILE is required/],
      [["train", MODEL, "--epochs", "-1"], 2, /^kiln: --epochs: expected a positive integer, got "-1"$/m],
      [["train", MODEL, "--epochs=-1"], 2, /^kiln: --epochs: expected a positive integer, got "-1"$/m],
      [["train", MODEL, "--epochs", "abc"], 2, /^kiln: --epochs: expected a positive integer, got "abc"$/m],
      [["eval", MODEL, "--checkpoint", join(dir, "none.safetensors")], 1, /^kiln: /],
    ];
    for (const [args, code, message] of cases) {
      const r = kiln(...args);
      expect(r.status, args.join(" ")).toBe(code);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  }, 180_000);
});

describe("the examples", () => {
  const tsx = (file: string, ...args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", `examples/${file}.ts`, ...args], { encoding: "utf8", env: { ...process.env, KILN_DEBUG: "" } });

  it("answer --help with their options and how long they take", () => {
    for (const file of ["mnist", "init-norms", "init-training", "norms", "regularization", "attention"]) {
      const r = tsx(file, "--help");
      expect(r.status, file).toBe(0);
      expect(r.stdout, file).toMatch(new RegExp(`npx tsx examples/${file}.ts .*--quick`));
      expect(r.stdout, file).toMatch(/--quick +a fast smoke run/);
      expect(r.stdout, file).toMatch(/Takes about .+; --quick about /);
    }
  }, 180_000);

  it("attention --quick trains the DSL transformer: one epoch takes the test error below 40% (27.9% measured), causal too", () => {
    for (const extra of [[], ["--causal", "yes"]]) {
      const r = tsx("attention", "--quick", ...extra);
      expect(r.status, r.stderr).toBe(0);
      const err = Number(/^ +1 +[\d.]+ +([\d.]+)%$/m.exec(r.stdout)?.[1]);
      expect(err).toBeGreaterThan(0);
      expect(err).toBeLessThan(40);
    }
  }, 180_000);

  it("fail on a bad flag with one line naming it and a non-zero exit, no stack trace", () => {
    const cases: [string, string[], number, RegExp][] = [
      ["mnist", ["--epochs=-1"], 2, /^mnist: --epochs: expected a positive integer, got "-1"$/],
      ["mnist", ["--epochs", "-1"], 2, /^mnist: --epochs: expected a positive integer, got "-1"$/],
      ["mnist", ["--norm", "group"], 2, /^mnist: --norm: expected layer or batch, got "group"$/],
      ["mnist", ["--frob"], 2, /^mnist: unknown option '--frob' \(examples\/mnist.ts --help lists the options\)$/],
      ["mnist", ["--data", "/nonexistent"], 1, /^mnist: \/nonexistent: expected the four MNIST-format IDX files .* but the folder does not exist$/],
      ["init-norms", ["--batch", "abc"], 2, /^init-norms: --batch: expected a positive integer ≤ 8000, got "abc"$/],
      ["init-training", ["--boom-lr", "x"], 2, /^init-training: --boom-lr: expected a positive number, got "x"$/],
      ["norms", ["--seed", "x"], 2, /^norms: --seed: expected a non-negative integer/],
      ["attention", ["--heads", "5"], 2, /^attention: --heads: expected a divisor of --width 32, got 5$/],
      ["attention", ["--causal", "maybe"], 2, /^attention: --causal: expected yes or no, got "maybe"$/],
    ];
    for (const [file, args, code, message] of cases) {
      const r = tsx(file, ...args);
      expect(r.status, `${file} ${args.join(" ")}`).toBe(code);
      expect(r.stderr.trim().split("\n"), `${file} ${args.join(" ")}`).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(message);
      expect(r.stdout).toBe("");
    }
  }, 180_000);
});

describe("a fresh clone stays clean", () => {
  it("package-lock.json's root entry says what package.json says (else `npm install` rewrites the tracked lock)", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8"));
    const root = JSON.parse(readFileSync("package-lock.json", "utf8")).packages[""];
    for (const key of ["name", "version", "dependencies", "devDependencies", "optionalDependencies", "bin", "engines"]) {
      expect(root[key], key).toEqual(pkg[key]);
    }
  });

  it("the outputs of the README's commands go under out/, which git ignores", () => {
    expect(readFileSync(".gitignore", "utf8").split("\n")).toContain("out/");
    const readme = readFileSync("README.md", "utf8");
    for (const line of readme.split("\n").filter((l) => /^npx (kiln|tsx)/.test(l))) {
      for (const m of line.matchAll(/(?:--out|>)\s+(\S+)/g)) expect(m[1], line).toMatch(/^out\//);
    }
    // Links stay inside the repository.
    for (const [, target] of readme.matchAll(/\]\(([^)]+)\)/g)) expect(target, target).not.toMatch(/^\.\.\//);
    expect(readme).not.toMatch(/\.\.\/shared/);
  });
});
