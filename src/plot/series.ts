/**
 * One data series as SVG: a single <path> whose sub-paths are the runs of drawable points.
 * A NaN, ±∞ or (on a log axis) non-positive value breaks the curve instead of dragging it to an
 * edge; segments leaving a user-fixed range are clipped here (Liang–Barsky), so the output needs
 * no clipPath ids and never holds an off-canvas coordinate.
 */
import type { Axis, Box } from "./axis.js";
import { el, num as fmt } from "./svg.js";

export type Point = readonly [x: number, y: number];
export type MarkerShape = "circle" | "square" | "triangle" | "diamond" | "down" | "plus";

/** How a series is drawn. */
export interface Style {
  readonly color: string;
  readonly dash: string | undefined;
  readonly marker: MarkerShape | undefined;
  /** Stroke width in pixels. */
  readonly width: number;
}

// Okabe–Ito: distinguishable with colour-blindness and, thanks to differing lightness, in grey print.
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
// After the palette is used up, cycle dash patterns so series 8+ still differ.
const DASHES = [undefined, "7 4", "2 3", "9 3 2 3"];
const MARKERS: readonly MarkerShape[] = ["circle", "square", "triangle", "diamond", "down", "plus"];

/** Reference lines (a target, the value at initialization): thin grey dashes, drawn under the data. */
const REFERENCE = { color: "#8c8c8c", dash: "5 3", width: 1.2 } as const;

/**
 * The default look of the i-th measured series (i < 0: a reference line); `dashed` forces a dash pattern.
 * @example seriesStyle(0, { dashed: true, markers: true }) // { color: "#0072B2", dash: "7 4", marker: "circle" }
 */
export function seriesStyle(i: number, opts: { color?: string; dashed?: boolean; markers?: boolean }): Style {
  const given = typeof opts.color === "string" && opts.color !== "" ? opts.color : undefined;
  if (i < 0) return { color: given ?? REFERENCE.color, dash: REFERENCE.dash, marker: undefined, width: REFERENCE.width };
  const auto = DASHES[Math.floor(i / PALETTE.length) % DASHES.length];
  return {
    color: given ?? PALETTE[i % PALETTE.length]!,
    dash: opts.dashed === true ? (auto ?? "7 4") : auto,
    marker: opts.markers === true ? MARKERS[i % MARKERS.length] : undefined,
    width: 1.8,
  };
}

/**
 * A marker centred at (x, y), filled with the series colour.
 * @example markerSvg("square", 10, 10, "#D55E00")
 */
export function markerSvg(shape: MarkerShape, x: number, y: number, color: string, r = 3.2): string {
  const poly = (pts: number[][]) => el("polygon", { points: pts.map(([a, b]) => `${fmt(a!)},${fmt(b!)}`).join(" "), fill: color });
  switch (shape) {
    case "circle": return el("circle", { cx: x, cy: y, r, fill: color });
    case "square": return el("rect", { x: x - r * 0.9, y: y - r * 0.9, width: r * 1.8, height: r * 1.8, fill: color });
    case "triangle": return poly([[x, y - r * 1.2], [x + r * 1.1, y + r * 0.8], [x - r * 1.1, y + r * 0.8]]);
    case "down": return poly([[x, y + r * 1.2], [x + r * 1.1, y - r * 0.8], [x - r * 1.1, y - r * 0.8]]);
    case "diamond": return poly([[x, y - r * 1.3], [x + r * 1.1, y], [x, y + r * 1.3], [x - r * 1.1, y]]);
    case "plus": {
      const d = `M${fmt(x - r * 1.2)} ${fmt(y)}h${fmt(r * 2.4)}M${fmt(x)} ${fmt(y - r * 1.2)}v${fmt(r * 2.4)}`;
      return el("path", { d, stroke: color, "stroke-width": 1.6, fill: "none" });
    }
  }
}

/** The drawn series and how many of its points could be drawn. */
export interface Drawn {
  readonly svg: string;
  readonly drawable: number;
}

/**
 * Draw `points` into `box`. A point whose y turns non-finite right after a drawable point (a
 * diverged run, like σ² = 3/n reaching NaN) gets a small × where the curve stops.
 * @example seriesSvg([[1, 1], [2, NaN], [3, 2]], xAxis, yAxis, box, seriesStyle(0, {})).svg
 */
