/**
 * The page: controls, live charts (kiln's own SVG line charts), the compiled programs, the
 * drawing pad and checkpoints. kiln itself runs in trainer.ts, a Web Worker.
 * Contract for automated checks: `?steps=N` trains N steps at once; when done, #test-accuracy
 * holds e.g. "93.4%" and #status "done". `?bench=N` times N train steps of `npm run bench`'s
 * W2 and puts the median samples/s in #speed (data-seconds: seconds per step of each sample).
 */
import { lineChart } from "../src/plot/lineChart.js";
import type { FromPage, IrPair, ToPage } from "./protocol.js";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const worker = new Worker(new URL("./trainer.ts", import.meta.url), { type: "module", name: "kiln trainer" });
const send = (m: FromPage, transfer: Transferable[] = []) => worker.postMessage(m, transfer);

const status = (s: string) => { $("status").textContent = s; };
const pct = (a: number) => `${(100 * a).toFixed(1)}%`;

// ───────────── training ─────────────
const losses: [number, number][] = [];
const accuracies: [number, number][] = [];
let totalSteps = 0;

function drawCharts(): void {
  const common = { width: 420, height: 240, legend: "none" as const };
  $("loss-chart").innerHTML = lineChart({
    ...common, title: "training loss", x: { label: "step", min: 0, max: Math.max(10, totalSteps) }, y: { label: "cross-entropy", min: 0 },
    series: [{ name: "loss", points: losses, color: "#d97706" }],
  });
  $("acc-chart").innerHTML = lineChart({
    ...common, title: "test accuracy", x: { label: "step", min: 0, max: Math.max(10, totalSteps) }, y: { label: "%", min: Math.min(80, ...accuracies.map(([, a]) => a)), max: 100 },
    series: [{ name: "test accuracy", points: accuracies, color: "#2563eb", markers: true }],
  });
}

function startTraining(steps: number): void {
  losses.length = 0;
  accuracies.length = 0;
  totalSteps = steps;
  drawCharts();
  ($("train") as HTMLButtonElement).disabled = true;
  ($("stop") as HTMLButtonElement).disabled = false;
  $("test-accuracy").textContent = "–";
  status("training");
  send({ kind: "train", steps });
}

let pendingChart = false;
function chartSoon(): void {
  if (pendingChart) return;
  pendingChart = true;
  requestAnimationFrame(() => { pendingChart = false; drawCharts(); });
}

function showThreads(jobs: number[]): void {
  const el = $("threads");
  el.textContent = jobs.length === 0 ? "1" : `${jobs.length + 1} (Web Workers)`;
  el.dataset["threads"] = String(jobs.length + 1);
  el.dataset["workerJobs"] = jobs.join(",");
  el.title = jobs.length === 0 ? "one thread" : `kernel parts run by each worker: ${jobs.join(", ")}`;
}

// ───────────── compiled programs ─────────────
let ir: { train: IrPair; eval: IrPair } | undefined;
let graph: "train" | "eval" = "train";
let stage: "before" | "after" = "after";

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function showIR(): void {
  if (!ir) return;
  const text = ir[graph][stage];
  const ops = text.split("\n").filter((l) => / = [a-z_]+/.test(l)).length;
  $("ir-count").textContent = `${ops} ops`;
  // Colour op names; fused ones (made by the passes) stand out.
  $("ir").innerHTML = escapeHtml(text).replace(/ = ([a-z_]+)/g, (_, op: string) => {
    const fused = op.startsWith("fused_") || op === "linear" || op.startsWith("norm_") || op === "softmax_xent";
    return ` = <span class="${fused ? "fused" : "op"}">${op}</span>`;
  });
}

for (const b of document.querySelectorAll<HTMLButtonElement>(".tabs button")) {
  b.addEventListener("click", () => {
    if (b.dataset["graph"]) graph = b.dataset["graph"] as typeof graph;
    if (b.dataset["stage"]) stage = b.dataset["stage"] as typeof stage;
    for (const o of document.querySelectorAll<HTMLButtonElement>(".tabs button")) {
      o.classList.toggle("on", o.dataset["graph"] === graph || o.dataset["stage"] === stage);
    }
    showIR();
  });
}

// ───────────── drawing pad ─────────────
const pad = $("pad") as HTMLCanvasElement;
const ctx = pad.getContext("2d", { willReadFrequently: true })!;
const probs = $("probs");
let ready = false;

function clearPad(): void {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, pad.width, pad.height);
  showProbabilities(null);
}

function showProbabilities(p: number[] | null): void {
  const top = p ? p.indexOf(Math.max(...p)) : -1;
  probs.innerHTML = Array.from({ length: 10 }, (_, d) => {
    const v = p ? p[d]! : 0;
    return `<li class="${d === top ? "top" : ""}" data-p="${v}"><span>${d}</span><span class="track"><span class="fill" style="width:${(100 * v).toFixed(1)}%"></span></span><span>${p ? pct(v) : ""}</span></li>`;
  }).join("");
}

/**
 * The drawing as MNIST prepares its digits: the ink's bounding box scaled to fit 20×20, placed in
 * 28×28 so that its centre of mass is the centre; pixels in [0, 1].
 */
