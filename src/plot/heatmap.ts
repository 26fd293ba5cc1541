/**
 * A heat map of a grid of results (rows × columns of cells), each cell coloured by its value on
 * one sequential scale and annotated with its text, so the figure reads both at a glance and
 * exactly. Cells without a value (a diverged run) are grey with their text. A colour bar with
 * the scale's ticks sits beside the grid.
 */
import { svgDocument } from "./lineChart.js";
import { clip, el, num as fmt, text, textWidth } from "./svg.js";
import { linearTicks } from "./ticks.js";

export interface HeatmapCell {
  /** Coloured on the scale; NaN/±∞: no colour (grey). */
  readonly value: number;
  /** Lines written in the cell (e.g. "12.3%", "lr 0.001"). */
  readonly lines: readonly string[];
}

export interface HeatmapSpec {
  readonly title?: string;
  readonly columns: { readonly label: string; readonly names: readonly string[] };
  readonly rows: { readonly label: string; readonly names: readonly string[] };
  /** cells[row][column]. */
  readonly cells: readonly (readonly HeatmapCell[])[];
  /** The colour scale: `min` is the lightest colour, `max` the darkest. */
  readonly scale: { readonly label: string; readonly min: number; readonly max: number };
  /** Pixels per cell; default 120 × 64. */
  readonly cellWidth?: number;
  readonly cellHeight?: number;
}

// Light to dark (viridis reversed, sampled): order is readable in grey print too.
const STOPS: readonly [number, number, number][] = [
  [253, 231, 37], [94, 201, 98], [33, 145, 140], [59, 82, 139], [68, 1, 84],
];
const MISSING = "#d9d9d9";

/** The scale's colour at t ∈ [0, 1] (clamped), linear between the stops. */
export function scaleColor(t: number): string {
  const u = Math.max(0, Math.min(1, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(u));
  const f = u - i;
  const c = STOPS[i]!.map((a, k) => Math.round(a + f * (STOPS[i + 1]![k]! - a)));
  return `rgb(${c.join(",")})`;
}

/** White text on dark cells, black on light ones (relative luminance of the fill). */
function ink(t: number): string {
  return t > 0.45 ? "#fff" : "#111";
}

/**
 * Render the grid as an SVG document.
 * @example heatmap({ columns: { label: "σ² · n", names: ["1", "2"] }, rows: { label: "", names: ["none"] },
 *                    cells: [[{ value: 89, lines: ["89%"] }, { value: 11, lines: ["11%"] }]], scale: { label: "error (%)", min: 0, max: 100 } })
 */
export function heatmap(spec: HeatmapSpec): string {
  const cw = spec.cellWidth ?? 120, ch = spec.cellHeight ?? 64;
  const nr = spec.rows.names.length, nc = spec.columns.names.length;
  const rowW = Math.max(0, ...spec.rows.names.map((n) => textWidth(n, 12)));
  const left = 20 + (spec.rows.label ? 18 : 0) + rowW;
  const top = (spec.title ? 40 : 12) + 22;
  const gridW = nc * cw, gridH = nr * ch;
  const barX = left + gridW + 24, barW = 16;
  const ticks = linearTicks(spec.scale.min, spec.scale.max, 6, false);
  const tickW = Math.max(0, ...ticks.labels.map((l) => textWidth(l, 11)));
  const w = Math.max(barX + barW + 8 + tickW + 16, barX + textWidth(spec.scale.label, 11) + 12);
  const h = top + gridH + 40;
  const parts: string[] = [];
  if (spec.title) parts.push(text(w / 2, 24, clip(spec.title, Math.floor(w / 8.7)), { "text-anchor": "middle", "font-size": 14, "font-weight": "bold" }));
  const span = spec.scale.max - spec.scale.min || 1;
  spec.rows.names.forEach((name, r) => {
    const y = top + r * ch;
    parts.push(text(left - 8, y + ch / 2 + 4, name, { "text-anchor": "end" }));
    spec.columns.names.forEach((_, c) => {
      const cell = spec.cells[r]?.[c];
      const x = left + c * cw;
      const t = cell && Number.isFinite(cell.value) ? (cell.value - spec.scale.min) / span : NaN;
      parts.push(el("rect", { x, y, width: cw, height: ch, fill: Number.isNaN(t) ? MISSING : scaleColor(t), stroke: "#fff", "stroke-width": 2 }));
      const lines = cell?.lines ?? [];
      lines.forEach((line, k) => {
        const ly = y + ch / 2 + 4 + (k - (lines.length - 1) / 2) * 15;
        parts.push(text(x + cw / 2, ly, clip(line, Math.floor(cw / 6.5)), {
          "text-anchor": "middle", "font-size": k === 0 ? 13 : 11, "font-weight": k === 0 ? "bold" : undefined, fill: Number.isNaN(t) ? "#111" : ink(t),
        }));
      });
    });
  });
  spec.columns.names.forEach((name, c) => parts.push(text(left + c * cw + cw / 2, top - 8, name, { "text-anchor": "middle" })));
  if (spec.columns.label) parts.push(text(left + gridW / 2, top + gridH + 26, spec.columns.label, { "text-anchor": "middle" }));
  if (spec.rows.label) {
    const X = 16, Y = top + gridH / 2;
    parts.push(text(X, Y, spec.rows.label, { "text-anchor": "middle", transform: `rotate(-90 ${fmt(X)} ${fmt(Y)})` }));
  }
  // Colour bar: min at the top (light), max at the bottom, like the reading order of the cells' scale.
  const steps = 40;
  for (let i = 0; i < steps; i++) {
    parts.push(el("rect", { x: barX, y: top + (i * gridH) / steps, width: barW, height: gridH / steps + 0.5, fill: scaleColor((i + 0.5) / steps) }));
  }
  parts.push(el("rect", { x: barX, y: top, width: barW, height: gridH, fill: "none", stroke: "#333" }));
  ticks.major.forEach((v, i) => {
    const y = top + ((v - spec.scale.min) / span) * gridH;
    parts.push(el("path", { d: `M${fmt(barX + barW)} ${fmt(y)}h4`, stroke: "#333" }));
    parts.push(text(barX + barW + 7, y + 4, ticks.labels[i]!, { "font-size": 11 }));
  });
  parts.push(text(barX, top - 8, spec.scale.label, { "font-size": 11 }));
  return svgDocument(Math.ceil(w), Math.ceil(h), parts.join("\n"));
}
