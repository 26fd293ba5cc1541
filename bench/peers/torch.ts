/**
 * PyTorch eager through bench/torch_bench.py in a python that has torch: KILN_BENCH_PYTHON if
 * set, else /usr/bin/python3 (Debian's python3-torch), else python3 on PATH. The shared data go
 * to a temporary folder as raw little-endian files; the script times every case at 1 and 2
 * threads and prints JSON on its last stdout line.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { POOL, mlpSpecs, type Norm, type Workload } from "../workloads.js";
import type { Shared } from "./types.js";

export const TORCH_THREADS = [1, 2] as const;
export const torchPeerName = (t: number): string => `torch-${t}t`;

export interface TorchCase {
  readonly workload: string;
  readonly threads: number;
  readonly seconds?: number[];
  readonly check?: string;
  readonly error?: string;
}

export interface TorchRun {
  readonly python: string;
  readonly info: Record<string, unknown>;
  readonly results: TorchCase[];
}

/** A python that imports torch, or null. */
export function findPython(): string | null {
  const candidates = [process.env["KILN_BENCH_PYTHON"], "/usr/bin/python3", "python3"].filter((p): p is string => !!p);
  for (const py of candidates) {
    const r = spawnSync(py, ["-c", "import torch"], { stdio: "ignore", timeout: 60_000 });
    if (r.status === 0) return py;
  }
  return null;
}

/**
 * Whether the python's torch multiplies at an optimized BLAS's speed. Debian's python3-torch
 * (BLAS_INFO=generic) calls libblas.so.3, which with no optimized BLAS installed is netlib's
 * reference loops: W1 measured 5.8 GFLOP/s at two threads there against ~190 with OpenBLAS, and
 * every ratio against PyTorch flattered kiln 10-30×. Measured, not read off the libraries loaded
 * (OpenBLAS's liblapack can be loaded beside the reference libblas): one thread's 512³ product,
 * best of three. A warning to print below 10 GFLOP/s (OpenBLAS: ~110 on this VM), else null.
 */
export function torchBlasWarning(python: string): string | null {
  const probe = [
    "import json, time, torch",
    "torch.set_num_threads(1)",
    "a, b = torch.rand(512, 512), torch.rand(512, 512)",
    "def once():",
    "    t = time.perf_counter()",
    "    a @ b",
    "    return time.perf_counter() - t",
    "once()",
    "best = min(once() for _ in range(3))",
    "libs = sorted({l.split()[-1] for l in open('/proc/self/maps') if 'blas' in l})",
    "print(json.dumps({'gflops': 2 * 512 ** 3 / best / 1e9, 'libs': libs}))",
  ].join("\n");
  const r = spawnSync(python, ["-c", probe], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) return null;
  const { gflops, libs } = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { gflops: number; libs: string[] };
  if (gflops >= 10) return null;
  return `PyTorch (${python}) multiplied a 512³ product at ${gflops.toFixed(1)} GFLOP/s on one thread (BLAS libraries loaded: `
    + `${libs.join(", ") || "none"}): the reference BLAS, not OpenBLAS. Every ratio against PyTorch below flatters kiln `
    + "10-30×; install Debian's libopenblas0-pthread (bench/README.md) and run again.";
}

const bytes = (a: Float32Array | Float64Array | Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function writeData(dir: string, workloads: readonly Workload[], shared: Shared): void {
  const put = (name: string, a: Float32Array | Float64Array | Int32Array) => writeFileSync(path.join(dir, name), bytes(a));
  const groups = new Set(workloads.map((w) => w.group));
  const norms: Norm[] = [];
  if (groups.has("W2") || groups.has("W3")) norms.push("layerNorm");
  if (groups.has("W2b")) norms.push("batchNorm");
  for (const norm of norms) {
    const params = shared.params(norm);
    const meta: Record<string, readonly number[]> = {};
    for (const s of mlpSpecs(norm)) {
      meta[s.name] = s.shape;
      put(`params_${norm}_${s.name}.bin`, params[s.name]!);
    }
    writeFileSync(path.join(dir, `params_${norm}.json`), JSON.stringify(meta));
  }
  if (groups.has("W2") || groups.has("W2b")) {
    const { xs, labels } = shared.train();
    xs.forEach((x, b) => put(`train_x_${b}.bin`, x));
    labels.forEach((l, b) => put(`train_y_${b}.bin`, l));
  }
  if (groups.has("W3")) {
    put("eval_x.bin", shared.evalInput());
    put("eval_ref.bin", shared.referenceLogits());
  }
  for (const w of workloads) {
    if (w.group !== "W1") continue;
    const { a, b } = shared.sgemm(w.n!);
    put(`sgemm_${w.n}_a.bin`, a);
    put(`sgemm_${w.n}_b.bin`, b);
  }
  if (groups.has("W4")) {
    const d = shared.layerNorm();
    put("ln_x.bin", d.x); put("ln_w.bin", d.weight); put("ln_b.bin", d.bias); put("ln_dy.bin", d.dy);
    const r = shared.layerNormReference();
    put("ln_ref_y.bin", r.y); put("ln_ref_dx.bin", r.dx); put("ln_ref_dw.bin", r.dw); put("ln_ref_db.bin", r.db);
  }
}

/** Run every workload at 1 and 2 threads in one python process. Throws if it cannot run at all. */
export async function runTorch(python: string, workloads: readonly Workload[], shared: Shared, log: (s: string) => void): Promise<TorchRun> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kiln-bench-"));
  try {
    writeData(dir, workloads, shared);
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "torch_bench.py");
    const args = [script, "--data", dir, "--workloads", workloads.map((w) => w.id).join(","), "--threads", TORCH_THREADS.join(","), "--pool", String(POOL)];
    if (shared.quick) args.push("--quick");
    const child = spawn(python, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      for (const line of d.toString().split("\n")) if (/^torch .* done$/.test(line.trim())) log(`  ${line.trim()}`);
    });
    // A generous bound: the script's own budget is a few seconds per case.
    const timer = setTimeout(() => child.kill("SIGKILL"), 8 * 60_000);
    const code = await new Promise<number | null>((resolve, reject) => { child.on("error", reject); child.on("close", resolve); });
    clearTimeout(timer);
    const last = out.trim().split("\n").pop() ?? "";
    if (code !== 0 || !last.startsWith("{")) {
      const tail = err.trim().split("\n").slice(-3).join(" | ");
      throw new Error(`torch_bench.py exited ${code ?? "by signal"}: ${tail || "no output"}`);
    }
    const parsed = JSON.parse(last) as { info: Record<string, unknown>; results: TorchCase[] };
    return { python, info: parsed.info, results: parsed.results };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
