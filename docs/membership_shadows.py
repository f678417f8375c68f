#!/usr/bin/env python3
"""Train a target model and shadow models with PyTorch and write the files
that `reprolab membership audit` reads (docs/membership-audit.md explains
the layout and the report). Not run by the tests.

Every model trains on its own random half of the data, with the same
architecture and recipe; model 0 is the audited ("target") model, the
others are its shadows. So each example is IN for about half of the
shadows, which is what LiRA needs. A share of the rows is held out of every
model and flagged `population` in the target's file: RMIA compares each
example with those rows (ML Privacy Meter's population split).

    python docs/membership_shadows.py --out shadows/
    python docs/membership_shadows.py --csv data.csv --label y --out shadows/
    reprolab membership audit --input shadows/target.csv \
        --shadows shadows/shadow_*.csv --out audit/

Without --csv it makes a synthetic task (10 overlapping Gaussian classes in
20 dimensions) on which a 128-128 MLP trained for 100 epochs overfits.
Replace `make_model` and `train` with your own architecture and recipe: the
audit measures whatever the shadows imitate.
"""

import argparse
import csv
import pathlib

import numpy as np
import torch
from torch import nn


def load(path, label):
    """A CSV with numeric feature columns and a class column, standardised."""
    if path is None:
        rng = np.random.default_rng(0)
        centres = rng.normal(size=(10, 20))
        y = rng.integers(0, 10, size=2000)
        x = centres[y] + 1.5 * rng.normal(size=(2000, 20))
    else:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        classes = sorted({r[label] for r in rows})
        y = np.array([classes.index(r[label]) for r in rows])
        x = np.array([[float(r[c]) for c in rows[0] if c != label] for r in rows])
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    return x.astype(np.float32), y


def make_model(n_features, n_classes):
    return nn.Sequential(
        nn.Linear(n_features, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, n_classes)
    )


def train(x, y, rows, seed, epochs):
    """Adam 1e-3, batches of 128, on rows `rows` only."""
    torch.manual_seed(seed)
    model = make_model(x.shape[1], int(y.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x[rows]), torch.from_numpy(y[rows])
    for _ in range(epochs):
        for batch in torch.randperm(len(rows)).split(128):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[batch]), yt[batch]).backward()
            opt.step()
    return model


def write(path, logits, y, member, population):
    """One model's outputs on every example: CSV or NPZ by the extension.
    `population` is None for shadows (only the audited file flags it)."""
    if path.suffix == ".npz":
        arrays = dict(id=np.arange(len(y)), label=y, member=member.astype(np.int64), logits=logits)
        if population is not None:
            arrays["population"] = population.astype(np.int64)
        np.savez(path, **arrays)
        return
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        extra = ["population"] if population is not None else []
        w.writerow(["id", "label", "member"] + extra + [f"logit_{c}" for c in range(logits.shape[1])])
        for i in range(len(y)):
            flags = [int(member[i])] + ([int(population[i])] if population is not None else [])
            w.writerow([i, int(y[i])] + flags + [repr(float(v)) for v in logits[i]])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--csv", help="data CSV (default: a synthetic task)")
    p.add_argument("--label", default="label", help="the class column of --csv")
    p.add_argument("--out", required=True, type=pathlib.Path)
    p.add_argument("--shadows", type=int, default=16)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--population-share", type=float, default=0.1)
    p.add_argument("--format", choices=["csv", "npz"], default="csv")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    x, y = load(args.csv, args.label)
    n = len(y)
    rng = np.random.default_rng(args.seed)
    population = np.zeros(n, dtype=bool)
    population[rng.permutation(n)[: int(args.population_share * n)]] = True
    pool = np.flatnonzero(~population)
    args.out.mkdir(parents=True, exist_ok=True)
    for m in range(args.shadows + 1):
        half = rng.permutation(pool)[: len(pool) // 2]
        member = np.zeros(n, dtype=bool)
        member[half] = True
        model = train(x, y, half, seed=args.seed * 1000 + m, epochs=args.epochs)
        with torch.no_grad():
            logits = model(torch.from_numpy(x)).numpy()
        test = ~member & ~population
        accuracy = (logits[test].argmax(1) == y[test]).mean()
        name = "target" if m == 0 else f"shadow_{m}"
        write(args.out / f"{name}.{args.format}", logits, y, member, population if m == 0 else None)
        print(f"{name}: {len(half)} training rows, held-out accuracy {accuracy:.3f}")
    print(f"{n} examples ({population.sum()} population rows); files in {args.out}/")


if __name__ == "__main__":
    main()
