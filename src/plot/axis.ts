/**
 * An axis: the domain chosen from the data (or the user's min/max), its ticks, the mapping of a
 * data value to [0, 1] across the plot, and the SVG for grid, ticks and labels.
 */
import { el, num as fmt, text, textWidth } from "./svg.js";
import { labelledLogTicks, linearTicks, type Ticks } from "./ticks.js";

/** What a chart says about one axis; `min`/`max` fix that end of the domain (no rounding out). */
export interface AxisSpec {
  readonly label?: string;
  readonly log?: boolean;
  readonly min?: number;
  readonly max?: number;
  /** Values the auto-ranged axis must contain besides the data (e.g. [0, 100] for errors in %). */
  readonly include?: readonly number[];
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

/** Margin added beyond the data at each auto-ranged end, as a fraction of the data's span. */
export const MARGIN = 0.05;

/**
 * Build an axis for `values` (every data value on it; unusable ones are ignored). Auto-ranged ends
 * sit MARGIN of the span beyond the data, so no point lies on the frame (a flat 0% series stays
 * visible). A log axis whose data span less than a decade is drawn linear (a log scale there
 * shows one labelled tick or none), unless an end is fixed.
 * @example buildAxis({ log: true }, [1e-7, 1, 1e7], 9).ticks.labels // ["10⁻⁶", …, "10⁶"]
 */
export function buildAxis(spec: AxisSpec | undefined, values: Iterable<number>, maxTicks: number): Axis {
  const data = [...values, ...(Array.isArray(spec?.include) ? spec.include : [])];
  const fixed = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  let log = spec?.log === true;
  if (log && !fixed(spec?.min) && !fixed(spec?.max)) {
    const [lo, hi] = range(data, true);
    if (lo <= hi && hi - lo < 1) log = false;
  }
  const toAxis = (v: unknown): number =>
    typeof v !== "number" || !Number.isFinite(v) || (log && v <= 0) ? NaN : log ? Math.log10(v) : v;
  const [dataLo, dataHi] = range(data, log);
  const userLo = toAxis(spec?.min);
  const userHi = toAxis(spec?.max);
  const fixedLo = !Number.isNaN(userLo);
  const fixedHi = !Number.isNaN(userHi);
  const has = dataLo <= dataHi;
  const span = has ? dataHi - dataLo || (log ? 1 : Math.abs(dataHi) || 1) : 0;
  const lo = fixedLo ? userLo : has ? dataLo - MARGIN * span : fixedHi ? userHi - 1 : 0;
  const hi = fixedHi ? userHi : has ? dataHi + MARGIN * span : fixedLo ? userLo + 1 : 1;
  const ticks = (log ? labelledLogTicks : linearTicks)(Math.min(lo, hi), Math.max(lo, hi), maxTicks, false);
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

/** [min, max] of the drawable values in axis space (log10 on a log axis); [∞, −∞] when none. */
function range(values: readonly number[], log: boolean): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (typeof v !== "number" || !Number.isFinite(v) || (log && v <= 0)) continue;
    const t = log ? Math.log10(v) : v;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  return [lo, hi];
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
