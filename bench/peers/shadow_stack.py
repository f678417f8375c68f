"""PyTorch peer of bench/src/shadow_stack.rs: 16 shadow MLPs
(64-256-256-10, Adam lr 1e-3 eps 1e-8) stacked into [16, in, out] weight
tensors, one epoch on a random half each of a 1,797 x 64 pool, batch 128 per
model; every step runs one baddbmm per layer over all models and sums the
models' mean losses. The loss is read back every step, as on the Rust side.
Prints one JSON object.

Usage: python shadow_stack.py [--steps REPS] [--warmup REPS] [--threads N]
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F

DIMS = [64, 256, 256, 10]
POOL, MODELS, BATCH = 1797, 16, 128


def stacked_params():
    params = []
    for i, o in zip(DIMS[:-1], DIMS[1:]):
        bound = 1.0 / math.sqrt(i)
        w = torch.empty(MODELS, i, o).uniform_(-bound, bound).requires_grad_()
        b = torch.empty(MODELS, 1, o).uniform_(-bound, bound).requires_grad_()
        params += [w, b]
    return params


def forward(params, x):
    n = len(params) // 2
    for layer in range(n):
        x = torch.baddbmm(params[2 * layer + 1], x, params[2 * layer])
        if layer < n - 1:
            x = torch.relu(x)
    return x


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
        params = stacked_params()
        opt = torch.optim.Adam(params, lr=1e-3, eps=1e-8)
        halves = torch.stack([torch.randperm(POOL)[: POOL // 2] for _ in range(MODELS)])
        steps = 0
        for s in range(0, POOL // 2, BATCH):
            idx = halves[:, s:s + BATCH]
            opt.zero_grad(set_to_none=True)
            logits = forward(params, x[idx])
            loss = F.cross_entropy(logits.reshape(-1, DIMS[-1]), y[idx].reshape(-1)) * MODELS
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
        "workload": f"shadow-stack: {MODELS} MLPs 64-256-256-10 as one stack, 1 epoch on {POOL // 2} rows each, batch {BATCH}",
        "steps": len(times), "median_ms": q(0.5), "p10_ms": q(0.1), "p90_ms": q(0.9),
        "steps_per_s": 1e3 / q(0.5), "optimizer_steps": steps,
        "gflop_per_step": flops / 1e9, "gflops": flops / (q(0.5) * 1e6),
    }))


if __name__ == "__main__":
    main()
