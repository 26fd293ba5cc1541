/**
 * Tick generation. Linear axes step by 1, 2 or 5 × 10^k (the steps a reader can add in their head);
 * log axes put major ticks on decades, skipping decades by 1, 2, 5, 10, … when the range is huge,
 * so the number of labels is bounded whatever the data (1e-30..1e30 still gets ≤ maxTicks).
 *
 * Every value here is in *axis space*: the data value for a linear axis, log10 of it for a log
 * axis. Exponents stay exact integers that way, even where 10^e under- or overflows a double.
 */
import { decade } from "./svg.js";

/** Ticks of one axis, in axis space; `lo`/`hi` is the domain the axis will span. */
export interface Ticks {
  readonly lo: number;
  readonly hi: number;
  readonly major: readonly number[];
  readonly labels: readonly string[];
  readonly minor: readonly number[];
}

const EPS = 1e-9; // slack for floating quotients like 0.3 / 0.1 = 2.9999999999999996
const LIMIT = 1e300; // keeps hi − lo finite on a linear axis

/**
 * Nice linear ticks: the smallest 1-2-5 step giving at most `maxTicks` ticks. With `snap` the
 * domain grows to whole steps (auto-ranged axes); without, it is kept as given (user min/max).
 * A degenerate range (all values equal) is widened by 10% of the value, or ±1 around zero.
 * @example linearTicks(1, 50, 6).major // [0, 10, 20, 30, 40, 50]
 */
export function linearTicks(min: number, max: number, maxTicks = 6, snap = true): Ticks {
  let [lo, hi] = finiteRange(min, max, 0, 1, LIMIT);
  if (hi - lo <= Math.max(Math.abs(lo), Math.abs(hi)) * 1e-12) {
    const c = (lo + hi) / 2;
    const half = c === 0 ? 1 : Math.abs(c) * 0.1;
    [lo, hi] = [c - half, c + half];
  }
  const cap = Math.max(3, Math.floor(maxTicks));
  const k0 = Math.floor(Math.log10((hi - lo) / cap)) - 1;
  // Candidates in increasing size; k0 + 4 decades always fit (see the bound in the loop).
  for (let k = k0; k <= k0 + 4; k++) {
    for (const m of [1, 2, 5]) {
      // i·m / 10^−k is exact for decimals (3 × 0.1 = 0.30000000000000004, 3 / 10 = 0.3);
      // below 1e-300, 10^−k overflows and the plain product is the only choice.
      const at = (i: number) => (k >= 0 || k < -300 ? i * m * 10 ** k : (i * m) / 10 ** -k);
      const step = m * 10 ** k;
      const i0 = snap ? Math.floor(lo / step + EPS) : Math.ceil(lo / step - EPS);
      const i1 = snap ? Math.ceil(hi / step - EPS) : Math.floor(hi / step + EPS);
      if (i1 - i0 + 1 > cap && k < k0 + 4) continue;
      const major: number[] = [];
      for (let i = i0; i <= i1 && major.length <= cap; i++) major.push(at(i) || 0); // || 0 drops −0
      const domain = snap ? [at(i0), at(i1)] : [lo, hi];
      return { lo: domain[0]!, hi: domain[1]!, major, labels: linearLabels(major, k), minor: [] };
    }
  }
  return { lo, hi, major: [lo, hi], labels: linearLabels([lo, hi], 0), minor: [] }; // unreachable
}

/**
 * Log ticks in exponent space: majors on decades (every 1, 2, 5, 10, … decades so that at most
 * `maxTicks` show), minors on 2..9 × 10^e when decades are few, else on the skipped decades.
 * @example logTicks(-7, 7, 9).labels // ["10⁻⁸", "10⁻⁶", …, "10⁸"]
 */
