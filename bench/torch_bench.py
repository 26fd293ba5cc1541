#!/usr/bin/env python3
"""PyTorch (eager, CPU) peer of kiln's benchmark: the W1-W4 workloads at 1 and 2 threads.

Spawned by bench/run.ts, which writes the shared data (parameters, batches, float64 references)
as raw little-endian files into --data and reads the JSON this prints on its last stdout line.
Timing protocol as in bench/run.ts: warm-up, then samples of whole runs; seconds per run.

Threads: torch.set_num_threads(t) sets the OpenMP pool of torch's own kernels; BLAS threads
(OpenBLAS, via Debian's libblas.so.3 alternative) are set separately with
openblas_set_num_threads(t), since torch 1.13 built with BLAS_INFO=generic does not forward it.
"""
import argparse
import ctypes
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH, INPUTS, HIDDEN, CLASSES = 128, 784, 512, 10
DROP, LR, MOMENTUM, WEIGHT_DECAY, EPS = 0.1, 0.01, 0.9, 1e-4, 1e-5
W3_CHECK_ROWS = 16


def loaded_libs(word):
    paths = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                if word in os.path.basename(p):
                    paths.add(p)
    except OSError:
        pass
    return sorted(paths)


class Blas:
    """OpenBLAS loaded into this process (through libblas.so.3), if any."""

    def __init__(self):
        torch.ones(4, 4) @ torch.ones(4, 4)  # make sure the BLAS is loaded
        self.lib = None
        for path in loaded_libs("openblas"):
            try:
                lib = ctypes.CDLL(path)
                lib.openblas_set_num_threads
                self.lib, self.path = lib, path
                break
            except (OSError, AttributeError):
                continue

    def set_threads(self, n):
        if self.lib is not None:
            self.lib.openblas_set_num_threads(n)

    def info(self):
        out = {"libblas": [os.path.realpath(p) for p in loaded_libs("libblas")]}
        if self.lib is None:
            out["openblas"] = None
            return out
        self.lib.openblas_get_config.restype = ctypes.c_char_p
        self.lib.openblas_get_corename.restype = ctypes.c_char_p
        out["openblas"] = {
            "path": os.path.realpath(self.path),
            "config": self.lib.openblas_get_config().decode(),
            "core": self.lib.openblas_get_corename().decode(),
        }
        return out


def measure(run, quick, warmed_up=False):
    """Same protocol as measure() in bench/run.ts; returns seconds per run, one per sample."""
    warm_min, warm_time = (1, 0.0) if warmed_up else (1, 0.2) if quick else (2, 0.5)
    t0, n = time.perf_counter(), 0
    while n < warm_min or (time.perf_counter() - t0 < warm_time and n < 50):
        run()
        n += 1
    est = (time.perf_counter() - t0) / n
    inner = max(1, math.ceil(0.025 / est))
    budget, lo, hi = (1.0, 3, 10) if quick else (4.0, 3 if est > 1 else 5, 25)
    count = min(hi, max(lo, round(budget / (est * inner))))
    samples = []
    for _ in range(count):
        s = time.perf_counter()
        for _ in range(inner):
            run()
        samples.append((time.perf_counter() - s) / inner)
    return samples


class CheckError(Exception):
    pass


def check_close(what, got, ref, tol):
    got, ref = got.double().flatten(), ref.double().flatten()
    if got.numel() != ref.numel():
        raise CheckError(f"{what}: {got.numel()} values, expected {ref.numel()}")
    err = (got - ref).abs().max().item()
    scale = ref.abs().max().item() or 1.0
    rel = err / scale
    if not rel <= tol:
        raise CheckError(f"{what}: max error {rel:.2e} of the largest value (tolerance {tol})")
    return rel


class Data:
    def __init__(self, folder):
        self.folder = folder

    def read(self, name, dtype=torch.float32, shape=None):
        with open(os.path.join(self.folder, name), "rb") as f:
            t = torch.frombuffer(bytearray(f.read()), dtype=dtype)
        return t.reshape(shape) if shape is not None else t

    def params(self, norm):
        meta = json.load(open(os.path.join(self.folder, f"params_{norm}.json")))
        return {k: self.read(f"params_{norm}_{k}.bin", shape=v) for k, v in meta.items()}


def mlp(norm):
    n = nn.LayerNorm if norm == "layerNorm" else nn.BatchNorm1d
    return nn.Sequential(
        nn.Linear(INPUTS, HIDDEN), n(HIDDEN), nn.ReLU(), nn.Dropout(DROP),
        nn.Linear(HIDDEN, HIDDEN), n(HIDDEN), nn.ReLU(), nn.Dropout(DROP),
        nn.Linear(HIDDEN, CLASSES),
    )


def load_model(data, norm):
    model = mlp(norm)
    state = model.state_dict()
    for k, v in data.params(norm).items():
        state[k].copy_(v)
    return model


