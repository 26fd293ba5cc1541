/**
 * Options objects held to the names they take. A misspelt option (`weightdecay`, `bais`,
 * `shufle`) was ignored and its default used — no weight decay, a bias, a shuffled order — with
 * no error: TypeScript catches it only in an object literal written at the call, not in options
 * built elsewhere (a config object, a spread, JavaScript).
 */
import { ModelError } from "../runtime/errors.js";

/** Refuse a name `opts` has that `known` does not, naming the nearest known one. Non-objects pass (their callers check them). */
export function knownOptions(what: string, opts: unknown, known: readonly string[], E: new (message: string) => Error = ModelError): void {
  const bad = unknownOption(what, opts, known);
  if (bad !== null) throw new E(bad);
}

/** knownOptions' message, or null when every name is known (for callers that raise their own error). */
export function unknownOption(what: string, opts: unknown, known: readonly string[]): string | null {
  if (typeof opts !== "object" || opts === null) return null;
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
