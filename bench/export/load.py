"""Loads a file written by `reprolab export --format pytorch` into its
PyTorch module (reprolab_torch.py, beside this file) with
`load_state_dict(strict=True)`, runs it on inputs and prints one JSON
object: {"module", "metadata", "outputs"}.

Usage: python bench/export/load.py FILE.safetensors [--inputs FILE.json]

The inputs file holds {"obs": [[...], ...]} for an Actor (raw observations)
or {"tokens": [[...], ...]} for an Lm (token ids); without it, fixed inputs
are made from the module's sizes (obs[i][j] = sin(0.37 (i * obs_dim + j)) * 2,
tokens[i][j] = (7 i + 3 j) mod vocab, 2 rows) and printed too.
"""
import argparse
import json
import math
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reprolab_torch  # noqa: E402


def fixed_inputs(model, config):
    if isinstance(model, reprolab_torch.Actor):
        d = config["obs_dim"]
        return {"obs": [[math.sin(0.37 * (i * d + j)) * 2 for j in range(d)] for i in range(2)]}
    t = min(8, config["context"])
    return {"tokens": [[(7 * i + 3 * j) % config["vocab"] for j in range(t)] for i in range(2)]}


def run(model, inputs):
    with torch.no_grad():
        if "obs" in inputs:
            return model(torch.tensor(inputs["obs"], dtype=torch.float32)).tolist()
        return model(torch.tensor(inputs["tokens"], dtype=torch.long)).tolist()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("file")
    p.add_argument("--inputs", help="JSON file of inputs (default: fixed ones)")
    a = p.parse_args()
    with safe_open(a.file, "pt") as f:
        metadata = f.metadata()
    model = reprolab_torch.build(metadata)
    model.load_state_dict(load_file(a.file), strict=True)
    model.eval()
    config = json.loads(metadata["pytorch.config"])
    if a.inputs:
        with open(a.inputs) as f:
            inputs = json.load(f)
    else:
        inputs = fixed_inputs(model, config)
    out = {"module": metadata["pytorch.module"], "metadata": metadata, "outputs": run(model, inputs)}
    if not a.inputs:
        out["inputs"] = inputs
    print(json.dumps(out))


if __name__ == "__main__":
    main()
