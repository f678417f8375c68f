"""PyTorch definitions of the models reprolab trains, whose state dicts are
what `reprolab export --format pytorch` writes: the benchmark peers
(bench/peers/) and the export test build their models from here.

Each class's constructor arguments are stored in the exported file's
metadata (`pytorch.config`), so `build(metadata)` makes the module a file
loads into with `load_state_dict(strict=True)`:

    from safetensors import safe_open
    from safetensors.torch import load_file
    import reprolab_torch

    with safe_open("actor.safetensors", "pt") as f:
        meta = f.metadata()
    model = reprolab_torch.build(meta)
    model.load_state_dict(load_file("actor.safetensors"), strict=True)

Layouts: Linear weights are [out, in] (burn keeps [in, out]; the export
transposes them), LayerNorm's are weight/bias (burn's gamma/beta),
Embedding weights [num, dim] in both.
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp(dims):
    """Linear layers of `dims` ([in, hidden..., out]) with ReLU between:
    reprolab's `nn::Mlp`, named as an nn.Sequential (0, 2, 4, ...), like
    CORL's TD3+BC networks."""
    layers = []
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """offline-rl's policy (`reprolab offline-rl train`) with what acting
    needs besides the network: raw observation in, action in the
    environment's units out,

        a = action_scale * tanh(mu),  mu = first act_dim outputs of net((obs - obs_mean) / obs_std)

    (a stochastic actor's other act_dim outputs are the log-stds of its
    tanh-Gaussian, clamped to [-5, 2]; acting uses the mean)."""

    LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0

    def __init__(self, obs_dim, act_dim, hidden, stochastic):
        super().__init__()
        self.act_dim, self.stochastic = act_dim, stochastic
        self.net = mlp([obs_dim, *hidden, 2 * act_dim if stochastic else act_dim])
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.register_buffer("action_scale", torch.ones(act_dim))

    def heads(self, obs):
        """Pre-squash mean and clamped log-std (None for a deterministic actor)."""
        out = self.net((obs - self.obs_mean) / self.obs_std)
        if not self.stochastic:
            return out, None
        mu, log_std = out.split(self.act_dim, 1)
        return mu, log_std.clamp(self.LOG_STD_MIN, self.LOG_STD_MAX)

    def forward(self, obs):
        return self.action_scale * torch.tanh(self.heads(obs)[0])


class Attention(nn.Module):
    """reprolab's `nn::Attention`: multi-head scaled dot-product attention
    with separate query/key/value/output projections."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.query, self.key, self.value, self.output = (nn.Linear(d_model, d_model) for _ in range(4))

    def forward(self, x, mask):
        b, t, d = x.shape
        heads = lambda z: z.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)
        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        scores = (q @ k.transpose(2, 3)) / (d // self.n_heads) ** 0.5
        scores = scores.masked_fill(mask, float("-inf"))
        return self.output((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d))


class GeluMlp(nn.Module):
    """The block's MLP, `layers` as burn names them (exact GELU between)."""

    def __init__(self, d_model, hidden):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(d_model, hidden), nn.Linear(hidden, d_model)])

    def forward(self, x):
        return self.layers[1](F.gelu(self.layers[0](x)))


class Block(nn.Module):
    """reprolab's `nn::EncoderBlock`: pre-norm, x + attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, d_model, n_heads, mlp_ratio=4):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model, eps=1e-6)
        self.attention = Attention(d_model, n_heads)
        self.norm2 = nn.LayerNorm(d_model, eps=1e-6)
        self.mlp = GeluMlp(d_model, mlp_ratio * d_model)

    def forward(self, x, mask):
        x = x + self.attention(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class Lm(nn.Module):
    """drums' groove language model (`reprolab drums train`): GPT-2 layout,
    token + learned position embeddings, causal pre-norm blocks, a final
    LayerNorm and a linear head. `forward(ids [b, t])` -> logits [b, t, vocab]."""

    def __init__(self, vocab, d_model, n_heads, n_layers, context):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(vocab, d_model), nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads) for _ in range(n_layers))
        self.norm, self.head = nn.LayerNorm(d_model), nn.Linear(d_model, vocab)

    def forward(self, ids):
        t = ids.shape[1]
        x = self.tokens(ids) + self.positions(torch.arange(t, device=ids.device))
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool, device=ids.device), 1)
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.norm(x))


CLASSES = {"Actor": Actor, "Lm": Lm}


def build(metadata):
    """The module an exported file's metadata names, with its arguments."""
    name = metadata["pytorch.module"].rsplit(":", 1)[-1]
    if name not in CLASSES:
        raise ValueError(f"unknown module {metadata['pytorch.module']!r} (known: {', '.join(CLASSES)})")
    return CLASSES[name](**json.loads(metadata["pytorch.config"]))
