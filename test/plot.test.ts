import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { initNormsCharts } from "../examples/lib/deep.js";
import { initTrainingCharts, type InitRun } from "../examples/lib/initTraining.js";
import { normsCharts, type NormRun } from "../examples/lib/norms.js";
import { gridHeatmap, sweepCharts, type GridCell } from "../examples/lib/normsGrid.js";
import { regularizationCharts, type RegularizationRun } from "../examples/lib/regularization.js";
import { heatmap } from "../src/plot/index.js";
import {
  compact, esc, lineChart, linearTicks, logTicks, multiPanel, panelsCsv, toCsv, writeFigure,
  type LineChartSpec, type Point,
} from "../src/plot/index.js";
import { buildAxis } from "../src/plot/axis.js";
import { clipUnit } from "../src/plot/series.js";

/**
 * A small XML 1.0 well-formedness check: one root, balanced tags, quoted unique attributes,
 * only the predefined or numeric entities, no raw `<` or `&` in text, no forbidden characters.
 * Returns the element names in document order so tests can count them.
 */
function parseXml(s: string): string[] {
  const names: string[] = [];
  const stack: string[] = [];
  const ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
  const check = (text: string, where: string) => {
    if (ENTITY.test(text)) throw new Error(`bare & in ${where}: ${text.slice(0, 60)}`);
    if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(text)) throw new Error(`forbidden char in ${where}`);
    if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)) throw new Error("lone surrogate");
  };
  let i = 0;
  let roots = 0;
  while (i < s.length) {
    const lt = s.indexOf("<", i);
    const text = s.slice(i, lt < 0 ? s.length : lt);
    check(text, "text");
    if (stack.length === 0 && text.trim() !== "") throw new Error(`text outside root: ${text.slice(0, 40)}`);
    if (lt < 0) break;
    const m = /^<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*="[^"<]*")*)\s*(\/?)>/.exec(s.slice(lt));
    if (!m) throw new Error(`malformed tag at ${lt}: ${s.slice(lt, lt + 60)}`);
    const [whole, close, name, attrs, selfClose] = m as unknown as [string, string, string, string, string];
    if (close) {
      if (attrs || selfClose) throw new Error(`bad end tag ${whole}`);
      if (stack.pop() !== name) throw new Error(`unbalanced </${name}>`);
    } else {
      if (stack.length === 0 && ++roots > 1) throw new Error("two root elements");
      const seen = new Set<string>();
      for (const [, k, v] of attrs.matchAll(/([A-Za-z_][\w.:-]*)="([^"]*)"/g)) {
        if (seen.has(k!)) throw new Error(`duplicate attribute ${k}`);
        seen.add(k!);
        check(v!, `attribute ${k}`);
      }
      names.push(name);
      if (!selfClose) stack.push(name);
    }
    i = lt + whole.length;
  }
  if (stack.length > 0 || roots !== 1) throw new Error(`unclosed ${stack.join(",")} / roots ${roots}`);
  return names;
}

const layers = Array.from({ length: 50 }, (_, i) => i + 1);
const threeRegimes: LineChartSpec = {
  title: "Activation norm vs layer",
  x: { label: "layer" },
  y: { label: "‖z‖", log: true },
  series: [
    { name: "σ² = 1/n", points: layers.map((l) => [l, 10 * 0.5 ** (l / 2)]) },
    { name: "σ² = 2/n", points: layers.map((l) => [l, 10]) },
    { name: "σ² = 3/n", points: layers.map((l) => [l, l > 40 ? NaN : 10 * 1.9 ** (l / 2)]) },
  ],
};
const hostile: LineChartSpec = {
  title: `<script>alert("x")</script> & 'co'`,
  x: { label: "x <&>", min: 2, max: 8 },
  y: { label: "y\u0001\uD800", log: true },
  series: [
    { name: `a<b & c>"d"`, points: [[1, 1e-30], [3, 1e-10], [5, -1], [6, 0], [7, 1e10], [9, 1e30]] },
    { name: "single", points: [[4, 1]] },
    { name: "empty", points: [] },
    { name: "inf", points: [[3, Infinity], [4, -Infinity], [NaN, 2], [5, 1e308], [6, Number.MIN_VALUE]] },
  ],
  width: NaN,
  height: -5,
};
const degenerate: LineChartSpec = { x: {}, y: {}, series: [{ name: "c", points: [[3, 7], [3, 7]] }] };
const nothing: LineChartSpec = { x: {}, y: { log: true }, series: [] };
const specs = { threeRegimes, hostile, degenerate, nothing };

