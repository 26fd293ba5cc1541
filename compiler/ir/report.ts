/**
 * Turns io-ts validation errors into one line per problem with the path of the bad field, e.g.
 * `nodes[3].attrs.axis: expected number, got "x"` — the form every decoder in kiln reports.
 */
import type * as t from "io-ts";

/** A short picture of a bad value; never throws, even for values too deep to stringify. */
const show = (v: unknown): string => {
  if (v === undefined) return "nothing";
  // NaN and ±Infinity by name (JSON would write them as null), and -0 as itself.
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
  let s: string;
  try {
    s = JSON.stringify(v, (_k, x: unknown) => (typeof x === "number" && !Number.isFinite(x) ? String(x) : x)) ?? String(v);
  } catch {
    s = Array.isArray(v) ? `an array of ${v.length} items` : typeof v === "object" && v !== null ? "an object" : typeof v;
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

export function pathOf(context: t.Context): string {
  let path = "";
  for (const entry of context.slice(1)) {
    // Union and intersection branches add numeric keys of their own; skip keys of those codecs.
    if (entry.key === "") continue;
    path += /^\d+$/.test(entry.key) ? `[${entry.key}]` : path === "" ? entry.key : `.${entry.key}`;
  }
  return path === "" ? "(root)" : path;
}

export function report(errors: t.Errors, limit = 5): string {
  const lines = [...new Set(errors.map((e) => {
    const expected = e.message ?? e.context[e.context.length - 1]?.type.name ?? "valid value";
    return `${pathOf(e.context)}: expected ${expected}, got ${show(e.value)}`;
  }))];
  return lines.length > limit ? [...lines.slice(0, limit), `… and ${lines.length - limit} more`].join("; ") : lines.join("; ");
}
