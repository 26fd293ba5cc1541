/**
 * Line charts for experiment figures (activation / gradient norm per layer, loss per epoch).
 * Output is a standalone SVG string: no dependencies, no randomness, no clock, so the same spec
 * gives the same bytes and a figure can be checked into a diff or compared in a test.
 */
import { axesSvg, buildAxis, tickLabelWidth, TICK, TICK_FONT, type Axis, type AxisSpec, type Box } from "./axis.js";
import { layoutLegend, legendSvg } from "./legend.js";
import { seriesStyle, seriesSvg, type Point } from "./series.js";
import { clip, el, text, textWidth } from "./svg.js";

export type { AxisSpec } from "./axis.js";
export type { Point } from "./series.js";

/** One curve. Points with NaN/±∞ (or ≤ 0 on a log axis) break it into separate segments. */
export interface Series {
  readonly name: string;
  readonly points: readonly Point[];
  readonly dashed?: boolean;
  /** Any SVG colour; defaults to the print-safe palette in series order. */
  readonly color?: string;
  readonly markers?: boolean;
  /**
   * A reference, not a measurement (a target, the value at initialization): drawn under the data,
   * thin, grey and dashed unless `color` says otherwise.
   */
  readonly reference?: boolean;
}

export interface LineChartSpec {
  readonly title?: string;
  readonly x: AxisSpec;
  readonly y: AxisSpec;
  readonly series: readonly Series[];
  /** Pixels; default 480 × 320. */
  readonly width?: number;
  readonly height?: number;
  /** Markers on every series (a series' own `markers` wins). */
  readonly markers?: boolean;
  /** "right": beside the plot, top-aligned (the one placement: a legend never hides data); "none". */
  readonly legend?: "right" | "none";
}

const FONT_FAMILY = "DejaVu Sans, Helvetica, Arial, sans-serif";
const TITLE_FONT = 14;

/**
 * Render one chart as an SVG document.
 * @example
 * lineChart({
 *   title: "Activation norm", x: { label: "layer" }, y: { label: "‖z‖", log: true },
 *   series: [{ name: "σ² = 2/n", points: norms.map((v, i) => [i + 1, v]) }],
 * }) // '<svg xmlns="http://www.w3.org/2000/svg" …</svg>\n'
 */
export function lineChart(spec: LineChartSpec): string {
  const w = dimension(spec?.width, 480);
  const h = dimension(spec?.height, 320);
  return svgDocument(w, h, chartBody(spec, w, h));
}

/**
 * Wrap a body in the root element with a white background (PNG converters keep transparency).
 * @example svgDocument(100, 50, "") // '<svg … width="100" height="50" …><rect …/>\n</svg>\n'
 */
export function svgDocument(w: number, h: number, body: string): string {
  const root = el("svg", {
    xmlns: "http://www.w3.org/2000/svg",
    width: w,
    height: h,
    viewBox: `0 0 ${w} ${h}`,
    "font-family": FONT_FAMILY,
    "font-size": 12,
    fill: "#222",
  }, `\n${el("rect", { width: w, height: h, fill: "#fff" })}\n${body}${body ? "\n" : ""}`);
  return root + "\n";
}

/**
 * A chart drawn into a w × h box at the origin, without the root element (multiPanel places
 * several of these).
 * @example `<g transform="translate(480 0)">${chartBody(spec, 480, 320)}</g>`
 */
export function chartBody(spec: LineChartSpec, w: number, h: number): string {
  const series = Array.isArray(spec?.series) ? spec.series : [];
  // Colours go to the measured series in order; references take the reference style.
  let k = 0;
  const styles = series.map((s) =>
    seriesStyle(s?.reference === true ? -1 : k++, { color: s?.color, dashed: s?.dashed, markers: s?.markers ?? spec.markers }),
  );
  const pointsOf = (s: Series | undefined): readonly Point[] => (Array.isArray(s?.points) ? s.points : []);
  const names = series.map((s) => (typeof s?.name === "string" ? s.name : s?.name === undefined ? "" : String(s.name)));
  const legend = spec?.legend === "none" ? undefined : layoutLegend(names.map((name, i) => ({ name, style: styles[i]! })));

  // Vertical layout first: the y ticks depend on the plot height only.
  const title = typeof spec?.title === "string" ? spec.title : "";
  const xSpec = spec?.x ?? {};
  const ySpec = spec?.y ?? {};
  const top = title ? 36 : 14;
  const bottom = TICK + 13 + (xSpec.label ? 22 : 0) + 10;
  const plotH = Math.max(40, h - top - bottom);
  const coords = (k: 0 | 1) => series.flatMap((s) => pointsOf(s).map((p) => (Array.isArray(p) ? p[k] : NaN)));
  const yAxis = buildAxis(ySpec, coords(1), clampInt(plotH / 28 + 1, 3, 10));

  // Horizontal layout: y tick labels set the left margin, the last x label half the right one,
  // a legend beside the plot adds its width.
  const left = 8 + (ySpec.label ? 16 : 0) + tickLabelWidth(yAxis) + TICK + 3 + 6;
  const xs = coords(0);
  const layout = () => {
    const overhang = (axis: Axis) => Math.max(14, textWidth(axis.ticks.labels.at(-1) ?? "", TICK_FONT) / 2 + 6);
    const legendW = legend ? legend.w + 12 : 0;
    const xAxisFor = (plotW: number) => buildAxis(xSpec, xs, clampInt(plotW / 70 + 1, 3, 11));
    const first = xAxisFor(w - left - 16 - legendW);
    const xAxis = xAxisFor(Math.max(40, w - left - overhang(first) - legendW));
    const box: Box = { left, top, w: Math.max(40, w - left - overhang(xAxis) - legendW), h: plotH };
    const drawn = series.map((s, i) => seriesSvg(pointsOf(s), xAxis, yAxis, box, styles[i]!));
    return { xAxis, box, drawn, legendX: left + box.w + overhang(xAxis) - 2 };
  };
  const L = layout();
  const { xAxis, box, drawn } = L;
  const { grid, frame } = axesSvg(box, xAxis, yAxis);
  // References first, so the data are drawn over them.
  const order = series.map((s, i) => i).sort((a, b) => Number(series[b]?.reference === true) - Number(series[a]?.reference === true));
  const parts = [grid, ...order.map((i) => drawn[i]!.svg), frame];
  if (drawn.every((d) => d.drawable === 0)) {
    parts.push(text(left + box.w / 2, top + plotH / 2 + 4, "no data", { "text-anchor": "middle", fill: "#999" }));
  }
  if (legend) parts.push(legendSvg(legend, L.legendX, top));
  if (title) {
    const fit = Math.max(4, Math.floor(w / (TITLE_FONT * 0.62)));
    parts.push(text(w / 2, 23, clip(title, fit), { "text-anchor": "middle", "font-size": TITLE_FONT, "font-weight": "bold" }));
  }
  return parts.filter((p) => p !== "").join("\n");
}

/**
 * A usable pixel size: default for missing/NaN, clamped to 120..4000.
 * @example dimension(undefined, 480) // 480; dimension(1e9, 480) // 4000
 */
export function dimension(v: number | undefined, fallback: number): number {
  if (typeof v !== "number" || !Number.isFinite(v)) return fallback;
  return Math.round(Math.max(120, Math.min(4000, v)));
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, Math.floor(v)));
}