export function seriesSvg(points: readonly Point[], x: Axis, y: Axis, box: Box, style: Style): Drawn {
  const n = Array.isArray(points) ? points.length : 0;
  const U = new Float64Array(n);
  const V = new Float64Array(n);
  const ok: boolean[] = [];
  let drawable = 0;
  for (let i = 0; i < n; i++) {
    const p = points[i];
    U[i] = x.norm(Array.isArray(p) ? p[0] : NaN);
    V[i] = y.norm(Array.isArray(p) ? p[1] : NaN);
    ok.push(!Number.isNaN(U[i]) && !Number.isNaN(V[i]));
    if (ok[i]) drawable++;
  }
  const px = (u: number) => fmt(box.left + u * box.w);
  const py = (v: number) => fmt(box.top + box.h - v * box.h);
  const inside = (i: number) => U[i]! >= -1e-6 && U[i]! <= 1 + 1e-6 && V[i]! >= -1e-6 && V[i]! <= 1 + 1e-6;

  let d = "";
  let pen = "";
  const extra: string[] = [];
  for (let first = 0; first < n; ) {
    if (!ok[first]) {
      first++;
      continue;
    }
    let last = first; // a run: consecutive drawable points, drawn as connected sub-paths
    while (last + 1 < n && ok[last + 1]) last++;
    const ends = new Set<string>();
    for (let i = first; i < last; i++) {
      const c = clipUnit(U[i]!, V[i]!, U[i + 1]!, V[i + 1]!);
      if (!c) continue;
      const a = `${px(c[0])} ${py(c[1])}`;
      const b = `${px(c[2])} ${py(c[3])}`;
      if (a !== pen) d += `M${a}`;
      if (b !== a || a !== pen) d += `L${b}`;
      pen = b;
      ends.add(a).add(b);
    }
    const shown: number[] = [];
    for (let i = first; i <= last; i++) if (inside(i)) shown.push(i);
    for (const i of shown) {
      const X = box.left + U[i]! * box.w;
      const Y = box.top + box.h - V[i]! * box.h;
      if (style.marker !== undefined) extra.push(markerSvg(style.marker, X, Y, style.color));
    }
    // A single point, or a run whose points all land on one pixel, has no visible line: a dot.
    if (style.marker === undefined && shown.length > 0 && ends.size <= 1) {
      extra.push(el("circle", { cx: px(U[shown[0]!]!), cy: py(V[shown[0]!]!), r: 2.6, fill: style.color }));
    }
    const next = points[last + 1];
    if (last + 1 < n && inside(last) && !Number.isNaN(U[last + 1]) && Array.isArray(next) && !Number.isFinite(next[1])) {
      extra.push(cross(box.left + U[last]! * box.w, box.top + box.h - V[last]! * box.h, style.color));
    }
    first = last + 1;
  }
  const line = d
    ? el("path", {
        d,
        fill: "none",
        stroke: style.color,
        "stroke-width": style.width,
        "stroke-linejoin": "round",
        "stroke-linecap": "round",
        "stroke-dasharray": style.dash,
      })
    : "";
  return { svg: line + extra.join(""), drawable };
}

/** × mark: the run ended because the next value was NaN or infinite. */
function cross(x: number, y: number, color: string): string {
  const r = 4;
  const d = `M${fmt(x - r)} ${fmt(y - r)}l${2 * r} ${2 * r}M${fmt(x - r)} ${fmt(y + r)}l${2 * r} ${-2 * r}`;
  return el("path", { d, stroke: color, "stroke-width": 2, fill: "none", "stroke-linecap": "round" });
}

/**
 * Liang–Barsky: the part of segment (x0,y0)–(x1,y1) inside the unit square, or undefined.
 * @example clipUnit(-1, 0.5, 2, 0.5) // [0, 0.5, 1, 0.5]
 */
export function clipUnit(x0: number, y0: number, x1: number, y1: number): [number, number, number, number] | undefined {
  const dx = x1 - x0;
  const dy = y1 - y0;
  let t0 = 0;
  let t1 = 1;
  // Each pair: p·t ≤ q keeps the point on the inner side of one edge of the square.
  for (const [p, q] of [[-dx, x0], [dx, 1 - x0], [-dy, y0], [dy, 1 - y0]] as const) {
    if (p === 0) {
      if (q < 0) return undefined; // parallel to this edge and outside it
      continue;
    }
    const r = q / p;
    if (p < 0) {
      if (r > t1) return undefined;
      if (r > t0) t0 = r;
    } else {
      if (r < t0) return undefined;
      if (r < t1) t1 = r;
    }
  }
  if (!Number.isFinite(dx) || !Number.isFinite(dy)) return undefined;
  return [x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy];
}
