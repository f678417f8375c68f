"""PyTorch peer of bench/src/shadow_epoch.rs: 16 shadow MLPs
(64-256-256-10, Adam lr 1e-3 eps 1e-8), one epoch each on a random half of
a 1,797 x 64 pool, batch 128. Fresh model and optimiser per shadow, the
loss read back every step, as on the Rust side. Prints one JSON object.

Usage: python shadow_epoch.py [--steps REPS] [--warmup REPS] [--threads N]
"""
import argparse
import json
import os
import time

import torch
import torch.nn.functional as F

DIMS = [64, 256, 256, 10]
POOL, MODELS, BATCH = 1797, 16, 128


def mlp():
    return torch.nn.Sequential(
        torch.nn.Linear(DIMS[0], DIMS[1]), torch.nn.ReLU(),
        torch.nn.Linear(DIMS[1], DIMS[2]), torch.nn.ReLU(),
        torch.nn.Linear(DIMS[2], DIMS[3]),
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.randn(POOL, DIMS[0])
    y = torch.tensor([(i * 7 + 3) % 10 for i in range(POOL)])
    times, steps = [], 0
    for rep in range(a.warmup + max(a.steps, 1)):
        start = time.perf_counter()
        steps = 0
        for _ in range(MODELS):
            model = mlp()
            opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
            order = torch.randperm(POOL)[: POOL // 2]
            for b in range(0, len(order), BATCH):
                idx = order[b:b + BATCH]
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
                loss.item()
                steps += 1
        if rep >= a.warmup:
            times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    q = lambda f: times[round((len(times) - 1) * f)]
    macs = sum(DIMS[i] * DIMS[i + 1] for i in range(len(DIMS) - 1))
    flops = 6.0 * macs * MODELS * (POOL // 2)
    print(json.dumps({
        "implementation": f"PyTorch {torch.__version__} (CPU, {a.threads} threads)",
        "workload": f"shadow-epoch: {MODELS} MLPs 64-256-256-10, 1 epoch on {POOL // 2} rows each, batch {BATCH}",
        "steps": len(times), "median_ms": q(0.5), "p10_ms": q(0.1), "p90_ms": q(0.9),
        "steps_per_s": 1e3 / q(0.5), "optimizer_steps": steps,
        "gflop_per_step": flops / 1e9, "gflops": flops / (q(0.5) * 1e6),
    }))


if __name__ == "__main__":
    main()