/** Every number in coordinates and path data: at most 2 decimals, no exponent form. */
function numbersIn(svg: string): string[] {
  const attrs = [...svg.matchAll(/ (?:x|y|x1|x2|y1|y2|cx|cy|r|width|height|d|points|transform)="([^"]*)"/g)];
  return attrs.flatMap((m) => m[1]!.match(/-?[\d.]+(?:e[-+]?\d+)?/g) ?? []);
}

describe("lineChart output", () => {
  for (const [name, spec] of Object.entries(specs)) {
    it(`${name}: well-formed SVG, compact numbers, no NaN/undefined leaked`, () => {
      const svg = lineChart(spec);
      const names = parseXml(svg);
      expect(names[0]).toBe("svg");
      expect(svg).not.toMatch(/NaN|Infinity|undefined|null|\[object/);
      for (const n of numbersIn(svg)) expect(n).toMatch(/^-?\d+(\.\d{1,2})?$/);
    });
  }

  it("escapes every piece of user text", () => {
    const svg = lineChart(hostile);
    expect(svg).not.toContain("<script");
    expect(svg).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;co&apos;");
    expect(svg).toContain("a&lt;b &amp; c&gt;&quot;d&quot;");
    expect(svg).toContain("x &lt;&amp;&gt;");
    expect(svg).not.toContain("\u0001");
    expect(esc("\uD83D\uDE00 \uDE00")).toBe("\uD83D\uDE00 \uFFFD"); // pair kept, lone half replaced
  });

  it("is deterministic: same input, same bytes", () => {
    expect(lineChart(threeRegimes)).toBe(lineChart(structuredClone(threeRegimes)));
    expect(multiPanel([threeRegimes, hostile], { columns: 2 })).toBe(multiPanel([threeRegimes, hostile], { columns: 2 }));
  });

  it("breaks a curve at NaN and marks where a run diverged", () => {
    const one = (points: Point[]) => lineChart({ x: {}, y: {}, series: [{ name: "s", points }] });
    const paths = (svg: string) => [...svg.matchAll(/<path d="([^"]*)"[^>]*stroke="#0072B2"[^>]*stroke-linejoin/g)].map((m) => m[1]!);
    const gap = paths(one([[1, 1], [2, 2], [3, NaN], [4, 3], [5, 4]]));
    expect(gap).toHaveLength(1);
    expect(gap[0]!.match(/M/g)).toHaveLength(2); // two sub-paths, nothing drawn across the gap
    const diverged = one([[1, 1], [2, 2], [3, NaN], [4, NaN]]);
    expect(diverged).toMatch(/stroke-width="2" fill="none" stroke-linecap="round"/); // the × mark
    expect(paths(one([[1, NaN], [2, NaN]]))).toHaveLength(0);
    expect(one([[1, NaN], [2, NaN]])).toContain(">no data<");
  });

  it("skips non-positive values on a log axis", () => {
    const svg = lineChart({ x: {}, y: { log: true }, series: [{ name: "s", points: [[1, 1], [2, 10], [3, 0], [4, -5], [5, 100], [6, 1000]] }] });
    const d = /<path d="([^"]*)"[^>]*stroke="#0072B2"[^>]*stroke-linejoin/.exec(svg)![1]!;
    expect(d.match(/M/g)).toHaveLength(2);
  });

  it("shows a single point and an all-equal series as a dot", () => {
    expect(lineChart({ x: {}, y: {}, series: [{ name: "p", points: [[1, 1]] }] })).toMatch(/<circle [^>]*r="2.6"/);
    expect(lineChart(degenerate)).toMatch(/<circle [^>]*r="2.6"/);
  });

  it("caps ticks on a huge log range and keeps sizes sane", () => {
    const svg = lineChart({ x: {}, y: { log: true }, series: [{ name: "s", points: [[0, 1e-300], [1, 1e300]] }] });
    const labels = [...svg.matchAll(/>10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)</g)];
    expect(labels.length).toBeGreaterThanOrEqual(3);
    expect(labels.length).toBeLessThanOrEqual(10);
    expect(lineChart(hostile)).toMatch(/^<svg [^>]*width="480" height="120"/);
  });
});

