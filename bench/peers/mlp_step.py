"""PyTorch peer of bench/src/mlp_step.rs: one training step of a
64-256-256-10 MLP classifier (ReLU, cross-entropy, Adam lr 1e-3 eps 1e-8)
on a fixed batch of 256. Prints one JSON object like the Rust side.

Usage: python mlp_step.py [--steps N] [--warmup N] [--threads N]
"""
import argparse
import json
import os
import time

import torch
import torch.nn.functional as F

DIMS = [64, 256, 256, 10]
BATCH = 256


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(DIMS[0], DIMS[1]), torch.nn.ReLU(),
        torch.nn.Linear(DIMS[1], DIMS[2]), torch.nn.ReLU(),
        torch.nn.Linear(DIMS[2], DIMS[3]),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    x = torch.randn(BATCH, DIMS[0])
    y = torch.tensor([(i * 7 + 3) % 10 for i in range(BATCH)])

    times = []
    loss_value = 0.0
    for i in range(a.warmup + a.steps):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss_value = loss.item()
        if i >= a.warmup:
            times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    q = lambda p: times[round((len(times) - 1) * p)]
    macs = sum(DIMS[i] * DIMS[i + 1] for i in range(len(DIMS) - 1))
    flops = 6.0 * macs * BATCH
    print(json.dumps({
        "implementation": f"PyTorch {torch.__version__} (CPU, {a.threads} threads)",
        "workload": "mlp-step 64-256-256-10, Adam, batch 256",
        "steps": a.steps,
        "median_ms": q(0.5),
        "p10_ms": q(0.1),
        "p90_ms": q(0.9),
        "steps_per_s": 1e3 / q(0.5),
        "gflop_per_step": flops / 1e9,
        "gflops": flops / (q(0.5) * 1e6),
        "final_loss": loss_value,
    }))


if __name__ == "__main__":
    main()