function padPixels(): Float32Array | null {
  const { data, width, height } = ctx.getImageData(0, 0, pad.width, pad.height);
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    if (data[4 * (y * width + x)]! > 20) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  }
  if (x1 < 0) return null;
  const scale = 20 / Math.max(x1 - x0 + 1, y1 - y0 + 1);
  const small = new OffscreenCanvas(28, 28).getContext("2d", { willReadFrequently: true })!;
  const place = (dx: number, dy: number) => {
    small.fillStyle = "#000";
    small.fillRect(0, 0, 28, 28);
    small.imageSmoothingQuality = "high";
    small.drawImage(pad, x0, y0, x1 - x0 + 1, y1 - y0 + 1, dx, dy, (x1 - x0 + 1) * scale, (y1 - y0 + 1) * scale);
    const px = small.getImageData(0, 0, 28, 28).data;
    return Float32Array.from({ length: 784 }, (_, i) => px[4 * i]! / 255);
  };
  let pixels = place(14 - ((x1 - x0 + 1) * scale) / 2, 14 - ((y1 - y0 + 1) * scale) / 2);
  let m = 0, cx = 0, cy = 0;
  pixels.forEach((v, i) => { m += v; cx += v * (i % 28); cy += v * Math.floor(i / 28); });
  pixels = place(14 - ((x1 - x0 + 1) * scale) / 2 + (13.5 - cx / m), 14 - ((y1 - y0 + 1) * scale) / 2 + (13.5 - cy / m));
  return pixels;
}

let drawing = false;
const at = (e: PointerEvent) => {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height] as const;
};
pad.addEventListener("pointerdown", (e) => {
  drawing = true;
  pad.setPointerCapture(e.pointerId);
  const [x, y] = at(e);
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 20;
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + 0.1, y);
  ctx.stroke();
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  const [x, y] = at(e);
  ctx.lineTo(x, y);
  ctx.stroke();
});
const endStroke = () => {
  if (!drawing) return;
  drawing = false;
  const pixels = ready ? padPixels() : null;
  if (pixels) send({ kind: "predict", pixels }, [pixels.buffer]);
};
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);
$("clear").addEventListener("click", clearPad);

// ───────────── checkpoints ─────────────
$("save").addEventListener("click", () => send({ kind: "save", format: "safetensors" }));
$("onnx").addEventListener("click", () => send({ kind: "save", format: "onnx" }));
$("load").addEventListener("change", async (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (!file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  send({ kind: "load", bytes, name: file.name }, [bytes.buffer]);
});

// ───────────── the trainer's messages ─────────────
worker.onmessage = (event: MessageEvent<ToPage>) => {
  const m = event.data;
  switch (m.kind) {
    case "ready": {
      ready = true;
      ir = m.ir;
      showIR();
      $("data").textContent = `${m.train.toLocaleString("en")} / ${m.test.toLocaleString("en")} digits`;
      ($("train") as HTMLButtonElement).disabled = false;
      ($("save") as HTMLButtonElement).disabled = false;
      ($("onnx") as HTMLButtonElement).disabled = false;
      status("ready");
      const bench = Number(new URLSearchParams(location.search).get("bench"));
      if (Number.isInteger(bench) && bench > 0) { status("benchmarking"); send({ kind: "bench", steps: bench }); }
      const steps = Number(new URLSearchParams(location.search).get("steps"));
      if (Number.isInteger(steps) && steps > 0) {
        ($("steps") as HTMLInputElement).value = String(steps);
        startTraining(steps);
      }
      break;
    }
    case "progress":
      losses.push([m.step, m.loss]);
      $("step").textContent = `${m.step} / ${m.steps}`;
      $("loss").textContent = m.loss.toFixed(3);
      $("speed").textContent = Math.round(m.samplesPerSecond).toLocaleString("en");
      ($("bar") as HTMLDivElement).style.width = `${(100 * m.step) / m.steps}%`;
      showThreads(m.jobs);
      chartSoon();
      break;
    case "eval":
      accuracies.push([m.step, 100 * m.accuracy]);
      $("test-accuracy").textContent = pct(m.accuracy);
      chartSoon();
      break;
    case "done":
      accuracies.push([m.step, 100 * m.accuracy]);
      $("test-accuracy").textContent = pct(m.accuracy);
      $("time").textContent = `${(m.ms / 1000).toFixed(1)} s`;
      ($("bar") as HTMLDivElement).style.width = "100%";
      showThreads(m.jobs);
      drawCharts();
      ($("train") as HTMLButtonElement).disabled = false;
      ($("stop") as HTMLButtonElement).disabled = true;
      status(m.stopped ? "stopped" : "done");
      break;
    case "bench":
      $("speed").textContent = Math.round(m.samplesPerSecond).toLocaleString("en");
      $("speed").dataset["samplesPerSecond"] = String(m.samplesPerSecond);
      $("speed").dataset["seconds"] = JSON.stringify(m.seconds);
      $("speed").dataset["check"] = m.check;
      showThreads(m.jobs);
      status("done");
      break;
    case "probabilities":
      showProbabilities(m.p);
      break;
    case "checkpoint": {
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([m.bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }));
      a.download = `kiln-mnist.${m.format}`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
      $("ckpt").textContent = `saved ${m.format === "onnx" ? "ONNX" : "safetensors"}, ${(m.bytes.length / 1e6).toFixed(2)} MB`;
      break;
    }
    case "loaded":
      $("ckpt").textContent = `loaded ${m.name}: test accuracy ${pct(m.accuracy)}`;
      $("test-accuracy").textContent = pct(m.accuracy);
      break;
    case "error":
      $("ckpt").textContent = m.message;
      status("error");
      console.warn(`kiln: ${m.message}`);
      break;
  }
};

$("train").addEventListener("click", () => startTraining(Number(($("steps") as HTMLInputElement).value) || 600));
$("stop").addEventListener("click", () => send({ kind: "stop" }));

clearPad();
drawCharts();
status("loading digits");
send({ kind: "setup", digits: new URL("digits.bin", location.href).href });
