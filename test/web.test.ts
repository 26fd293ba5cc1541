/**
 * The web page (web/) in headless Chromium, driven by playwright-core: Debian's chromium
 * (.ci/run installs it; no browser is downloaded). The page is built and served as
 * `npm run web` does (cross-origin isolated), then: no console error, ?steps=300 reaches ≥ 90%
 * test accuracy on two threads, the IR panel shows fused ops, a stroke on the pad gives ten
 * probabilities summing to 1, the checkpoint downloads as safetensors and loads into another
 * page (served without isolation: one thread, one console note), the eval program exports as
 * ONNX in the page and gives the page's test accuracy in Node. Screenshot: out/web.png.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, evaluate, fromOnnx, KilnError } from "../src/index.js";
import { decodeSafetensors } from "../src/io/safetensors.js";
import { loadMnistDigits } from "../src/data/mnist.js";
import { buildPage, portFromEnv, serve } from "../web/serve.js";

// What the callbacks run inside the page use (this project's TypeScript has no DOM library).
declare const document: {
  getElementById(id: string): { textContent: string | null; dataset: Record<string, string | undefined> } | null;
  querySelector(selector: string): unknown;
};
declare const crossOriginIsolated: boolean;

const CHROMIUM = process.env["KILN_CHROMIUM"] ?? "/usr/bin/chromium";
const present = existsSync(CHROMIUM);
if (!present) console.warn(`test/web.test.ts: skipped, no Chromium at ${CHROMIUM} (apt-get install chromium, as .ci/run does; or set KILN_CHROMIUM)`);

describe("npm run web's server (no browser needed)", () => {
  it("refuses a PORT that is not a port, and a port in use, with a KilnError saying what it expected", async () => {
    expect(portFromEnv(undefined)).toBe(5173);
    expect(portFromEnv("0")).toBe(0);
    expect(portFromEnv("8080")).toBe(8080);
    for (const bad of ["abc", "-1", "70000", "80.5"]) {
      expect(() => portFromEnv(bad), bad).toThrow(KilnError);
      expect(() => portFromEnv(bad), bad).toThrow(`PORT: expected an integer from 0 to 65535 (0: any free port), got "${bad}"`);
    }
    const first = await serve(0);
    try {
      const port = Number(new URL(first.url).port);
      await expect(serve(port)).rejects.toThrow(new KilnError(`port ${port} on 127.0.0.1 is in use (set PORT to another, or 0 for a free one)`));
      // A malformed path is a 400, and the server keeps serving.
      expect((await fetch(`${first.url}%E0%A4%A`)).status).toBe(400);
      expect((await fetch(`${first.url}no-such-file`)).status).toBe(404);
    } finally {
      first.server.close();
    }
  });
});

describe.skipIf(!present)("the web page in headless Chromium", () => {
  let server: Server;
  let url = "";
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const trained = { accuracy: "", file: "" }; // the 300-step net's accuracy and checkpoint

  beforeAll(async () => {
    await buildPage();
    ({ url, server } = await serve(0));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"],
    });
    // A fresh context is a fresh profile (playwright gives each launch its own user data dir).
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
    page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  it("?steps=300 trains at once to ≥ 90% test accuracy, cross-origin isolated, on two threads", async () => {
    await page.goto(`${url}?steps=300`);
    await page.waitForFunction(() => ["done", "error"].includes(document.getElementById("status")!.textContent!), null, { timeout: 300_000 });
    const got = await page.evaluate(() => ({
      status: document.getElementById("status")!.textContent,
      accuracy: document.getElementById("test-accuracy")!.textContent!,
      isolated: crossOriginIsolated,
      threads: document.getElementById("threads")!.dataset,
    }));
    expect(got.status).toBe("done");
    expect(got.accuracy).toMatch(/^\d+\.\d%$/);
    expect(parseFloat(got.accuracy)).toBeGreaterThanOrEqual(90);
    expect(got.isolated).toBe(true);
    expect(got.threads["threads"]).toBe("2");
    expect(Number(got.threads["workerJobs"])).toBeGreaterThan(0); // the Web Worker ran kernel parts
  }, 320_000);

  it("the IR panel shows the compiled train step with fused ops, and the traced one without", async () => {
    const after = await page.locator("#ir").textContent();
    expect(after).toMatch(/= fused_elementwise\[/);
    expect(after).toMatch(/= softmax_xent\[/);
    await page.click("button[data-stage=before]");
    const before = await page.locator("#ir").textContent();
    expect(before).not.toMatch(/fused_elementwise/);
    expect(before).toMatch(/= matmul\[/);
    await page.click("button[data-stage=after]");
  });

  it("a stroke on the pad gives ten probabilities that sum to 1", async () => {
    const box = (await page.locator("#pad").boundingBox())!;
    // A "1": one vertical stroke down the middle.
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.2);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * (0.2 + 0.06 * i));
    await page.mouse.up();
    await page.waitForFunction(() => document.querySelector("#probs li[data-p]:not([data-p='0'])") !== null, null, { timeout: 30_000 });
    const p = await page.$$eval("#probs li", (lis) => lis.map((li) => Number(li.getAttribute("data-p"))));
    expect(p).toHaveLength(10);
    for (const v of p) expect(v).toBeGreaterThanOrEqual(0);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(p.indexOf(Math.max(...p))).toBe(1);
    mkdirSync(resolve(import.meta.dirname, "../out"), { recursive: true });
    await page.screenshot({ path: join(import.meta.dirname, "../out/web.png") });
  });

  it("the checkpoint downloads as safetensors with PyTorch's names", async () => {
    trained.accuracy = (await page.locator("#test-accuracy").textContent())!;
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#save")]);
    expect(download.suggestedFilename()).toBe("kiln-mnist.safetensors");
    const file = join(import.meta.dirname, "../out/web-checkpoint.safetensors");
    await download.saveAs(file);
    const tensors = decodeSafetensors(new Uint8Array(readFileSync(file))).tensors;
    expect(tensors.get("0.weight")?.shape).toEqual([256, 784]);
    expect(tensors.get("4.fn.1.running_var")?.shape).toEqual([256]);
    expect(tensors.get("5.bias")?.shape).toEqual([10]);
    trained.file = file;
  });

  it("the eval program exports as ONNX in the page (no Node there), and the file scores the page's accuracy in Node", async () => {
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#onnx")]);
    expect(download.suggestedFilename()).toBe("kiln-mnist.onnx");
    const file = join(import.meta.dirname, "../out/web-model.onnx");
    await download.saveAs(file);
    expect(await page.locator("#ckpt").textContent()).toMatch(/^saved ONNX, \d+\.\d\d MB$/);
    const { model, params, state, inputs } = fromOnnx(new Uint8Array(readFileSync(file)));
    const net = compile(model, { inputs, batch: 500 });
    for (const [k, v] of Object.entries(params)) net.params[k]!.set(v);
    for (const [k, v] of Object.entries(state)) (net.state[k] as Float32Array).set(v as Float32Array);
    const { test } = await loadMnistDigits();
    expect(`${(100 * evaluate(net, test).accuracy).toFixed(1)}%`).toBe(trained.accuracy);
    net.dispose();
  }, 60_000);

  it("the console stayed free of errors (favicon included)", () => {
    expect(problems).toEqual([]);
  });

  it("served without cross-origin isolation it trains on one thread and says why, once; a checkpoint loads there", async () => {
    const plain = await serve(0, { isolated: false });
    const other = await browser.newPage();
    const notes: string[] = [];
    other.on("console", (m) => { if (m.type() === "error" || m.text().startsWith("kiln:")) notes.push(`${m.type()}: ${m.text()}`); });
    other.on("pageerror", (e) => notes.push(`page error: ${e.message}`));
    try {
      await other.goto(`${plain.url}?steps=30`);
      await other.waitForFunction(() => ["done", "error"].includes(document.getElementById("status")!.textContent!), null, { timeout: 120_000 });
      expect(await other.evaluate(() => [crossOriginIsolated, document.getElementById("status")!.textContent, document.getElementById("threads")!.dataset["threads"]]))
        .toEqual([false, "done", "1"]);
      expect(notes).toEqual([expect.stringMatching(/^info: kiln: one thread, because the page is not cross-origin isolated/)]);
      // The 300-step checkpoint loaded into this 30-step net: its accuracy, to the digit (one
      // thread or two, the same bits).
      const own = await other.locator("#test-accuracy").textContent();
      expect(own).not.toBe(trained.accuracy);
      await other.setInputFiles("#load", trained.file);
      await other.waitForFunction(() => /^loaded /.test(document.getElementById("ckpt")!.textContent ?? ""), null, { timeout: 30_000 });
      expect(await other.locator("#ckpt").textContent()).toBe(`loaded web-checkpoint.safetensors: test accuracy ${trained.accuracy}`);
    } finally {
      await other.close();
      plain.server.close();
    }
  }, 150_000);
});
