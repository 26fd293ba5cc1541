/**
 * Figures on disk: the SVG next to a CSV of the same numbers, so a reader can re-plot or check a
 * value without parsing SVG. Files are written to a temporary name and renamed into place, so an
 * interrupted run never leaves half a figure that looks complete.
 */
import { nodeBuiltin, processId } from "../../runtime/host.js";
import type { LineChartSpec, Series } from "./lineChart.js";

/**
 * Long-format CSV, one row per point: `series,x,y`. Numbers keep full precision; NaN and
 * Infinity are written as such (pandas and R read them).
 * @example toCsv([{ name: "2/n", points: [[1, 0.98], [2, NaN]] }]) // "series,x,y\n2/n,1,0.98\n2/n,2,NaN\n"
 */
export function toCsv(series: readonly Series[]): string {
  return rows(["series", "x", "y"], series.flatMap((s) => points(s).map(([x, y]) => [name(s), x, y])));
}

/**
 * CSV for a multi-panel figure: `panel,series,x,y`, the panel being its title (or its index).
 * @example panelsCsv([activationChart, gradientChart]) // "panel,series,x,y\nActivation norm,1/n,1,0.7\n…"
 */
export function panelsCsv(charts: readonly LineChartSpec[]): string {
  return rows(
    ["panel", "series", "x", "y"],
    charts.flatMap((c, i) => {
      const panel = typeof c.title === "string" && c.title !== "" ? c.title : String(i + 1);
      return (Array.isArray(c.series) ? c.series : []).flatMap((s) => points(s).map(([x, y]) => [panel, name(s), x, y]));
    }),
  );
}

let counter = 0; // distinct temp names for several writes within one process

/**
 * Write `<base>.svg` (and `<base>.csv` when given), creating directories; returns the paths.
 * `base` may end in ".svg". Each file goes to a temp name first, then is renamed over the target.
 * @example writeFigure("out/init/activation", svg, toCsv(series)) // { svg: "out/init/activation.svg", csv: "…csv" }
 */
export function writeFigure(base: string, svg: string, csv?: string): { svg: string; csv?: string } {
  // Node's modules are looked up here, not imported: the CSV functions above also run in a browser.
  const { dirname, extname } = nodeBuiltin<typeof import("node:path")>("node:path", "writeFigure");
  const stem = extname(base).toLowerCase() === ".svg" ? base.slice(0, -4) : base;
  nodeBuiltin<typeof import("node:fs")>("node:fs", "writeFigure").mkdirSync(dirname(stem), { recursive: true });
  const out: { svg: string; csv?: string } = { svg: atomicWrite(`${stem}.svg`, svg) };
  if (csv !== undefined) out.csv = atomicWrite(`${stem}.csv`, csv);
  return out;
}

function atomicWrite(path: string, data: string): string {
  const { renameSync, rmSync, writeFileSync } = nodeBuiltin<typeof import("node:fs")>("node:fs", "writeFigure");
  const tmp = `${path}.${processId()}.${counter++}.tmp`;
  try {
    writeFileSync(tmp, data, "utf8");
    renameSync(tmp, path); // atomic on one filesystem: readers see the old file or the new one
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return path;
}

function points(s: Series): readonly (readonly [unknown, unknown])[] {
  return Array.isArray(s?.points) ? s.points.map((p) => (Array.isArray(p) ? [p[0], p[1]] as const : [NaN, NaN] as const)) : [];
}

function name(s: Series): string {
  return typeof s?.name === "string" ? s.name : "";
}

/** RFC 4180: quote a field holding a comma, quote or line break; double the quotes inside. */
function rows(header: readonly string[], body: readonly (readonly unknown[])[]): string {
  const field = (v: unknown) => {
    const s = String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...body].map((r) => r.map(field).join(",")).join("\n") + "\n";
}