export function logTicks(minExp: number, maxExp: number, maxTicks = 8, snap = true): Ticks {
  let [lo, hi] = finiteRange(minExp, maxExp, 0, 1, 330); // 1e-324..1e308 live inside ±330
  if (snap) {
    [lo, hi] = [Math.floor(lo + EPS), Math.ceil(hi - EPS)];
    if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  } else if (hi - lo < EPS) {
    [lo, hi] = [lo - 0.5, hi + 0.5];
  }
  const cap = Math.max(2, Math.floor(maxTicks));
  let step = 1;
  for (const s of [1, 2, 5, 10, 20, 50, 100, 200, 500]) {
    step = s;
    const i0 = snap ? Math.floor(lo / s) : Math.ceil(lo / s - EPS);
    const i1 = snap ? Math.ceil(hi / s) : Math.floor(hi / s + EPS);
    if (i1 - i0 + 1 <= cap) break;
  }
  if (snap) [lo, hi] = [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
  const major: number[] = [];
  for (let e = Math.ceil(lo / step - EPS) * step; e <= hi + EPS; e += step) major.push(e);
  if (major.length < 2 && step === 1) return subDecadeTicks(lo, hi);
  return { lo, hi, major, labels: major.map(decade), minor: logMinor(lo, hi, step) };
}

/**
 * Log ticks a reader can read values off: up to 3 decades, majors at 1, 2 and 5 × 10^e labelled
 * as plain numbers (0.2, 0.5, 1, 2, …) and minors at the other digits; wider ranges get logTicks.
 * @example labelledLogTicks(Math.log10(1.5), Math.log10(30), 8, false).labels // ["2", "5", "10", "20"]
 */
export function labelledLogTicks(minExp: number, maxExp: number, maxTicks = 8, snap = true): Ticks {
  const [lo, hi] = finiteRange(minExp, maxExp, 0, 1, 330);
  if (snap || hi - lo > 3) return logTicks(lo, hi, maxTicks, snap);
  for (const digits of [[1, 2, 5], [1]]) {
    const major: number[] = [];
    const minor: number[] = [];
    for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
      for (let j = 1; j <= 9; j++) {
        const t = e + Math.log10(j);
        if (t < lo - EPS || t > hi + EPS) continue;
        (digits.includes(j) ? major : minor).push(t);
      }
    }
    if ((major.length <= Math.max(2, Math.floor(maxTicks)) && major.length >= 2) || digits.length === 1) {
      if (major.length < 2) return logTicks(lo, hi, maxTicks, false);
      return { lo, hi, major, labels: major.map((t) => compact(10 ** t)), minor };
    }
  }
  return logTicks(lo, hi, maxTicks, false); // unreachable
}

/** Minor ticks for a log axis; never more than about 100. */
function logMinor(lo: number, hi: number, step: number): number[] {
  const minor: number[] = [];
  if (step === 1 && hi - lo <= 12) {
    for (let e = Math.floor(lo); e < hi; e++) {
      for (let j = 2; j <= 9; j++) {
        const t = e + Math.log10(j);
        if (t > lo + EPS && t < hi - EPS) minor.push(t);
      }
    }
    return minor;
  }
  // Skipped decades, thinned to a step that divides the major step (≤ 30 of them: a ruler-like
  // comb of minor ticks reads as noise).
  const sub = [1, 2, 5, 10, 20, 50, 100].find((s) => step % s === 0 && s < step && (hi - lo) / s <= 30);
  if (sub === undefined) return minor;
  for (let e = Math.ceil(lo / sub) * sub; e <= hi; e += sub) if (e % step !== 0) minor.push(e);
  return minor;
}

/** A log axis narrower than two decades (user min/max): label 1, 2, 5 × 10^e, or every digit. */
function subDecadeTicks(lo: number, hi: number): Ticks {
  for (const digits of [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const major: number[] = [];
    for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
      for (const j of digits) {
        const t = e + Math.log10(j);
        if (t >= lo - EPS && t <= hi + EPS) major.push(t);
      }
    }
    if (major.length >= 2 || digits.length === 9) {
      return { lo, hi, major, labels: major.map((t) => compact(10 ** t)), minor: [] };
    }
  }
  return { lo, hi, major: [], labels: [], minor: [] }; // unreachable
}

/** Labels for ticks `k` decimals apart (step m×10^k): fixed point, or exponent form if huge/tiny. */
function linearLabels(values: readonly number[], k: number): string[] {
  const maxAbs = Math.max(0, ...values.map(Math.abs));
  if (maxAbs < 1e6 && (maxAbs >= 1e-3 || maxAbs === 0)) {
    return values.map((v) => v.toFixed(Math.max(0, Math.min(20, -k))).replace(/^-(0\.?0*)$/, "$1"));
  }
  // Fewest mantissa digits that still tell neighbouring ticks apart.
  for (let d = 0; d <= 6; d++) {
    const labels = values.map((v) => (v === 0 ? "0" : exp(v, d)));
    if (new Set(labels).size === labels.length || d === 6) return labels;
  }
  return []; // unreachable
}

/** `1.50e+6` → `1.5e6`: the short exponent form used on axes. */
function exp(v: number, digits: number): string {
  const [mant, e] = v.toExponential(digits).split("e");
  return `${mant!.includes(".") ? mant!.replace(/\.?0+$/, "") : mant}e${Number(e)}`;
}

/**
 * A number in at most 3 significant digits, exponent form outside [1e-3, 1e6).
 * @example compact(0.000012345) // "1.23e-5"; compact(250) // "250"
 */
export function compact(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return exp(v, 2);
  return String(Number(v.toPrecision(3)));
}

/** Order a range, replacing non-finite ends, clamped to ±limit. */
function finiteRange(a: number, b: number, dLo: number, dHi: number, limit: number): [number, number] {
  const ok = (v: number) => typeof v === "number" && Number.isFinite(v);
  let lo = ok(a) ? a : ok(b) ? b : dLo;
  let hi = ok(b) ? b : ok(a) ? a : dHi;
  if (lo > hi) [lo, hi] = [hi, lo];
  return [Math.max(-limit, Math.min(limit, lo)), Math.max(-limit, Math.min(limit, hi))];
}
