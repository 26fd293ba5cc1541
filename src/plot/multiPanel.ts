/**
 * Several charts side by side in one SVG, like the lecture's two-panel figures
 * (activation norm vs layer | gradient norm vs layer). Panels are laid out on a grid of equal
 * cells, row by row; each is a translated <g>, so nothing inside needs unique ids.
 */
import { chartBody, dimension, svgDocument, type LineChartSpec } from "./lineChart.js";
import { clip, el, text } from "./svg.js";

export interface MultiPanelOptions {
  /** Panels per row; default: all in one row, at most 3. */
  readonly columns?: number;
  /** Figure title above all panels. */
  readonly title?: string;
  /** Cell size in pixels; default 440 × 320. Each chart's own width/height is ignored here. */
  readonly panelWidth?: number;
  readonly panelHeight?: number;
}

/**
 * Render `charts` as panels of one figure.
 * @example
 * multiPanel([activationChart, gradientChart], { columns: 2, title: "Deep ReLU MLP, 50 layers" })
 */
export function multiPanel(charts: readonly LineChartSpec[], opts: MultiPanelOptions = {}): string {
  const list = Array.isArray(charts) ? charts : [];
  const cols = Math.max(1, Math.min(Math.max(1, list.length), wholeOr(opts.columns, Math.min(list.length, 3))));
  const rows = Math.max(1, Math.ceil(list.length / cols));
  const pw = dimension(opts.panelWidth, 440);
  const ph = dimension(opts.panelHeight, 320);
  const title = typeof opts.title === "string" ? opts.title : "";
  const band = title ? 34 : 0; // room for the figure title
  const w = cols * pw;
  const h = band + rows * ph;
  const parts: string[] = [];
  if (title) {
    const fit = Math.max(4, Math.floor(w / (15 * 0.62)));
    parts.push(text(w / 2, 24, clip(title, fit), { "text-anchor": "middle", "font-size": 15, "font-weight": "bold" }));
  }
  list.forEach((chart, i) => {
    const x = (i % cols) * pw;
    const y = band + Math.floor(i / cols) * ph;
    parts.push(el("g", { transform: `translate(${x} ${y})` }, `\n${chartBody(chart, pw, ph)}\n`));
  });
  return svgDocument(w, h, parts.join("\n"));
}

function wholeOr(v: number | undefined, fallback: number): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 1 ? Math.floor(v) : fallback;
}
