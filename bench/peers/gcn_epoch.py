"""PyTorch peer of bench/src/gcn_epoch.rs: one full-batch epoch of a
2-layer GCN (18 -> 16 -> 2, dropout 0.5, Adam lr 1e-2 eps 1e-8) on a random
graph of 18,876 nodes and 311,870 undirected edges, with the normalised
adjacency D^-1/2 (A + I) D^-1/2 as a sparse CSR matrix (torch.sparse.mm);
loss on half of the nodes, read back every step. Prints one JSON object.

Usage: python gcn_epoch.py [--steps N] [--warmup N] [--threads N]
"""
import argparse
import json
import os
import time
import warnings

import torch
import torch.nn.functional as F

NODES, EDGES, FEATURES = 18_876, 311_870, 18


def adjacency():
    g = torch.Generator().manual_seed(0)
    pairs = set()
    while len(pairs) < EDGES:
        a = torch.randint(0, NODES, (EDGES,), generator=g).tolist()
        b = torch.randint(0, NODES, (EDGES,), generator=g).tolist()
        for x, y in zip(a, b):
            if x != y and len(pairs) < EDGES:
                pairs.add((min(x, y), max(x, y)))
    src = [p[0] for p in pairs] + [p[1] for p in pairs] + list(range(NODES))
    dst = [p[1] for p in pairs] + [p[0] for p in pairs] + list(range(NODES))
    src, dst = torch.tensor(src), torch.tensor(dst)
    deg = torch.bincount(src, minlength=NODES).float()
    w = (deg[src] * deg[dst]).rsqrt()
    return torch.sparse_coo_tensor(torch.stack([dst, src]), w, (NODES, NODES)).coalesce().to_sparse_csr()


class Gcn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = torch.nn.Linear(FEATURES, 16), torch.nn.Linear(16, 2)

    def forward(self, x, a):
        h = F.dropout(F.relu(torch.sparse.mm(a, self.l1(x))), 0.5, self.training)
        return torch.sparse.mm(a, self.l2(h))


def main():
    warnings.filterwarnings("ignore", category=UserWarning)
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    a = adjacency()
    x = torch.randn(NODES, FEATURES)
    y = torch.tensor([int(i % 3 == 0) for i in range(NODES)])
    train = torch.arange(0, NODES, 2)
    model = Gcn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, eps=1e-8)
    times = []
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x, a)[train], y[train])
        loss.backward()
        opt.step()
        loss.item()
        if step >= args.warmup:
            times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    q = lambda f: times[round((len(times) - 1) * f)]
    nnz = 2 * EDGES + NODES
    flops = 6.0 * NODES * (FEATURES * 16 + 16 * 2) + 3 * 2.0 * nnz * (16 + 2)
    print(json.dumps({
        "implementation": f"PyTorch {torch.__version__} (CPU, {args.threads} threads)",
        "workload": f"gcn-epoch: GCN 18-16-2 full batch on {NODES} nodes, {EDGES} edges (bail's size), Adam",
        "steps": len(times), "median_ms": q(0.5), "p10_ms": q(0.1), "p90_ms": q(0.9),
        "steps_per_s": 1e3 / q(0.5), "edges": EDGES,
        "gflop_per_step": flops / 1e9, "gflops": flops / (q(0.5) * 1e6),
    }))


if __name__ == "__main__":
    main()
