#!/usr/bin/env python3
"""PyTorch (eager, CPU) peer of the wider bench (bench/wide.ts): models given as layer specs.

bench/wide.ts writes specs.json (layers, loss, batch, mode) with each workload's parameters
(PyTorch state-dict names), batches and kiln's outputs to check against into --data; this
builds each model with torch.nn, loads the parameters, checks and times it at each thread count
with the protocol of torch_bench.py, and prints JSON on its last stdout line.
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_bench import Blas, CheckError, check_close, measure

EPS = 1e-5


def build(spec):
    layers = []
    for l in spec["layers"]:
        if l["kind"] == "linear":
            layers.append(nn.Linear(l["in"], l["out"]))
        elif l["kind"] == "relu":
            layers.append(nn.ReLU())
        elif l["kind"] == "layerNorm":
            layers.append(nn.LayerNorm(l["n"], eps=EPS))
        else:
            layers.append(nn.BatchNorm1d(l["n"], eps=EPS))
    return nn.Sequential(*layers)


def read(folder, name, dtype=torch.float32, shape=None):
    with open(os.path.join(folder, name), "rb") as f:
        t = torch.frombuffer(bytearray(f.read()), dtype=dtype)
    return t.reshape(shape) if shape is not None else t


def prepare(folder, spec):
    wid, batch, out = spec["id"], spec["batch"], spec["outputs"]
    model = build(spec)
    state = model.state_dict()
    for k in spec["params"]:
        state[k].copy_(read(folder, f"{wid}_p_{k}.bin").reshape(state[k].shape))
    xs = [read(folder, f"{wid}_x_{b}.bin", shape=(batch, spec["inputs"])) for b in range(spec["pool"])]
    if spec["loss"] == "mse":
        ys = [read(folder, f"{wid}_y_{b}.bin", shape=(batch, out)) for b in range(spec["pool"])]
        loss_fn = F.mse_loss
    else:
        ys = [read(folder, f"{wid}_y_{b}.bin", dtype=torch.int32).long() for b in range(spec["pool"])]
        loss_fn = F.cross_entropy
    ref_path = os.path.join(folder, f"{wid}_ref.bin")
    ref = read(folder, f"{wid}_ref.bin") if os.path.exists(ref_path) else None

    if spec["mode"] == "predict":
        model.eval()
        x = xs[0]

        def run():
            with torch.inference_mode():
                return model(x)

        rel = check_close("outputs", run(), ref, 1e-4)
        return run, f"outputs vs kiln: {rel:.1e}", False
    model.train()
    if spec["mode"] == "gradients":
        params = list(model.parameters())

        def run():
            loss = loss_fn(model(xs[0]), ys[0])
            torch.autograd.grad(loss, params)
            return loss

        rel = check_close("loss", run().detach().reshape(1), ref, 1e-4)
        return run, f"loss vs kiln: {rel:.1e}", False
    opt = torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=spec["momentum"], weight_decay=spec["weightDecay"])

    def step(b):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs[b]), ys[b])
        loss.backward()
        opt.step()
        return loss.item()

    losses = [step(0) for _ in range(10)]
    if not all(math.isfinite(l) for l in losses) or not losses[-1] < losses[0]:
        raise CheckError(f"loss did not decrease over 10 steps: {losses[0]:.4f} → {losses[-1]:.4f}")
    counter = [0]

    def run():
        b = counter[0] % spec["pool"]
        counter[0] += 1
        step(b)

    return run, f"loss {losses[0]:.3f} → {losses[-1]:.3f} in 10 steps", True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    specs = json.load(open(os.path.join(args.data, "specs.json")))
    blas = Blas()
    torch.manual_seed(0)
    results = []
    for spec in specs:
        for t in [int(s) for s in args.threads.split(",")]:
            torch.set_num_threads(t)
            blas.set_threads(t)
            try:
                run, check, warmed = prepare(args.data, spec)
                results.append({"workload": spec["id"], "threads": t, "seconds": measure(run, args.quick, warmed_up=warmed), "check": check})
            except Exception as e:  # one failed case must not stop the others
                results.append({"workload": spec["id"], "threads": t, "error": f"{type(e).__name__}: {e}"})
            print(f"torch {spec['id']} {t}t done", file=sys.stderr, flush=True)
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
