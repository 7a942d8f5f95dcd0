"""PyTorch's side of the colour-patch anomaly detection of docs/results.md: the same two models
as `anomaly_oneclass --detector mlp|conv` (the Keras-tutorial dense AE and the conv AE of
`conv-mnist`, adapted to 3x64x64), the same protocol (train on the `normal` class's training
images, 10% of them held out; score every test image by its reconstruction MSE; AUROC of "not
normal"), the same settings (Adam 1e-3 with epsilon 1e-8, batch 128, MSE, sigmoid output), on
the patches `photo_patches` writes; and `compress`'s dense AE trained on every class, scored by
the mean per-image PSNR of its test reconstructions. The train/test split (80/20, seeded) is this script's own:
compare means over seeds, not single runs.

    pip install torch pillow numpy
    python3 examples/anomaly_oneclass/pytorch_patches.py runs/patches --epochs 40 --seeds 42 1 2
"""

import argparse
import os
import time

import numpy as np
import torch
from PIL import Image
from torch import nn


def load(folder):
    classes = sorted(d for d in os.listdir(folder) if not d.startswith("."))
    images, labels = [], []
    for k, name in enumerate(classes):
        for file in sorted(os.listdir(os.path.join(folder, name))):
            image = Image.open(os.path.join(folder, name, file)).convert("RGB")
            images.append(np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0)
            labels.append(k)
    return np.stack(images), np.array(labels), classes


def dense(shape):
    d = int(np.prod(shape))
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(d, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(),
        nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, d),
        nn.Sigmoid(), nn.Unflatten(1, shape),
    )
    # Keras' initialisation (Glorot-uniform weights, zero biases), as the dense AE's.
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model


def conv(shape):
    c, h, w = shape
    features = 64 * (h // 4) * (w // 4)
    return nn.Sequential(
        nn.Conv2d(c, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(), nn.Flatten(),
        nn.Linear(features, 32), nn.Linear(32, features), nn.ReLU(),
        nn.Unflatten(1, (64, h // 4, w // 4)),
        nn.ConvTranspose2d(64, 32, 3, 2, 1, 1), nn.ReLU(), nn.ConvTranspose2d(32, c, 3, 2, 1, 1),
        nn.Sigmoid(),
    )


def auroc(scores, positive):
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def run(x, y, normal, detector, epochs, seed):
    """AUROC of one detector (`mlp`, `conv`), or for `compress` (the dense AE trained on every
    class, as `compress` trains it) the mean per-image PSNR of the test images; and the seconds
    of training."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    test = order[: len(x) // 5]
    train = order[len(x) // 5:]
    if detector != "compress":
        train = train[y[train] == normal]
    train = train[: len(train) - len(train) // 10]  # 10% held out, as the examples do
    model = (conv if detector == "conv" else dense)(x.shape[1:])
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    xt = torch.from_numpy(x)
    start = time.perf_counter()
    for _ in range(epochs):
        perm = rng.permutation(train)
        for b in range(0, len(perm) - 127, 128):  # the last partial batch dropped, as ours
            batch = xt[perm[b:b + 128]]
            loss = ((model(batch) - batch) ** 2).mean()
            optim.zero_grad()
            loss.backward()
            optim.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        batch = xt[test]
        scores = ((model(batch) - batch) ** 2).mean(dim=(1, 2, 3)).numpy()
    if detector == "compress":
        return float(np.mean(10 * np.log10(1 / scores))), seconds
    return auroc(scores, y[test] != normal), seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--normal", default="normal")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, y, classes = load(args.folder)
    normal = classes.index(args.normal)
    print(f"{len(x)} images of {x.shape[1:]}; classes {classes}; torch {torch.__version__}")
    for detector in ["mlp", "conv", "compress"]:
        results = [run(x, y, normal, detector, args.epochs, s) for s in args.seeds]
        values = [a for a, _ in results]
        what = "test PSNR (dB, 32 float codes)" if detector == "compress" else "AUROC"
        print(f"{detector}: {what} " + " / ".join(f"{a:.4f}" for a in values)
              + f" (mean {np.mean(values):.4f}); training {np.mean([s for _, s in results]):.1f} s")


if __name__ == "__main__":
    main()
