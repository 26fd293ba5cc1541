/**
 * Shape checking of model expressions: the run-time check (sizes typed `number`, JS callers,
 * non-layers) and the compile-time one (tsc on test/types/negative, whose files must fail with
 * readable messages on the offending argument). The passing and `@ts-expect-error` cases in
 * test/types/ are checked by the project's `tsc --noEmit`.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ModelError } from "../runtime/errors.js";
import { batchNorm } from "../src/layers/batchNorm.js";
import { concat } from "../src/layers/concat.js";
import { dropout } from "../src/layers/dropout.js";
import { layerNorm } from "../src/layers/layerNorm.js";
import { linear } from "../src/layers/linear.js";
import { features } from "../src/layers/node.js";
import { relu } from "../src/layers/relu.js";
import { residual } from "../src/layers/residual.js";
import { seq } from "../src/layers/seq.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const LAYERS = "must be a layer (linear, relu, dropout, layerNorm, batchNorm, residual, seq, fn, layer or concat)";

/** How a JS caller (no types) sees the combinators. */
const untypedSeq = seq as unknown as (...layers: unknown[]) => unknown;
const untypedResidual = residual as unknown as (fn?: unknown) => unknown;

/** The ModelError message `f` throws (fails the test if it throws anything else or nothing). */
function modelError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ModelError);
    return (e as ModelError).message;
  }
  throw new Error("expected a ModelError, but nothing was thrown");
}

