#!/usr/bin/env python3
"""PyTorch (eager, CPU) side of the cliff sweep (bench/cliffs.ts): draws the models and times them.

    python3 bench/torch_cliffs.py specs [dsl count] [first seed]   # prints the sweep's models as JSON
    python3 bench/torch_cliffs.py serve specs.json [budget s]      # reads model indices on stdin, times each

A model is the JSON description the PyTorch fixtures use (test/fixtures/kiln_torch.py builds it
in torch, test/helpers/fixture-model.ts in kiln) with its inputs, outputs, batch, loss and
optimizer. The sweep is every built-in layer, activation, loss and optimizer at realistic
widths (32-1024) and batches (1, 16-512), the fixtures' user functions and layers, and random
user-DSL models drawn by test/fixtures/random_dsl_fixtures.py at those sizes.

`serve` answers each index on stdin with one JSON line: seconds per call (median of samples) of
train (zero_grad, forward, backward, step), gradients (zero_grad, forward, backward) and predict
(eval mode, no_grad, forward at the same batch) at 1 and 2 threads, so that bench/cliffs.ts can
interleave kiln and PyTorch model by model. Dropout is nn.Dropout here (kiln's Philox masks in
numpy, as the fixtures need them, would time numpy): the same work class as kiln's.
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "fixtures"))
sys.path.insert(0, HERE)
import kiln_torch as kt  # noqa: E402
import make_fixtures as mf  # noqa: E402
import random_dsl_fixtures as rdf  # noqa: E402
from torch_bench import Blas  # noqa: E402

# Widths of the DSL draws: the generator takes sizes[:4] / sizes[:5] for inner axes (reduced
# away, contracted), so the first ones are the moderate sizes and the biggest come last.
DSL_SIZES = [32, 16, 64, 128, 256, 512, 1024]
DSL_BATCHES = [1, 16, 64, 256, 512]


def spec(sid, model, inputs, batch, loss="mse", optimizer=None):
    return {"id": sid, "model": model, "inputs": inputs, "outputs": mf.output_features(model, inputs),
            "batch": batch, "loss": loss, "optimizer": optimizer or kt.sgd(0.01, momentum=0.9)}


def builtin_specs():
    L, R, S = kt.linear, kt.RELU, kt.seq
    acts = {"relu": R, "gelu": kt.act("gelu", approximate="none"), "geluTanh": kt.act("gelu", approximate="tanh"), "tanh": kt.act("tanh"),
            "sigmoid": kt.act("sigmoid"), "silu": kt.act("silu"), "leakyRelu": kt.act("leakyRelu", slope=0.01)}
    out = []
    for name, a in acts.items():
        # matmul-heavy: the activation between two 512-wide products
        out.append(spec(f"mlp-{name} 256-512-512-10 b128", S(L(256, 512), a, L(512, 512), a, L(512, 10)), 256, 128, "softmaxCrossEntropy"))
        # elementwise-dominated: the activation on 1024 features, then a narrow product
        out.append(spec(f"{name} 1024 -> linear 16 b256", S(a, L(1024, 16)), 1024, 256))
    for n, b in [(32, 16), (256, 512), (1024, 256), (1024, 16)]:
        out.append(spec(f"layerNorm({n}) b{b}", S(kt.layer_norm(n)), n, b))
        out.append(spec(f"batchNorm({n}) b{b}", S(kt.batch_norm(n)), n, b))
    out.append(spec("layerNorm(512, affine false) -> linear 16 b256", S(kt.layer_norm(512, affine=False), L(512, 16)), 512, 256))
    out.append(spec("linear 512 -> layerNorm -> relu -> linear b128", S(L(512, 512), kt.layer_norm(512), R, L(512, 10)), 512, 128, "softmaxCrossEntropy"))
    out.append(spec("linear 512 -> batchNorm -> relu -> linear b128", S(L(512, 512), kt.batch_norm(512), R, L(512, 10)), 512, 128, "softmaxCrossEntropy"))
    out.append(spec("dropout(0.1) 1024 -> linear 16 b256", S(kt.dropout(0.1), L(1024, 16)), 1024, 256))
    out.append(spec("linear 256-1024, dropout(0.5), relu, linear 10 b128", S(L(256, 1024), kt.dropout(0.5), R, L(1024, 10)), 256, 128, "softmaxCrossEntropy"))
    block = S(L(256, 256), R, L(256, 256))
    out.append(spec("residual(256-256-256) x3 b64", S(L(64, 256), kt.residual(block), kt.residual(block), kt.residual(block), L(256, 1)), 64, 64))
    out.append(spec("concat(linear 256, tanh·linear 128) b64", S(L(128, 256), kt.concat(L(256, 256), S(L(256, 128), kt.act("tanh"))), L(384, 10)), 128, 64, "softmaxCrossEntropy"))
    out.append(spec("deep 20 x linear(32) relu b16", S(L(32, 32), *[x for _ in range(19) for x in (R, L(32, 32))]), 32, 16))
    out.append(spec("W2-like train b1", S(L(784, 512), kt.layer_norm(512), R, kt.dropout(0.1), L(512, 512), kt.layer_norm(512), R, L(512, 10)), 784, 1, "softmaxCrossEntropy"))
    out.append(spec("small 32-32-10 b1", S(L(32, 32), R, L(32, 10)), 32, 1, "softmaxCrossEntropy"))
    out.append(spec("linear 64-1024-1024-1 b512", S(L(64, 1024), R, L(1024, 1024), R, L(1024, 1)), 64, 512))
    # losses: a wide output, so the loss's own kernels weigh
    for lname, loss in [("ce", "softmaxCrossEntropy"), ("mse", "mse"), ("bceLogits", {"kind": "binaryCrossEntropy", "logits": True}),
                        ("l1", {"kind": "l1"}), ("huber", {"kind": "huber", "delta": 0.5})]:
        out.append(spec(f"loss {lname}: linear 64-1000 b256", S(L(64, 1000)), 64, 256, loss))
    out.append(spec("loss bce: linear 64-1000, sigmoid b256", S(L(64, 1000), kt.act("sigmoid")), 64, 256, {"kind": "binaryCrossEntropy", "logits": False}))
    # optimizers: one 1024x1024 layer at batch 1, so the update weighs
    opts = {"sgd": kt.sgd(0.01), "momentum": kt.sgd(0.01, momentum=0.9), "nesterov": kt.sgd(0.01, momentum=0.9, nesterov=True),
            "sgd wd": kt.sgd(0.01, momentum=0.9, weight_decay=1e-4), "adam": kt.adam(1e-3), "adam wd": kt.adam(1e-3, weight_decay=1e-4),
            "adamw": kt.adam(1e-3, weight_decay=0.01, decoupled=True), "sgd clipNorm": kt.sgd(0.01, momentum=0.9, clip_norm=1.0),
            "adam clipValue": kt.adam(1e-3, clip_value=0.01)}
    for oname, o in opts.items():
        out.append(spec(f"optimizer {oname}: linear 1024-1024 b1", S(L(1024, 1024)), 1024, 1, "mse", o))
    # the fixtures' user code at realistic sizes
    for f in ["swish", "softsign", "bump", "isru", "powmix", "clip", "center", "softmaxRows", "logabs"]:
        out.append(spec(f"fn {f} 1024 -> linear 16 b256", S(L(64, 1024), kt.user_fn(f), L(1024, 16)), 64, 256))
    for u in ["glu", "twin", "gram"]:
        out.append(spec(f"layer {u}(256) b128", S(L(64, 256), kt.user_layer(u, 256), L(2 * 256 if u == "twin" else 256, 10)), 64, 128, "softmaxCrossEntropy"))
    out.append(spec("lossFn relsq: linear 64-1000 b256", S(L(64, 1000)), 64, 256, {"kind": "lossFn", "name": "relsq"}))
    return out


def dsl_specs(count, first):
    out = []
    for i in range(first, first + count):
        s = rdf.spec_of(i, DSL_SIZES, DSL_BATCHES)
        out.append(spec(f"random DSL {i}", s["model"], s["inputs"], s["batch"], s["loss"], s["optimizer"]))
    return out


# ---------------------------------------------------------------------------------------------
# timing

class Dropout(nn.Dropout):
    def __init__(self, p, seed, stream, counter):
        super().__init__(p)


def build(s):
    kt.KilnDropout = Dropout
    model = kt.build(s["model"], 0, kt.StepCounter(), []).float()
    rng = np.random.default_rng(0)
    for m in model.modules():  # the DSL layers' parameters start at zero: give them values
        if isinstance(m, kt.dsl_torch.ExprLayer):
            for name, p in list(m.named_parameters(recurse=False)) + list(m.named_buffers(recurse=False)):
                p.data = torch.from_numpy(np.asarray(m.init_value(name, tuple(p.shape), rng), dtype=np.float32)).reshape(p.shape)
    return model


def data(s):
    g = np.random.default_rng(1)
    b, n, o = s["batch"], s["inputs"], s["outputs"]
    x = torch.from_numpy(g.normal(size=(b, n)).astype(np.float32))
    lo = s["loss"] if isinstance(s["loss"], str) else s["loss"]["kind"]
    if lo == "softmaxCrossEntropy":
        y = g.integers(0, o, b).astype(np.int64)
    elif lo == "binaryCrossEntropy":
        y = g.uniform(size=(b, o)).astype(np.float32)
    else:
        y = g.normal(size=(b, o)).astype(np.float32)
    return x, y


def measure(run, budget):
    """Seconds per call: warm-up, then 5 samples of at least budget/5 s each; the median."""
    t0, n = time.perf_counter(), 0
    while n < 2 or (time.perf_counter() - t0 < budget / 4 and n < 20):
        run()
        n += 1
    est = (time.perf_counter() - t0) / n
    inner = max(1, math.ceil(budget / 5 / est))
    samples = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(inner):
            run()
        samples.append((time.perf_counter() - t) / inner)
    return sorted(samples)[2]


def time_spec(s, blas, budget):
    model = build(s)
    x, y = data(s)
    opt, _ = kt.make_optimizer(s["optimizer"], list(model.parameters()))
    yt = torch.from_numpy(y)

    def grads():
        opt.zero_grad(set_to_none=False)
        kt.loss_of(s["loss"], model(x), y).backward()

    def train():
        grads()
        if "clipGradNorm" in s["optimizer"] or "clipGradValue" in s["optimizer"]:
            kt.clip_gradients(s["optimizer"], list(model.parameters()))
        opt.step()

    def predict():
        with torch.no_grad():
            model(x)

    del yt
    out = {}
    for t in (1, 2):
        torch.set_num_threads(t)
        blas.set_threads(t)
        model.train()
        out[f"train{t}"] = measure(train, budget)
        out[f"gradients{t}"] = measure(grads, budget)
        model.eval()
        out[f"predict{t}"] = measure(predict, budget)
    return out


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("specs", "serve"):
        sys.exit(__doc__)
    if sys.argv[1] == "specs":
        count = int(sys.argv[2]) if len(sys.argv) > 2 else 30
        first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
        print(json.dumps(builtin_specs() + dsl_specs(count, first)))
        return
    with open(sys.argv[2]) as f:
        specs = json.load(f)
    budget = float(sys.argv[3]) if len(sys.argv) > 3 else 0.25
    blas = Blas()
    torch.manual_seed(0)
    print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
    for line in sys.stdin:
        i = int(line)
        try:
            res = time_spec(specs[i], blas, budget)
        except Exception as e:  # noqa: BLE001 (reported in the table, the sweep goes on)
            res = {"error": f"{type(e).__name__}: {e}"[:300]}
        print(json.dumps({"index": i, **res}), flush=True)


if __name__ == "__main__":
    main()