def w1(data, n, quick):
    a = data.read(f"sgemm_{n}_a.bin", shape=(n, n))
    b = data.read(f"sgemm_{n}_b.bin", shape=(n, n))
    c = torch.empty(n, n)
    run = lambda: torch.mm(a, b, out=c)
    run()
    g = torch.Generator().manual_seed(n)
    i = torch.randint(0, n, (64,), generator=g)
    j = torch.randint(0, n, (64,), generator=g)
    ref = (a.double()[i] * b.double()[:, j].T).sum(1)
    rel = check_close("C = A·B (64 entries)", c[i, j], ref, 1e-4)
    return run, f"64 entries of C vs f64: {rel:.1e}"


def w2(data, norm, quick):
    model = load_model(data, norm).train()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    xs = [data.read(f"train_x_{b}.bin", shape=(BATCH, INPUTS)) for b in range(data.pool)]
    ys = [data.read(f"train_y_{b}.bin", dtype=torch.int32).long() for b in range(data.pool)]

    def step(b):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xs[b]), ys[b])
        loss.backward()
        opt.step()
        return loss.item()

    losses = [step(0) for _ in range(20)]
    k = 5
    if not all(math.isfinite(l) for l in losses) or not (losses[-1] < losses[0] and sum(losses[-k:]) < sum(losses[:k])):
        raise CheckError(f"loss did not decrease over 20 steps: {losses[0]:.4f} → {losses[-1]:.4f}")
    counter = [0]

    def run():
        b = counter[0] % data.pool
        counter[0] += 1
        step(b)

    return run, f"loss {losses[0]:.3f} → {losses[-1]:.3f} in 20 steps"


def w3(data, quick):
    model = load_model(data, "layerNorm").eval()
    x = data.read("eval_x.bin", shape=(-1, INPUTS))
    ref = data.read("eval_ref.bin", dtype=torch.float64)

    def run():
        with torch.inference_mode():
            return model(x)

    rel = check_close("logits", run()[:W3_CHECK_ROWS], ref, 1e-4)
    return run, f"logits vs f64 forward: {rel:.1e}"


def w4(data, quick):
    rows, cols = 256, 1024
    x = data.read("ln_x.bin", shape=(rows, cols)).requires_grad_()
    w = data.read("ln_w.bin").requires_grad_()
    b = data.read("ln_b.bin").requires_grad_()
    dy = data.read("ln_dy.bin", shape=(rows, cols))

    def run():
        y = F.layer_norm(x, (cols,), w, b, EPS)
        dx, dw, db = torch.autograd.grad(y, (x, w, b), dy)
        return y, dx, dw, db

    y, dx, dw, db = run()
    e = max(
        check_close("layerNorm y", y.detach(), data.read("ln_ref_y.bin", dtype=torch.float64), 1e-4),
        check_close("layerNorm dx", dx, data.read("ln_ref_dx.bin", dtype=torch.float64), 1e-3),
        check_close("layerNorm dweight", dw, data.read("ln_ref_dw.bin", dtype=torch.float64), 1e-3),
        check_close("layerNorm dbias", db, data.read("ln_ref_db.bin", dtype=torch.float64), 1e-3),
    )
    return run, f"y, dx, dw, db vs f64: {e:.1e}"


def prepare(data, workload, quick):
    if workload.startswith("W1-"):
        return w1(data, int(workload[3:]), quick)
    if workload == "W2":
        return w2(data, "layerNorm", quick)
    if workload == "W2b":
        return w2(data, "batchNorm", quick)
    if workload == "W3":
        return w3(data, quick)
    if workload == "W4":
        return w4(data, quick)
    raise ValueError(f"unknown workload {workload}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--workloads", required=True)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--pool", type=int, default=8)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    data = Data(args.data)
    data.pool = args.pool
    blas = Blas()
    torch.manual_seed(0)
    config = torch.__config__.show()
    info = {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "blas_info": next((s.split("=", 1)[1] for s in config.replace(",", "\n").split("\n") if "BLAS_INFO" in s and "LAPACK" not in s), None),
        "mkldnn": torch.backends.mkldnn.is_available(),
        **blas.info(),
    }
    results = []
    for workload in args.workloads.split(","):
        for t in [int(s) for s in args.threads.split(",")]:
            torch.set_num_threads(t)
            blas.set_threads(t)
            try:
                run, check = prepare(data, workload, args.quick)
                samples = measure(run, args.quick, warmed_up=workload in ("W2", "W2b"))
                results.append({"workload": workload, "threads": t, "seconds": samples, "check": check})
            except Exception as e:  # one failed case must not stop the others
                results.append({"workload": workload, "threads": t, "error": f"{type(e).__name__}: {e}"})
            print(f"torch {workload} {t}t done", file=sys.stderr, flush=True)
    print(json.dumps({"info": info, "results": results}))


if __name__ == "__main__":
    main()