describe("run-time shape check", () => {
  // Widened to `number`: tsc cannot know the sizes, so seq() itself must reject them.
  const cfg = { hidden: 256, narrow: 128 };

  it("rejects mismatched neighbours with the path, the layer and the same wording as tsc", () => {
    expect(modelError(() => seq(linear(784, cfg.hidden), relu, dropout(0.1), linear(cfg.narrow, 10)))).toBe(
      "seq[3] linear(128→10): seq argument 3 expects 128 features, but previous layer outputs 256",
    );
    expect(modelError(() => seq(relu, linear(784, cfg.hidden), layerNorm(cfg.narrow)))).toBe(
      "seq[2] layerNorm(128): seq argument 2 expects 128 features, but previous layer outputs 256",
    );
    expect(modelError(() => seq(linear(784, cfg.hidden), seq(relu, dropout(0.5)), seq(batchNorm(cfg.narrow), relu)))).toBe(
      "seq[2] seq(2 layers): seq argument 2 expects 128 features, but previous layer outputs 256",
    );
  });

  it("rejects a residual whose function does not map N to N", () => {
    expect(modelError(() => residual(seq(linear(cfg.hidden, cfg.narrow), relu)))).toBe(
      "residual.fn seq(2 layers): residual expects its function to map N features to N, but it maps 256 to 128",
    );
    expect(modelError(() => residual(linear(cfg.hidden, cfg.narrow, { bias: false })))).toBe(
      "residual.fn linear(256→128, no bias): residual expects its function to map N features to N, but it maps 256 to 128",
    );
  });

  it("always runs, also for literal sizes reached without types (JS callers)", () => {
    expect(modelError(() => untypedSeq(linear(784, 256), relu, linear(128, 10)))).toBe(
      "seq[2] linear(128→10): seq argument 2 expects 128 features, but previous layer outputs 256",
    );
    expect(modelError(() => untypedResidual(linear(10, 20)))).toMatch(/but it maps 10 to 20$/);
  });

  it("rejects what is not a layer, naming what came", () => {
    expect(modelError(() => untypedSeq())).toBe("seq needs at least one layer, got none");
    expect(modelError(() => untypedSeq(5))).toBe(`seq argument 0 ${LAYERS}, got number 5`);
    expect(modelError(() => untypedSeq(relu, undefined))).toBe(`seq argument 1 ${LAYERS}, got undefined`);
    expect(modelError(() => untypedSeq(relu, linear))).toMatch(/^seq argument 1 .*, got function linear \(a layer is a value: call it/);
    expect(modelError(() => untypedSeq([relu]))).toMatch(/got an array of 1 items \(spread it: seq\(\.\.\.layers\)\)$/);
    expect(modelError(() => untypedSeq({ kind: "conv" }))).toMatch(/got an object of unknown kind "conv"$/);
    expect(modelError(() => untypedSeq({ kind: "linear", in: 3 }))).toMatch(/got a linear whose out is undefined$/);
    expect(modelError(() => untypedSeq({ kind: "seq", layers: [relu, "relu"] }))).toMatch(/got a seq whose layers\[1\] is string "relu"$/);
    expect(modelError(() => untypedResidual(undefined))).toBe(`residual argument ${LAYERS}, got undefined`);
    expect(modelError(() => untypedResidual())).toBe(`residual argument ${LAYERS}, got undefined`);
    expect(modelError(() => untypedResidual(null))).toBe(`residual argument ${LAYERS}, got null`);
  });

  it("accepts models whose sizes agree, walking through pass-through layers", () => {
    const model = seq(linear(784, cfg.hidden), layerNorm(256), relu, dropout(0.1), residual(seq(linear(256, 256), batchNorm(256), relu)), linear(256, 10));
    expect(features(model)).toEqual({ in: 784, out: 10 });
    expect(features(seq(relu, dropout(0.2)))).toEqual({ in: null, out: null });
    expect(features(residual(relu))).toEqual({ in: null, out: null });
    expect(features(seq(dropout(0.2), seq(relu), linear(3, 4), seq(relu, dropout(0.1))))).toEqual({ in: 3, out: 4 });
  });

  it("does not take the input size from past a concat of pass-through branches (it multiplies the width)", () => {
    // concat(relu, relu) maps w to 2w: in seq(concat(relu, relu), linear(8, 3)) the seq takes 4, not 8.
    const doubled = seq(concat(relu, dropout(0.1)), linear(cfg.hidden, 3), linear(3, cfg.narrow));
    expect(features(doubled)).toEqual({ in: null, out: cfg.narrow });
    expect(features(seq(concat(relu), linear(3, 4)))).toEqual({ in: 3, out: 4 }); // one branch keeps the width
    // Were accepted models refused: a residual of 128 → 128 through a doubling concat, a concat after 128 features.
    expect(features(seq(linear(10, cfg.narrow), residual(doubled)))).toEqual({ in: 10, out: cfg.narrow });
    expect(features(seq(linear(3, cfg.narrow), concat(seq(concat(relu, relu), linear(cfg.hidden, 2)), relu)))).toEqual({ in: 3, out: cfg.narrow + 2 });
  });

  it("builds frozen plain descriptions", () => {
    const first = linear(3, 4);
    const inner = linear(4, 4);
    const model = seq(first, relu, residual(inner));
    expect(model).toEqual({ kind: "seq", layers: [first, relu, { kind: "residual", fn: inner }] });
    expect(Object.isFrozen(model) && Object.isFrozen(model.layers) && Object.isFrozen(model.layers[2])).toBe(true);
    expect(Object.keys(model)).toEqual(["kind", "layers"]);
  });
});

describe("compile-time shape check (tsc on test/types/negative)", () => {
  const dir = join(root, "test/types/negative");

  /** `// error: <text>` at the end of a line: one error there, at the line's first non-blank column. */
  function expectations(): { file: string; line: number; column: number; text: string }[] {
    return readdirSync(dir).filter((f) => f.endsWith(".ts")).flatMap((f) =>
      readFileSync(join(dir, f), "utf8").split("\n").flatMap((src, i) => {
        const m = /\/\/ error: (.*)$/.exec(src);
        return m ? [{ file: f, line: i + 1, column: src.search(/\S/) + 1, text: m[1]! }] : [];
      }));
  }

  it("reports each mismatch on the offending argument with a readable message", async () => {
    const tsc = join(root, "node_modules/typescript/bin/tsc");
    const output = await new Promise<string>((done) =>
      execFile(process.execPath, [tsc, "--noEmit", "--pretty", "false", "-p", dir], { cwd: root, timeout: 20_000 }, (_err, stdout) => done(stdout)));
    // file(line,col): error TSxxxx: message — only errors in this folder (others' transient errors are not ours).
    const errors = [...output.matchAll(/^(.+)\((\d+),(\d+)\): error TS\d+: (.*)$/gm)]
      .map(([, file, line, col, message]) => ({ file: relative(dir, resolve(root, file!)), line: Number(line), column: Number(col), message: message! }))
      .filter((e) => !e.file.startsWith(".."));
    const wanted = expectations();
    expect(wanted.length).toBeGreaterThanOrEqual(6);
    expect(errors.map((e) => `${e.file}:${e.line}:${e.column}`).sort()).toEqual(wanted.map((w) => `${w.file}:${w.line}:${w.column}`).sort());
    for (const w of wanted) {
      const e = errors.find((x) => x.file === w.file && x.line === w.line)!;
      expect(e.message).toContain(w.text);
    }
    // The example, verbatim, and the same wording as the run-time check.
    expect(output).toContain(
      "seq.ts(13,3): error TS2345: Argument of type 'Linear<128, 10>' is not assignable to parameter of type " +
        "'\"seq argument 3 expects 128 features, but previous layer outputs 256\"'.",
    );
  }, 30_000);
});
