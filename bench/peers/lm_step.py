"""PyTorch peer of bench/src/lm_step.rs: one training step of the groove
language model (decoder-only Transformer, 2 pre-norm layers, d_model 64,
4 heads, GELU MLP 4x, vocabulary 323, learned positions, causal attention,
final LayerNorm, linear head) on 16 sequences of 256 tokens, Adam lr 1e-3
eps 1e-8, cross-entropy ignoring the pad id, loss read back every step.
Prints one JSON object.

Usage: python lm_step.py [--steps N] [--warmup N] [--threads N]
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

# The model is the one `reprolab export` writes for drums (bench/export/).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "export"))
from reprolab_torch import Lm  # noqa: E402

VOCAB, PAD, D, HEADS, LAYERS, T, BATCH = 323, 322, 64, 4, 2, 256, 16


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Lm(VOCAB, D, HEADS, LAYERS, T)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    seqs = torch.randint(256, 322, (BATCH, T + 1))
    times = []
    for step in range(a.warmup + a.steps):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model(seqs[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), seqs[:, 1:].reshape(-1), ignore_index=PAD)
        loss.backward()
        opt.step()
        loss.item()
        if step >= a.warmup:
            times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    q = lambda f: times[round((len(times) - 1) * f)]
    params = sum(x.numel() for x in model.parameters())
    flops = (6.0 * params * T + 2 * 2 * 3 * T * T * D * LAYERS) * BATCH
    print(json.dumps({
        "implementation": f"PyTorch {torch.__version__} (CPU, {a.threads} threads)",
        "workload": f"lm-step: groove Transformer 2x64, 4 heads, batch {BATCH} x {T} tokens, Adam",
        "steps": len(times), "median_ms": q(0.5), "p10_ms": q(0.1), "p90_ms": q(0.9),
        "steps_per_s": 1e3 / q(0.5), "parameters": params,
        "gflop_per_step": flops / 1e9, "gflops": flops / (q(0.5) * 1e6),
    }))


if __name__ == "__main__":
    main()
