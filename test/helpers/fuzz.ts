/**
 * Seeded fuzzing helpers: a guard that lets only KilnErrors through, and random edits of JSON
 * trees (deleted keys, changed numbers, spliced subtrees, hostile values and names).
 */
import { batchNorm, compile, KilnError, linear, relu, seq, type Net } from "../../src/index.js";

export type Rng = () => number;
export const int = (r: Rng, n: number) => Math.floor(r() * n);
export const pick = <T>(r: Rng, a: readonly T[]): T => a[int(r, a.length)]!;

/** Run `f`; a KilnError with a message is fine, anything else is recorded as a failure. */
export function guarded(failures: string[], label: () => string, f: () => void): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (!(e instanceof KilnError) || e.message.trim() === "") {
      if (failures.length < 10) failures.push(`${label()}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    }
    return false;
  }
}

// ─────────────────────────────── JSON mutation ───────────────────────────────

export const EVIL = '"); globalThis.__kilnPwned = 1; ("';
export const nasty = (r: Rng): unknown => pick<() => unknown>(r, [
  () => 0, () => -0, () => -1, () => 1, () => 2, () => 3, () => 1.5, () => 2 ** 31, () => 2 ** 53 + 2, () => 1e300, () => -1e300,
  () => Infinity, () => NaN, () => "", () => "x", () => EVIL, () => null, () => true, () => [], () => ({}), () => [1], () => [-1],
  () => [0, 1], () => [2, 3], () => [1e9, 1e9], () => [2 ** 28, 2], () => JSON.parse('{"__proto__": {"kind": "relu"}}'),
  () => pick(r, ["relu", "linear", "seq", "residual", "he", "zeros", "add", "matmul", "fused_elementwise", "F32", "I64", "f32", "i32", "param", "state"]),
])();

function spots(v: unknown, out: [Record<string, unknown> | unknown[], string][] = []): typeof out {
  if (v !== null && typeof v === "object") {
    for (const k of Object.keys(v)) {
      out.push([v as Record<string, unknown>, k]);
      spots((v as Record<string, unknown>)[k], out);
    }
  }
  return out;
}

/** Apply 1–4 random edits to a JSON tree in place (and return it: the root may be replaced). */
export function mutateJson(r: Rng, root: unknown): unknown {
  const edits = r() < 0.7 ? 1 : 1 + int(r, 4);
  for (let e = 0; e < edits; e++) {
    const s = spots(root);
    if (s.length === 0 || r() < 0.02) return nasty(r);
    const [obj, key] = pick(r, s);
    const cur = (obj as Record<string, unknown>)[key];
    const arr = Array.isArray(obj);
    switch (int(r, 8)) {
      case 0: if (arr) obj.splice(Number(key), 1); else delete (obj as Record<string, unknown>)[key]; break;
      case 1: (obj as Record<string, unknown>)[key] = typeof cur === "number" ? cur + pick(r, [-2, -1, 1, 2, 100, -cur - 1]) : nasty(r); break;
      case 2: if (arr) obj.splice(Number(key), 0, structuredClone(cur)); else (obj as Record<string, unknown>)[`${key}_`] = cur; break;
      case 3: if (arr && obj.length > 1) { const j = int(r, obj.length); [obj[Number(key)], obj[j]] = [obj[j], obj[Number(key)]]; } break;
      case 4: { const [o2, k2] = pick(r, s); (obj as Record<string, unknown>)[key] = structuredClone((o2 as Record<string, unknown>)[k2]); break; }
      default: (obj as Record<string, unknown>)[key] = nasty(r);
    }
  }
  return root;
}

/** A net with parameters and batchNorm state, for loads that must be all-or-nothing. */
export const smallNet = (): Net => compile(seq(linear(3, 4), batchNorm(4), relu, linear(4, 2)), { inputs: 3, batch: 2 });
