/**
 * An axis: the domain chosen from the data (or the user's min/max), its ticks, the mapping of a
 * data value to [0, 1] across the plot, and the SVG for grid, ticks and labels.
 */
import { el, num as fmt, text, textWidth } from "./svg.js";
import { linearTicks, logTicks, type Ticks } from "./ticks.js";

/** What a chart says about one axis; `min`/`max` fix that end of the domain (no rounding out). */
export interface AxisSpec {
  readonly label?: string;
  readonly log?: boolean;
  readonly min?: number;
  readonly max?: number;
}

/** A built axis; `norm` is NaN for values that cannot be drawn (NaN, ±∞, ≤ 0 on a log axis). */
export interface Axis {
  readonly log: boolean;
  readonly label: string;
  readonly ticks: Ticks;
  norm(value: number): number;
  /** Position in [0, 1] of a tick given in axis space (log10 for a log axis). */
  at(tick: number): number;
}

/**
 * Build an axis for `values` (every data value on it; unusable ones are ignored).
 * @example buildAxis({ log: true }, [1e-7, 1, 1e7], 9).ticks.labels // ["10⁻⁸", …, "10⁸"]
 */
export function buildAxis(spec: AxisSpec | undefined, values: Iterable<number>, maxTicks: number): Axis {
  const log = spec?.log === true;
  const toAxis = (v: unknown): number =>
    typeof v !== "number" || !Number.isFinite(v) || (log && v <= 0) ? NaN : log ? Math.log10(v) : v;
  let dataLo = Infinity;
  let dataHi = -Infinity;
  for (const v of values) {
    const t = toAxis(v);
    if (t < dataLo) dataLo = t;
    if (t > dataHi) dataHi = t;
  }
  const userLo = toAxis(spec?.min);
  const userHi = toAxis(spec?.max);
  const fixedLo = !Number.isNaN(userLo);
  const fixedHi = !Number.isNaN(userHi);
  const lo = fixedLo ? userLo : dataLo <= dataHi ? dataLo : fixedHi ? userHi - 1 : 0;
  const hi = fixedHi ? userHi : dataLo <= dataHi ? dataHi : fixedLo ? userLo + 1 : 1;
  const make = log ? logTicks : linearTicks;
  // Both ends fixed: exactly the user's range. One end fixed: round the other out, keep this one.
  let ticks = make(Math.min(lo, hi), Math.max(lo, hi), maxTicks, !(fixedLo && fixedHi));
  if (fixedLo !== fixedHi) ticks = pin(ticks, fixedLo ? lo : undefined, fixedHi ? hi : undefined);
  const { lo: a, hi: b } = ticks;
  const at = (t: number) => (t - a) / (b - a);
  return {
    log,
    label: typeof spec?.label === "string" ? spec.label : "",
    ticks,
    at,
    norm: (v) => {
      const u = at(toAxis(v));
      return Number.isFinite(u) ? u : NaN;
    },
  };
}

/** Replace a rounded-out end by the user's exact bound and drop ticks beyond it. */
function pin(t: Ticks, lo: number | undefined, hi: number | undefined): Ticks {
  const a = lo ?? t.lo;
  const b = hi ?? t.hi;
  if (!(a < b)) return t;
  const keep = t.major.map((m, i) => i).filter((i) => t.major[i]! >= a - 1e-9 && t.major[i]! <= b + 1e-9);
  return {
    lo: a,
    hi: b,
    major: keep.map((i) => t.major[i]!),
    labels: keep.map((i) => t.labels[i]!),
    minor: t.minor.filter((m) => m >= a && m <= b),
  };
}

/** The plot area inside a panel, in pixels. */
export interface Box {
  readonly left: number;
  readonly top: number;
  readonly w: number;
  readonly h: number;
}

export const TICK_FONT = 11;
export const TICK = 5; // major tick length; minor ticks are 3
const GRID = "#e4e4e4";
const INK = "#333";

/**
 * Widest tick label in pixels, to size the left margin.
 * @example tickLabelWidth(buildAxis({ log: true }, [1e-8, 1e8], 9)) // ≈ 28 ("10⁻⁸")
 */
export function tickLabelWidth(axis: Axis): number {
  return Math.max(0, ...axis.ticks.labels.map((l) => textWidth(l, TICK_FONT)));
}

/**
 * Grid lines (drawn under the data) and frame, ticks and labels (drawn over it).
 * @example const { grid, frame } = axesSvg(box, xAxis, yAxis)
 */
export function axesSvg(box: Box, x: Axis, y: Axis): { grid: string; frame: string } {
  const { left, top, w, h } = box;
  const bottom = top + h;
  const px = (u: number) => left + u * w;
  const py = (v: number) => bottom - v * h;
  const inside = (u: number) => u >= -1e-9 && u <= 1 + 1e-9;
  const grid: string[] = [];
  const frame: string[] = [];
  const mark = (d: string, stroke: string) => el("path", { d, stroke, fill: "none", "shape-rendering": "crispEdges" });

  let gridD = "";
  let tickD = "";
  let minorD = "";
  x.ticks.major.forEach((t, i) => {
    const u = x.at(t);
    if (!inside(u)) return;
    const X = px(u);
    if (u > 1e-9 && u < 1 - 1e-9) gridD += `M${fmt(X)} ${fmt(top)}V${fmt(bottom)}`;
    tickD += `M${fmt(X)} ${fmt(bottom)}v${TICK}`;
    frame.push(text(X, bottom + TICK + 13, x.ticks.labels[i]!, { "text-anchor": "middle", "font-size": TICK_FONT }));
  });
  y.ticks.major.forEach((t, i) => {
    const v = y.at(t);
    if (!inside(v)) return;
    const Y = py(v);
    if (v > 1e-9 && v < 1 - 1e-9) gridD += `M${fmt(left)} ${fmt(Y)}H${fmt(left + w)}`;
    tickD += `M${fmt(left)} ${fmt(Y)}h${-TICK}`;
    frame.push(text(left - TICK - 3, Y + 4, y.ticks.labels[i]!, { "text-anchor": "end", "font-size": TICK_FONT }));
  });
  for (const t of x.ticks.minor) if (inside(x.at(t))) minorD += `M${fmt(px(x.at(t)))} ${fmt(bottom)}v3`;
  for (const t of y.ticks.minor) if (inside(y.at(t))) minorD += `M${fmt(left)} ${fmt(py(y.at(t)))}h-3`;

  if (gridD) grid.push(mark(gridD, GRID));
  const box4 = `M${fmt(left)} ${fmt(top)}H${fmt(left + w)}V${fmt(bottom)}H${fmt(left)}Z`;
  frame.unshift(mark(box4 + tickD, INK), ...(minorD ? [mark(minorD, "#888")] : []));
  if (x.label) frame.push(text(left + w / 2, bottom + TICK + 32, x.label, { "text-anchor": "middle" }));
  if (y.label) {
    const X = left - TICK - 3 - tickLabelWidth(y) - 8; // lineChart's left margin leaves this room
    const Y = top + h / 2;
    frame.push(text(X, Y, y.label, { "text-anchor": "middle", transform: `rotate(-90 ${fmt(X)} ${fmt(Y)})` }));
  }
  return { grid: grid.join(""), frame: frame.join("") };
}
