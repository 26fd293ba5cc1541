/**
 * Command-line parsing shared by `kiln` and the examples: node's parseArgs, with two repairs.
 *   - `--epochs -1` is one option and its value, as a reader means it (parseArgs calls it
 *     "ambiguous" and asks for `--epochs=-1`): a value that looks like a number is taken as
 *     the value of the string option before it, so the option's own check can refuse it.
 *   - Every parse failure is a UsageError naming the option and pointing at --help, one line.
 */
import { parseArgs } from "node:util";
import { KilnError } from "../../runtime/errors.js";

/** A command line that does not parse (exit code 2). */
export class UsageError extends KilnError {
  override readonly name = "UsageError";
}

export type OptionSpec = Readonly<Record<string, { readonly type: "string" | "boolean"; readonly short?: string }>>;

const NUMBERLIKE = /^-(\d|\.\d|Infinity|NaN)/;

/**
 * Parse `args` against `options`; `help` names the command for the "(… --help)" hint.
 * @example parseOptions(["--epochs", "-1"], { epochs: { type: "string" } }, "kiln train").values.epochs // "-1"
 */
export function parseOptions(args: readonly string[], options: OptionSpec, help: string, positionals = false): {
  values: Record<string, string | boolean | undefined>; positionals: string[];
} {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = a.startsWith("--") && !a.includes("=") ? a.slice(2) : undefined;
    const next = args[i + 1];
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && NUMBERLIKE.test(next)) {
      joined.push(`${a}=${next}`);
      i++;
    } else joined.push(a);
  }
  try {
    const r = parseArgs({ args: joined, options: options as never, allowPositionals: positionals, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (e) {
    const err = e as Error & { code?: string };
    if (typeof err.code !== "string" || !err.code.startsWith("ERR_PARSE_ARGS")) throw e;
    // parseArgs' own advice ("To specify a positional argument starting with a '-', …") is cut.
    const said = err.message.split(/\. (?=To specify|Did you)/)[0]!.replace(/\.$/, "");
    const first = said.charAt(0).toLowerCase() + said.slice(1); // "unknown option …", as kiln's own messages
    throw new UsageError(`${first} (${help} --help lists the options)`);
  }
}

/**
 * The numeric option `name` of parsed string options, or `fallback` when not given; a value that
 * is not a positive number (an integer with `integer`; ≥ 0 with `zero`; ≤ `max`) is refused.
 * @example numberOption({ steps: "200" }, "steps", 2000, { integer: true }) // 200
 */
export function numberOption(
  options: Readonly<Record<string, unknown>>, name: string, fallback: number,
  o: { integer?: boolean; zero?: boolean; max?: number } = {},
): number {
  const text = options[name];
  if (text === undefined) return fallback;
  const x = Number(text);
  const bad = typeof text !== "string" || text.trim() === "" || !Number.isFinite(x) || x < 0 || (x === 0 && !o.zero) ||
    (o.integer && !Number.isInteger(x)) || (o.max !== undefined && x > o.max);
  if (bad) {
    const kind = `${o.zero ? "non-negative" : "positive"} ${o.integer ? "integer" : "number"}${o.max !== undefined ? ` ≤ ${o.max}` : ""}`;
    throw new UsageError(`--${name}: expected a ${kind}, got ${JSON.stringify(text)}`);
  }
  return x;
}

/**
 * One of `choices`, or `fallback` when not given.
 * @example choiceOption({ norm: "group" }, "norm", ["layer", "batch"], "layer") // throws: --norm: expected layer or batch, got "group"
 */
export function choiceOption<C extends string>(options: Readonly<Record<string, unknown>>, name: string, choices: readonly C[], fallback: C): C {
  const v = options[name];
  if (v === undefined) return fallback;
  if (typeof v !== "string" || !(choices as readonly string[]).includes(v)) {
    throw new UsageError(`--${name}: expected ${choices.slice(0, -1).join(", ")}${choices.length > 1 ? " or " : ""}${choices.at(-1)}, got ${JSON.stringify(v)}`);
  }
  return v as C;
}