describe("ticks", () => {
  const isNiceStep = (step: number) => {
    const m = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
    return [1, 2, 5, 10].some((k) => Math.abs(m - k) < 1e-4); // 10: a step of 0.99999…×10^k
  };

  it("linear: 1-2-5 steps, domain covers data, at most maxTicks", () => {
    expect(linearTicks(1, 50, 6)).toMatchObject({ lo: 0, hi: 50, major: [0, 10, 20, 30, 40, 50] });
    expect(linearTicks(0.1, 0.3, 6).major).toEqual([0.1, 0.15, 0.2, 0.25, 0.3]); // exact decimals
    expect(linearTicks(0, 2e6, 6).labels).toEqual(["0", "5e5", "1e6", "1.5e6", "2e6"]);
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let t = 0; t < 500; t++) {
      const a = (rand() - 0.5) * 10 ** Math.floor(rand() * 12 - 6);
      const b = a + rand() * 10 ** Math.floor(rand() * 12 - 6);
      const cap = 3 + Math.floor(rand() * 8);
      const ticks = linearTicks(a, b, cap);
      expect(ticks.major.length).toBeGreaterThanOrEqual(2);
      expect(ticks.major.length).toBeLessThanOrEqual(cap);
      const step = (ticks.major.at(-1)! - ticks.major[0]!) / (ticks.major.length - 1); // averaged: ticks are rounded
      expect(isNiceStep(step)).toBe(true);
      // Covered up to the 1e-9-step slack that keeps 0.3 / 0.1 = 2.9999999999999996 from adding a step.
      expect(ticks.lo).toBeLessThanOrEqual(a + 1e-8 * step);
      expect(ticks.hi).toBeGreaterThanOrEqual(b - 1e-8 * step);
      expect(new Set(ticks.labels).size).toBe(ticks.labels.length);
    }
  });

  it("linear: degenerate and non-finite ranges still give an axis", () => {
    expect(linearTicks(5, 5)).toMatchObject({ lo: 4.5, hi: 5.5 });
    expect(linearTicks(0, 0)).toMatchObject({ lo: -1, hi: 1 });
    expect(linearTicks(NaN, Infinity)).toMatchObject({ lo: 0, hi: 1 });
    const huge = linearTicks(-1e308, 1e308);
    expect(huge.major.every(Number.isFinite)).toBe(true);
    expect(huge.major.length).toBeLessThanOrEqual(6);
  });

  it("log: decades, skipping when the range is huge, minors between", () => {
    const t = logTicks(-7, 7, 9);
    expect(t.major).toEqual([-8, -6, -4, -2, 0, 2, 4, 6, 8]);
    expect(t.labels[0]).toBe("10⁻⁸");
    expect(t.labels[8]).toBe("10⁸");
    expect(t.minor).toEqual([-7, -5, -3, -1, 1, 3, 5, 7]);
    const wide = logTicks(-30, 30, 8);
    expect(wide.major.length).toBeLessThanOrEqual(8);
    expect(wide.minor.length).toBeLessThanOrEqual(30);
    const narrow = logTicks(-2, 1, 8);
    expect(narrow.labels).toEqual(["10⁻²", "10⁻¹", "10⁰", "10¹"]);
    expect(narrow.minor.slice(0, 2)).toEqual([-2 + Math.log10(2), -2 + Math.log10(3)]);
    expect(logTicks(Math.log10(2), Math.log10(8), 8, false).labels).toEqual(["2", "5"]);
    expect(logTicks(-1000, 1000, 8).major.length).toBeLessThanOrEqual(8);
  });

  it("compact numbers", () => {
    expect([compact(0.000012345), compact(250), compact(1234567), compact(0)]).toEqual(["1.23e-5", "250", "1.23e6", "0"]);
  });
});

