"""PyTorch peer of bench/src/dc_outer.rs: one outer step of dataset
condensation (gradient matching) on the digits with the spec's laptop
ConvNet (conv 3x3 16 ch, ReLU, avgpool 2, FC 64, ReLU, FC 10), 10 synthetic
images per class, the official code's matching distance (per output row
1 - cos, conv kernels reshaped, biases ignored) and its second-order term
by create_graph=True (double backward); SGD on the images (lr 0.1,
momentum 0.5), then 10 inner SGD steps (lr 0.01) on the synthetic set.
The digits come from scikit-learn when it is installed, else random values
of the same shape (timing does not depend on the values).
Prints one JSON object.

Usage: python dc_outer.py [--steps N] [--warmup N] [--threads N]
"""
import argparse
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def digits():
    try:
        from sklearn.datasets import load_digits
        d = load_digits()
        x = torch.tensor(d.data, dtype=torch.float32) / 16.0
        y = torch.tensor(d.target)
    except ImportError:
        x, y = torch.rand(1797, 64), torch.arange(1797) % 10
    x = (x - x.mean()) / x.std()
    n = int(len(y) * 0.75)
    return x[:n].view(-1, 1, 8, 8), y[:n]


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(256, 64), nn.Linear(64, 10)

    def forward(self, x):
        h = F.avg_pool2d(F.relu(self.conv(x)), 2).flatten(1)
        return self.fc2(F.relu(self.fc1(h)))


def distance(gr, gs):
    if gr.dim() == 1:
        return torch.tensor(0.0)
    gr, gs = gr.reshape(gr.shape[0], -1), gs.reshape(gs.shape[0], -1)
    return torch.sum(1 - torch.sum(gr * gs, -1) / (gr.norm(dim=-1) * gs.norm(dim=-1) + 1e-6))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x, y = digits()
    real = [x[y == c] for c in range(10)]
    syn = torch.randn(100, 1, 8, 8, requires_grad=True)
    lab = torch.arange(10).repeat_interleave(10)
    opt_img = torch.optim.SGD([syn], lr=0.1, momentum=0.5)
    net = ConvNet()
    params = list(net.parameters())
    times = []
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        loss = torch.tensor(0.0)
        for c in range(10):
            lr_ = torch.full((len(real[c]),), c)
            gw_real = [g.detach() for g in torch.autograd.grad(F.cross_entropy(net(real[c]), lr_), params)]
            s = syn[c * 10:(c + 1) * 10]
            gw_syn = torch.autograd.grad(F.cross_entropy(net(s), lab[c * 10:(c + 1) * 10]), params, create_graph=True)
            loss = loss + sum(distance(a, b) for a, b in zip(gw_real, gw_syn))
        opt_img.zero_grad()
        loss.backward()
        opt_img.step()
        opt_net = torch.optim.SGD(net.parameters(), lr=0.01)
        data = syn.detach()
        for _ in range(10):
            perm = torch.randperm(100)
            opt_net.zero_grad()
            F.cross_entropy(net(data[perm]), lab[perm]).backward()
            opt_net.step()
        loss.item()
        if step >= args.warmup:
            times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    q = lambda f: times[round((len(times) - 1) * f)]
    macs = 64 * 16 * 9 + 256 * 64 + 64 * 10
    flops = 6.0 * macs * (sum(len(r) for r in real) + 3 * 100 + 10 * 100)
    print(json.dumps({
        "implementation": f"PyTorch {torch.__version__} (CPU, {args.threads} threads)",
        "workload": "dc-outer: one DC outer step, digits, 10 ipc, ConvNet 16c-64-10 (matching + image update + 10 inner steps)",
        "steps": len(times), "median_ms": q(0.5), "p10_ms": q(0.1), "p90_ms": q(0.9),
        "steps_per_s": 1e3 / q(0.5), "gflop_per_step": flops / 1e9, "gflops": flops / (q(0.5) * 1e6),
    }))


if __name__ == "__main__":
    main()
