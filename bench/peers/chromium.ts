/**
 * W2 in headless Chromium (Debian's chromium, KILN_CHROMIUM to point elsewhere; driven by
 * playwright-core), two peers:
 * - kiln-chromium: the web page's `?bench=N` (web/trainer.ts) runs W2 — this runner's model,
 *   recipe and batch, on the digits — in the page's Web Worker with kiln's threads as Web
 *   Workers, and reports seconds per step of each 10-step sample; the page is built and served
 *   as `npm run web` does (cross-origin isolated).
 * - tfjs-wasm-chromium: bench/browser/ (built with Vite into a temporary folder, with
 *   tfjs-backend-wasm's .wasm files copied beside it from node_modules, served the same way)
 *   runs the Node peer's W2 on TF.js's WASM backend, threaded build, default thread count.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { build } from "vite";
import { buildPage, serve } from "../../web/serve.js";

export const CHROMIUM_PEER = "kiln-chromium";
export const TFJS_CHROMIUM_PEER = "tfjs-wasm-chromium";

export interface ChromiumRun {
  readonly seconds: number[];
  readonly check: string;
  readonly info: Record<string, unknown>;
}

/** W2 in the page: `steps` timed steps after 20 warm-up steps. */
export async function runChromium(steps: number): Promise<ChromiumRun> {
  await buildPage();
  const { url, server } = await serve(0);
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`${url}?bench=${steps}`);
    await page.waitForFunction(() => ["done", "error"].includes(document.getElementById("status")!.textContent!), null, { timeout: 600_000 });
    const got = await page.evaluate(() => ({ status: document.getElementById("status")!.textContent, speed: { ...document.getElementById("speed")!.dataset }, threads: document.getElementById("threads")!.dataset["threads"] }));
    if (got.status !== "done" || got.speed["seconds"] === undefined) throw new Error(`the page's bench ended with status ${got.status}`);
    return { seconds: JSON.parse(got.speed["seconds"]) as number[], check: `${got.speed["check"]}, ${got.threads} threads`, info: { browser: `Chromium ${browser.version()}`, threads: Number(got.threads) } };
  } finally {
    await browser.close();
    server.close();
  }
}

function launch(): Promise<Browser> {
  const executablePath = process.env["KILN_CHROMIUM"] ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath} (apt-get install chromium, or set KILN_CHROMIUM)`);
  return chromium.launch({
    executablePath, headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** W2 on TF.js's WASM backend in the page bench/browser/: the check's 20 steps, then samples as bench/run.ts's measure() takes them. */
export async function runTfjsChromium(quick: boolean): Promise<ChromiumRun> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kiln-tfjs-page-"));
  let server: import("node:http").Server | undefined, browser: Browser | undefined;
  try {
    await build({
      root: path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "browser"), configFile: false, base: "./", logLevel: "warn",
      // Not minified: the threaded build starts its Web Workers from the source text of its
      // module factory (Function.toString), which a minifier leaves pointing at renamed outer names.
      build: { outDir: dir, emptyOutDir: true, target: "es2022", reportCompressedSize: false, minify: false },
    });
    const wasmDir = path.join(path.dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist");
    for (const f of readdirSync(wasmDir).filter((f) => f.endsWith(".wasm"))) copyFileSync(path.join(wasmDir, f), path.join(dir, f));
    const served = await serve(0, { root: dir });
    server = served.server;
    browser = await launch();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${served.url}${quick ? "?quick" : ""}`);
    await page.waitForFunction(() => ["done", "error"].includes(document.getElementById("status")!.textContent!), null, { timeout: 600_000 });
    const got = await page.evaluate(() => ({ status: document.getElementById("status")!.textContent, text: document.getElementById("result")!.textContent, data: { ...document.getElementById("result")!.dataset }, isolated: (globalThis as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated }));
    if (got.status !== "done" || got.data["seconds"] === undefined) throw new Error(`the TF.js page ended with status ${got.status}: ${got.text ?? ""} ${errors.join("; ")}`.trim());
    const threads = Number(got.data["threads"]);
    return { seconds: JSON.parse(got.data["seconds"]) as number[], check: `${got.data["check"]}, ${threads} threads`, info: { browser: `Chromium ${browser.version()}`, threads, crossOriginIsolated: got.isolated } };
  } finally {
    await browser?.close();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// What the callback above runs inside the page uses (this project's TypeScript has no DOM library).
declare const document: { getElementById(id: string): { textContent: string | null; dataset: Record<string, string | undefined> } | null };