describe("axis mapping", () => {
  it("log axis is monotonic, decades evenly spaced, non-positive values unplottable", () => {
    const axis = buildAxis({ log: true }, [1e-7, 1e7], 9);
    let prev = -Infinity;
    for (let e = -7; e <= 7; e += 0.25) {
      const u = axis.norm(10 ** e);
      expect(u).toBeGreaterThan(prev);
      prev = u;
    }
    const step = axis.norm(10) - axis.norm(1);
    expect(axis.norm(1e5) - axis.norm(1e4)).toBeCloseTo(step, 12);
    for (const bad of [0, -1, NaN, Infinity]) expect(axis.norm(bad)).toBeNaN();
  });

  it("user min/max fix the domain exactly", () => {
    const axis = buildAxis({ min: 2, max: 8 }, [0, 100], 6);
    expect([axis.norm(2), axis.norm(8)]).toEqual([0, 1]);
    const oneEnd = buildAxis({ min: 0 }, [3, 97], 6);
    expect(oneEnd.ticks.lo).toBe(0);
    expect(oneEnd.norm(97)).toBeCloseTo(97 / (97 + 0.05 * 94), 12); // the free end keeps its margin
  });

  it("auto-ranged ends leave a margin of 5% of the span: no point on the frame, a flat 0% series visible", () => {
    const axis = buildAxis({}, [0, 0, 90], 6);
    expect(axis.norm(0)).toBeCloseTo(0.05 / 1.1, 12);
    expect(axis.norm(90)).toBeCloseTo(1.05 / 1.1, 12);
    expect(axis.ticks.labels).toContain("0");
    const logAxis = buildAxis({ log: true }, [1e-3, 1e3], 9);
    expect(logAxis.norm(1e-3)).toBeCloseTo(0.05 / 1.1, 12);
  });

  it("a log axis over less than a decade is drawn linear; over up to 3 decades its 2s and 5s are labelled", () => {
    const loss = buildAxis({ log: true }, [1.9, 2.2, 2.6], 8); // the norms figure's loss panel
    expect(loss.log).toBe(false);
    expect(loss.ticks.labels.length).toBeGreaterThanOrEqual(3);
    const errors = buildAxis({ log: true }, [0.8, 3, 40, 90], 8); // errors in percent
    expect(errors.log).toBe(true);
    expect(errors.ticks.labels).toEqual(["1", "2", "5", "10", "20", "50", "100"]);
    expect(errors.ticks.minor.length).toBeGreaterThan(0);
    const wide = buildAxis({ log: true }, [1e-6, 1e2], 9);
    expect(wide.ticks.labels).toEqual(["10⁻⁶", "10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹", "10²"]);
    expect(buildAxis({ log: true, min: 1, max: 5 }, [2, 3], 8).log).toBe(true); // fixed ends: as asked
  });

  it("clips segments to the unit square", () => {
    expect(clipUnit(-1, 0.5, 2, 0.5)).toEqual([0, 0.5, 1, 0.5]);
    expect(clipUnit(2, 2, 3, 3)).toBeUndefined();
    expect(clipUnit(0.2, 0.2, 0.4, 0.4)).toEqual([0.2, 0.2, 0.4, 0.4]);
  });
});

