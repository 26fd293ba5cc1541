/**
 * Options objects held to the names they take. A misspelt option (`weightdecay`, `bais`,
 * `shufle`) was ignored and its default used — no weight decay, a bias, a shuffled order — with
 * no error: TypeScript catches it only in an object literal written at the call, not in options
 * built elsewhere (a config object, a spread, JavaScript).
 */
import { ModelError } from "../runtime/errors.js";

/**
 * A number the programs can hold: finite as float32 too. They compute in float32, so a rate,
 * decay or threshold of 1e39 — finite as a JavaScript number — would be stored as ∞ and send
 * every parameter to ±∞ or NaN in one step.
 */
export const isFloat32 = (x: unknown): x is number => typeof x === "number" && Number.isFinite(Math.fround(x));

/** A value for a message: a finite number beyond float32's range says so. */
export const numberText = (x: unknown): string =>
  typeof x === "number" && Number.isFinite(x) && !Number.isFinite(Math.fround(x)) ? `${x} (beyond float32's range, ±3.4e38)` : String(x);

/** Refuse a name `opts` has that `known` does not, naming the nearest known one; and options that are not an object (undefined passes: the defaults). */
export function knownOptions(what: string, opts: unknown, known: readonly string[], E: new (message: string) => Error = ModelError): void {
  const bad = unknownOption(what, opts, known);
  if (bad !== null) throw new E(bad);
}

/** knownOptions' message, or null when every name is known (for callers that raise their own error). */
export function unknownOption(what: string, opts: unknown, known: readonly string[]): string | null {
  if (opts === undefined) return null;
  if (typeof opts !== "object" || opts === null || Array.isArray(opts)) {
    return `${what}: expected an options object { ${known.join(", ")} }, got ${opts === null ? "null" : Array.isArray(opts) ? "an array" : `${typeof opts} ${String(opts)}`}`;
  }
  for (const key of Object.keys(opts)) {
    if (known.includes(key)) continue;
    const near = known.find((k) => k.toLowerCase() === key.toLowerCase()) ?? known.find((k) => distance(k, key) <= 2);
    return `${what}: unknown option ${JSON.stringify(key)}${near ? ` (did you mean ${near}?)` : ""}; expected ${known.length ? known.join(", ") : "none"}`;
  }
  return null;
}

/** Levenshtein distance (names are short). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** Options a function cannot do without: undefined is refused too, then as knownOptions. */
export function requiredOptions(what: string, opts: unknown, known: readonly string[]): void {
  if (opts === undefined) throw new ModelError(`${what}: expected an options object { ${known.join(", ")} }, got undefined`);
  knownOptions(what, opts, known);
}
