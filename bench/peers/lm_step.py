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
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, PAD, D, HEADS, LAYERS, T, BATCH = 323, 322, 64, 4, 2, 256, 16


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(D, eps=1e-6)
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))
        self.norm2 = nn.LayerNorm(D, eps=1e-6)
        self.fc1, self.fc2 = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

    def forward(self, x, mask):
        b, t, _ = x.shape
        h = self.norm1(x)
        heads = lambda z: z.view(b, t, HEADS, D // HEADS).transpose(1, 2)
        q, k, v = heads(self.q(h)), heads(self.k(h)), heads(self.v(h))
        scores = (q @ k.transpose(2, 3)) / (D // HEADS) ** 0.5
        scores = scores.masked_fill(mask, -1e9)
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, D)
        x = x + self.o(ctx)
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Lm(nn.Module):
    def __init__(self):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(VOCAB, D), nn.Embedding(T, D)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.norm, self.head = nn.LayerNorm(D), nn.Linear(D, VOCAB)

    def forward(self, ids):
        b, t = ids.shape
        x = self.tokens(ids) + self.positions(torch.arange(t))
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.norm(x))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Lm()
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
