"""PyTorch peer of bench/src/td3.rs, shared by td3bc_step.py and
td3rkl_step.py: one TD3 cycle (two critic updates, one actor update, one
Polyak update of both targets) at CORL's settings: obs 17, act 6, 256-256
MLPs, batch 256, Adam 3e-4 (eps 1e-8), gamma 0.99, tau 0.005, policy noise
0.2 clipped 0.5, alpha 2.5. TD3+BC follows CORL's td3_bc.py; TD3+RKL adds a
tanh-Gaussian actor, a K = 5 mixture density network (no gradient to its
weights) and the per-state weight (1/coverage)/mean.
"""
import argparse
import copy
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The networks are those `reprolab export` writes for offline-rl (bench/export/).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "export"))
import reprolab_torch  # noqa: E402

OBS, ACT, HIDDEN, BATCH, K = 17, 6, 256, 256, 5


def mlp(i, o):
    return reprolab_torch.mlp([i, HIDDEN, HIDDEN, o])


class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.q1, self.q2 = mlp(OBS + ACT, 1), mlp(OBS + ACT, 1)

    def forward(self, s, a):
        x = torch.cat([s, a], 1)
        return self.q1(x), self.q2(x)


def squash(out):
    mu, log_std = out.chunk(2, 1)
    log_std = log_std.clamp(-5.0, 2.0)
    eps = torch.randn_like(mu)
    u = mu + log_std.exp() * eps
    a = torch.tanh(u)
    logp = (-0.5 * eps.pow(2) - log_std).sum(1, keepdim=True) - ACT * 0.5 * math.log(2 * math.pi)
    logp = logp - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(1, keepdim=True)
    return a, logp


def mixture_terms(mdn, s):
    with torch.no_grad():
        out = mdn(s)
        logw = F.log_softmax(out[:, :K], 1)
        means = out[:, K:K + K * ACT].reshape(-1, K, ACT)
        log_stds = out[:, K + K * ACT:].reshape(-1, K, ACT).clamp(-5.0, 1.0)
        cov = (F.softmax(logw, 1).unsqueeze(2) * log_stds.exp()).mean(2).sum(1, keepdim=True)
        inv = 1.0 / cov
        w = inv / inv.mean()
    return logw, means, log_stds, w


def mixture_log_density(logw, means, log_stds, a):
    z = (a.unsqueeze(1) - means) / log_stds.exp()
    per = (-0.5 * z.pow(2) - log_stds).sum(2) - ACT * 0.5 * math.log(2 * math.pi) + logw
    return torch.logsumexp(per, 1, keepdim=True)


def main(rkl, name):
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    actor = mlp(OBS, 2 * ACT if rkl else ACT)
    critic = Critic()
    actor_t, critic_t = copy.deepcopy(actor), copy.deepcopy(critic)
    mdn = mlp(OBS, K * (1 + 2 * ACT)).requires_grad_(False)
    aopt = torch.optim.Adam(actor.parameters(), lr=3e-4, eps=1e-8)
    copt = torch.optim.Adam(critic.parameters(), lr=3e-4, eps=1e-8)
    s, s2 = torch.randn(BATCH, OBS), torch.randn(BATCH, OBS)
    act = torch.tanh(torch.randn(BATCH, ACT))
    r, not_done = torch.randn(BATCH, 1), torch.ones(BATCH, 1)

    def mean_action(net, x):
        out = net(x)
        return torch.tanh(out[:, :ACT] if rkl else out)

    def update(train_actor):
        with torch.no_grad():
            noise = (torch.randn_like(act) * 0.2).clamp(-0.5, 0.5)
            a2 = (mean_action(actor_t, s2) + noise).clamp(-1.0, 1.0)
            t1, t2 = critic_t(s2, a2)
            target = r + not_done * 0.99 * torch.min(t1, t2)
        q1, q2 = critic(s, act)
        closs = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        copt.zero_grad(set_to_none=True)
        closs.backward()
        copt.step()
        if not train_actor:
            return None
        if rkl:
            logw, means, log_stds, w = mixture_terms(mdn, s)
            pi, logp = squash(actor(s))
            q = critic.q1(torch.cat([s, pi], 1))
            lmbda = 2.5 / q.abs().mean().detach()
            kl = logp - mixture_log_density(logw, means, log_stds, pi)
            aloss = -lmbda * q.mean() + (w * kl).mean()
        else:
            pi = mean_action(actor, s)
            q = critic.q1(torch.cat([s, pi], 1))
            lmbda = 2.5 / q.abs().mean().detach()
            aloss = -lmbda * q.mean() + F.mse_loss(pi, act)
        aopt.zero_grad(set_to_none=True)
        aloss.backward()
        aopt.step()
        with torch.no_grad():
            for net, tgt in ((critic, critic_t), (actor, actor_t)):
                for p_, tp in zip(net.parameters(), tgt.parameters()):
                    tp.mul_(0.995).add_(0.005 * p_)
        return aloss

    times, last = [], 0.0
    for i in range(a.warmup + a.steps):
        start = time.perf_counter()
        update(False)
        last = update(True).item()
        if i >= a.warmup:
            times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    qt = lambda p_: times[round((len(times) - 1) * p_)]

    def macs(i, o):
        return i * HIDDEN + HIDDEN * HIDDEN + HIDDEN * o

    qm, am, mm = macs(OBS + ACT, 1), macs(OBS, 2 * ACT if rkl else ACT), macs(OBS, K * (1 + 2 * ACT))
    critic_update = am + 2 * qm + 6 * qm
    actor_update = 3 * am + 3 * qm + (mm if rkl else 0)
    flops = 2.0 * BATCH * (2 * critic_update + actor_update)
    print(json.dumps({
        "implementation": f"PyTorch {torch.__version__} (CPU, {a.threads} threads)",
        "workload": f"{name} TD3 cycle (2 critic + 1 actor update), obs 17, act 6, 256-256, batch 256",
        "steps": a.steps,
        "median_ms": qt(0.5),
        "p10_ms": qt(0.1),
        "p90_ms": qt(0.9),
        "steps_per_s": 1e3 / qt(0.5),
        "gflop_per_step": flops / 1e9,
        "gflops": flops / (qt(0.5) * 1e6),
        "final_actor_loss": last,
    }))
