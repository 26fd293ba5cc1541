/**
 * kiln in headless Chromium: the web page's `?bench=N` (web/trainer.ts) runs W2 — this
 * runner's model, recipe and batch, on the digits — in the page's Web Worker with kiln's threads
 * as Web Workers, and reports seconds per step of each 10-step sample. Debian's chromium
 * (KILN_CHROMIUM to point elsewhere), driven by playwright-core; the page is built and served as
 * `npm run web` does (cross-origin isolated).
 */
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { buildPage, serve } from "../../web/serve.js";

export const CHROMIUM_PEER = "kiln-chromium";

export interface ChromiumRun {
  readonly seconds: number[];
  readonly check: string;
  readonly info: Record<string, unknown>;
}

/** W2 in the page: `steps` timed steps after 20 warm-up steps. */
export async function runChromium(steps: number): Promise<ChromiumRun> {
  const executablePath = process.env["KILN_CHROMIUM"] ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath} (apt-get install chromium, or set KILN_CHROMIUM)`);
  await buildPage();
  const { url, server } = await serve(0);
  const browser = await chromium.launch({
    executablePath, headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
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

// What the callback above runs inside the page uses (this project's TypeScript has no DOM library).
declare const document: { getElementById(id: string): { textContent: string | null; dataset: Record<string, string | undefined> } | null };
