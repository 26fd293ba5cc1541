/**
 * `npm run web`: build the page (Vite), write the digits it trains on, and serve web/dist with
 * the headers that make it cross-origin isolated (COOP/COEP), so kiln can share its memory
 * with Web Workers. Prints the URL. PORT sets the port (default 5173; 0 picks a free one).
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { extname, join, normalize, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "vite";
import { loadMnistDigits } from "../src/data/mnist.js";
import { KilnError } from "../runtime/errors.js";

export const webDir = import.meta.dirname;
export const distDir = join(webDir, "dist");

/**
 * digits.bin, read by trainer.ts: u32 train count, u32 test count, a u8 label per sample (padded
 * to even length), then 784 u16 pixels per sample in thousandths (the npm package's values have
 * three decimals: exact). Stored gzipped (~2 MB instead of 41 MB of JSON); served with
 * Content-Encoding: gzip.
 */
async function writeDigits(file: string): Promise<void> {
  const { train, test } = await loadMnistDigits();
  const total = train.count + test.count;
  const labelsEnd = 8 + total + ((8 + total) % 2);
  const bytes = new Uint8Array(labelsEnd + 2 * 784 * total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, train.count, true);
  view.setUint32(4, test.count, true);
  bytes.set(train.labels, 8);
  bytes.set(test.labels, 8 + train.count);
  const pixels = new Uint16Array(bytes.buffer, labelsEnd);
  const all = [train.images, test.images];
  let at = 0;
  for (const images of all) for (const v of images) {
    const k = Math.round(v * 1000);
    if (Math.abs(k / 1000 - v) > 1e-6) throw new Error(`digit pixel ${v} is not a multiple of 0.001`);
    pixels[at++] = k;
  }
  writeFileSync(file, gzipSync(bytes, { level: 6 }));
}

/** Build the page into web/dist (Vite) and add digits.bin. */
export async function buildPage(): Promise<void> {
  await build({ configFile: join(webDir, "vite.config.ts") });
  await writeDigits(join(distDir, "digits.bin"));
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml", ".map": "application/json", ".bin": "application/octet-stream", ".json": "application/json",
  ".wasm": "application/wasm",
};

/**
 * Serve web/dist (or `root`: the bench's TF.js page), cross-origin isolated unless `isolated` is
 * false (to see the one-thread fallback).
 */
export function serve(port: number, { host = "127.0.0.1", isolated = true, root = distDir } = {}): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const headers: Record<string, string> = { "Cache-Control": "no-cache" };
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      res.writeHead(400, { ...headers, "Content-Type": "text/plain" }).end("bad request: the path is not valid percent-encoding");
      return;
    }
    const file = normalize(join(root, path === "/" ? "index.html" : path));
    if (isolated) {
      headers["Cross-Origin-Opener-Policy"] = "same-origin";
      headers["Cross-Origin-Embedder-Policy"] = "require-corp";
      headers["Cross-Origin-Resource-Policy"] = "same-origin";
    }
    if (!file.startsWith(resolve(root)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { ...headers, "Content-Type": "text/plain" }).end("not found");
      return;
    }
    headers["Content-Type"] = TYPES[extname(file)] ?? "application/octet-stream";
    if (file.endsWith("digits.bin")) headers["Content-Encoding"] = "gzip";
    res.writeHead(200, headers).end(readFileSync(file));
  });
  return new Promise((done, fail) => {
    server.once("error", (e: Error & { code?: string }) => {
      fail(new KilnError(e.code === "EADDRINUSE" ? `port ${port} on ${host} is in use (set PORT to another, or 0 for a free one)` : `cannot serve on ${host}:${port}: ${e.message}`));
    });
    server.listen(port, host, () => {
      const address = server.address();
      done({ url: `http://${host}:${typeof address === "object" && address ? address.port : port}/`, server });
    });
  });
}

/** PORT as `npm run web` reads it: an integer from 0 to 65535 (default 5173). */
export function portFromEnv(value: string | undefined): number {
  if (value === undefined || value === "") return 5173;
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || port > 65535) throw new KilnError(`PORT: expected an integer from 0 to 65535 (0: any free port), got ${JSON.stringify(value)}`);
  return port;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  // One line and exit code 2 for a bad PORT, 1 for a port that cannot be served, like `kiln`.
  const fail = (e: unknown, code: number): never => {
    if (!(e instanceof KilnError)) throw e;
    console.error(`npm run web: ${e.message}`);
    process.exit(code);
  };
  let port = 5173;
  try { port = portFromEnv(process.env["PORT"]); } catch (e) { fail(e, 2); }
  await buildPage();
  const { url } = await serve(port).catch((e: unknown) => fail(e, 1));
  console.log(`kiln page: ${url}  (add ?steps=300 to start training at once; Ctrl-C stops)`);
}
