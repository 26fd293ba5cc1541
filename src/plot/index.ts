/**
 * Dependency-free SVG line charts for kiln's experiment figures, with CSV next to each figure.
 * @example
 * import { lineChart, toCsv, writeFigure } from "../src/plot/index.js";
 * writeFigure("out/activation", lineChart(spec), toCsv(spec.series));
 */
export { lineChart, chartBody, svgDocument, type LineChartSpec, type Series, type AxisSpec, type Point } from "./lineChart.js";
export { multiPanel, type MultiPanelOptions } from "./multiPanel.js";
export { heatmap, scaleColor, type HeatmapSpec, type HeatmapCell } from "./heatmap.js";
export { toCsv, panelsCsv, writeFigure } from "./files.js";
export { linearTicks, logTicks, compact, type Ticks } from "./ticks.js";
export { PALETTE } from "./series.js";
export { esc } from "./svg.js";