describe("multiPanel, CSV and files", () => {
  it("lays panels side by side", () => {
    const svg = multiPanel([threeRegimes, degenerate, hostile], { columns: 2, title: "Init <regimes>" });
    parseXml(svg);
    expect(svg).toMatch(/^<svg [^>]*width="880" height="674"/);
    expect([...svg.matchAll(/transform="translate\(([^)]*)\)"/g)].map((m) => m[1])).toEqual(["0 34", "440 34", "0 354"]);
    expect(svg).toContain("Init &lt;regimes&gt;");
    parseXml(multiPanel([]));
  });

  it("writes long-format CSV with RFC 4180 quoting", () => {
    expect(toCsv([{ name: 'a,"b"', points: [[1, 0.5], [2, NaN]] }])).toBe('series,x,y\n"a,""b""",1,0.5\n"a,""b""",2,NaN\n');
    expect(panelsCsv([threeRegimes]).split("\n")[1]).toBe("Activation norm vs layer,σ² = 1/n,1,7.0710678118654755");
  });

  it("writeFigure creates directories and leaves no temp files", () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-plot-"));
    try {
      const svg = lineChart(threeRegimes);
      const out = writeFigure(join(dir, "a", "b", "act.svg"), svg, toCsv(threeRegimes.series));
      expect(out).toEqual({ svg: join(dir, "a", "b", "act.svg"), csv: join(dir, "a", "b", "act.csv") });
      expect(readFileSync(out.svg, "utf8")).toBe(svg);
      writeFigure(join(dir, "a", "b", "act"), "<svg/>"); // overwrite in place, no CSV
      expect(readFileSync(out.svg, "utf8")).toBe("<svg/>");
      expect(readdirSync(join(dir, "a", "b")).sort()).toEqual(["act.csv", "act.svg"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      expect(existsSync(dir)).toBe(false);
    }
  });
});

describe("every kind of figure kiln draws, rendered to PNG (rsvg-convert, Debian's librsvg2-bin)", () => {
  // Shaped like the experiments' data: norms over decades, a diverged run, a flat 0% training
  // error, errors falling from chance at step 0, references (values at init, a target, chance).
  const layersOf = (f: (l: number) => number) => Array.from({ length: 50 }, (_, i) => f(i + 1));
  const norms = (a: number, g: number) => ({ activation: layersOf((l) => 10 * a ** l), gradient: layersOf((l) => g ** (50 - l)), weightVariance: [], loss: 2.3 });
  const steps = [0, 100, 200, 300];
  const initRuns = [1.7, 2, 2.3].map((c, i) => ({
    c, layers: Array.from({ length: 51 }, (_, k) => ({ path: `${k}.0`, fanIn: k === 0 ? 784 : 100 })),
    varianceStart: Array.from({ length: 51 }, (_, k) => c / (k === 0 ? 784 : 100)),
    varianceEnd: Array.from({ length: 51 }, (_, k) => (c / (k === 0 ? 784 : 100)) * (1 + 0.01 * Math.sin(k + i))),
    curve: steps.map((s) => ({ step: s, loss: 2.3 * 0.7 ** (s / 100 + i), trainError: 0.9 * 0.4 ** (s / 100 + i / 2), varianceRatio: 1 + s * 1e-5 })),
  })) as unknown as InitRun[];
  const normRuns = (["none", "layerNorm", "batchNorm"] as const).map((norm, i) => ({
    norm, gradientAtInit: layersOf((l) => 1.2 ** (50 - l) * (i + 1)),
    curve: steps.map((s) => ({ step: s, loss: 2.6 - s / 1000 - i * 0.1, trainError: 0.9 - s / 1000 - 0.1 * i, testError: 0.9 - s / 1100 - 0.1 * i })),
  })) as unknown as NormRun[];
  const regRuns = [0, 0.3].flatMap((p) => [0, 1e-3].map((lambda) => ({
    p, lambda, trainError: p === 0 ? 0 : 0.01, testError: 0.1 - lambda * 10, gap: 0.1, weightNorm2: 500 + 100 * p,
    curve: [0, 1, 2, 3].map((epoch) => ({ epoch, loss: 2.3 / (epoch + 1), trainError: epoch === 0 ? 0.9 : p === 0 ? 0 : 0.02, testError: epoch === 0 ? 0.9 : 0.1 })),
  }))) as unknown as RegularizationRun[];
  const cell = (norm: "none" | "layerNorm", c: number, errors: number[]): GridCell => {
    const runs = [1e-4, 1e-3, 1e-2, 1e-1].map((lr, i) => ({ lr, trainError: errors[i]!, testError: errors[i]! + 0.01, diverged: !Number.isFinite(errors[i]!), finalLoss: 1, steps: 10 }));
    const best = runs.reduce((a, b) => (b.trainError < a.trainError ? b : a));
    return { c, norm, depth: 50, residual: false, runs, best, diverged: runs.every((r) => r.diverged), gradientRatio: 1 };
  };
  const grid = [cell("none", 1, [0.89, 0.89, 0.89, 0.9]), cell("none", 3, [NaN, NaN, NaN, NaN]), cell("layerNorm", 1, [0.5, 0.3, 0.9, NaN]), cell("layerNorm", 3, [0.4, 0.2, 0.9, 0.9])];
  const ir = initTrainingCharts(initRuns);
  const rc = regularizationCharts(regRuns);
  const figures: Record<string, string> = {
    "init-norms": multiPanel(initNormsCharts([[1, norms(0.7, 0.8)], [2, norms(1, 1)], [3, norms(1.4, 1.3)]]), { columns: 2, title: "init-norms" }),
    "init-training-variance": multiPanel(ir.variance, { columns: 3, title: "init-training: weight variance" }),
    "init-training-training": multiPanel(ir.training, { columns: 2, title: "init-training: training" }),
    "norms-training": multiPanel(normsCharts(normRuns), { columns: 2, title: "norms: training" }),
    "norms-sweep": multiPanel(sweepCharts(grid), { columns: 2, title: "norms: sweeps" }),
    "norms-grid": heatmap(gridHeatmap(grid, "norms: grid")),
    "regularization-gap": multiPanel(rc.summary, { columns: 2, title: "regularization: gap" }),
    "regularization-curves": multiPanel(rc.curves, { columns: 2, title: "regularization: curves" }),
    "three-regimes": lineChart(threeRegimes),
  };

  it("each figure converts to a PNG of the SVG's size; the PNGs land in out/test-figures/ to be looked at", () => {
    const which = spawnSync("rsvg-convert", ["--version"], { encoding: "utf8" });
    expect(which.status, "rsvg-convert missing: apt-get install librsvg2-bin (.ci/run installs it)").toBe(0);
    const dir = "out/test-figures";
    mkdirSync(dir, { recursive: true });
    for (const [name, svg] of Object.entries(figures)) {
      expect(() => parseXml(svg), name).not.toThrow();
      writeFileSync(`${dir}/${name}.svg`, svg);
      const r = spawnSync("rsvg-convert", [`${dir}/${name}.svg`, "-o", `${dir}/${name}.png`], { encoding: "utf8" });
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      const png = readFileSync(`${dir}/${name}.png`);
      expect(png.subarray(1, 4).toString("latin1"), name).toBe("PNG");
      const [w, h] = [png.readUInt32BE(16), png.readUInt32BE(20)];
      expect([w, h], name).toEqual([Number(/width="(\d+)"/.exec(svg)![1]), Number(/height="(\d+)"/.exec(svg)![1])]);
    }
    // Percent everywhere: no error axis labelled as a fraction.
    for (const svg of Object.values(figures)) expect(svg).not.toMatch(/>(training|test) error<\/text>/);
  }, 60_000);
});
