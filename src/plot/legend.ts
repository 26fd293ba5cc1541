/**
 * Legend box: a short line sample (with dash and marker) and the series name per row. It has one
 * place, beside the plot at its top right (lineChart), so it never hides data and sits in the
 * same spot in every panel of every figure.
 */
import { markerSvg, type Style } from "./series.js";
import { clip, el, num as fmt, text, textWidth } from "./svg.js";

export interface LegendEntry {
  readonly name: string;
  readonly style: Style;
}

/** Rows to show and the box size; long lists end in "+N more", long names are cut. */
export interface LegendLayout {
  readonly rows: readonly LegendEntry[];
  readonly more: number;
  readonly w: number;
  readonly h: number;
}

const FONT = 11;
const ROW = 16;
const PAD = 6;
const SWATCH = 24;
const MAX_ROWS = 12;
const MAX_CHARS = 40;

/**
 * Measure a legend for `entries`; undefined when there is nothing to say (no named series).
 * @example layoutLegend([{ name: "σ² = 2/n", style }])?.w // ≈ 90
 */
export function layoutLegend(entries: readonly LegendEntry[]): LegendLayout | undefined {
  const named = entries.filter((e) => e.name !== "");
  if (named.length === 0) return undefined;
  const shown = named.length > MAX_ROWS ? MAX_ROWS - 1 : named.length;
  const rows = named.slice(0, shown).map((e) => ({ ...e, name: clip(e.name, MAX_CHARS) }));
  const more = named.length - shown;
  const labels = rows.map((r) => r.name).concat(more > 0 ? [`+${more} more`] : []);
  const w = PAD * 2 + SWATCH + 6 + Math.max(...labels.map((l) => textWidth(l, FONT)));
  const h = PAD * 2 + labels.length * ROW - 4;
  return { rows, more, w, h };
}

/**
 * The legend at (x, y): white box with a thin border, then one row per entry.
 * @example legendSvg(layout, 300, 48)
 */
export function legendSvg(layout: LegendLayout, x: number, y: number): string {
  const parts = [
    el("rect", { x, y, width: layout.w, height: layout.h, fill: "#fff", "fill-opacity": 0.9, stroke: "#bbb", rx: 3 }),
  ];
  layout.rows.forEach((r, i) => {
    const cy = y + PAD + i * ROW + 6;
    const x0 = x + PAD;
    parts.push(
      el("path", {
        d: `M${fmt(x0)} ${fmt(cy)}h${SWATCH}`,
        stroke: r.style.color,
        "stroke-width": Math.max(1.5, r.style.width),
        "stroke-dasharray": r.style.dash,
        fill: "none",
      }),
    );
    if (r.style.marker) parts.push(markerSvg(r.style.marker, x0 + SWATCH / 2, cy, r.style.color));
    parts.push(text(x0 + SWATCH + 6, cy + 4, r.name, { "font-size": FONT }));
  });
  if (layout.more > 0) {
    const cy = y + PAD + layout.rows.length * ROW + 6;
    parts.push(text(x + PAD + SWATCH + 6, cy + 4, `+${layout.more} more`, { "font-size": FONT, fill: "#666" }));
  }
  return el("g", {}, parts.join(""));
}
