"""Formats bench/RESULTS.md from the JSON files bench/run collected
(WORK-rust-ROUND.json, WORK-torch-ROUND.json, peak.json).
Usage: python report.py RESULTS_DIR > RESULTS.md (stdlib only)."""
import json
import pathlib
import platform
import statistics
import sys

d = pathlib.Path(sys.argv[1])
peak = json.loads((d / "peak.json").read_text())
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
works = sorted({p.name.split("-rust-")[0] for p in d.glob("*-rust-*.json")})


def rounds(work, side):
    files = sorted(d.glob(f"{work}-{side}-*.json"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [json.loads(p.read_text()) for p in files]


print("# Benchmarks: reprolab vs PyTorch on this machine\n")
print(f"Machine: {cpu}, {peak['nominal_how']}.")
print(f"Nominal f32 peak {peak['nominal_gflops']:.0f} GFLOP/s; achievable peak (PyTorch 2048^3 sgemm) {peak['sgemm_gflops']:.0f} GFLOP/s.\n")
print("Both sides run the same training step with the same shapes and hyper-parameters in one `bench/run` invocation,")
print("alternating over rounds so both see the same machine conditions. A step is forward, backward, optimiser update")
print("and reading the loss back; each round reports the median step time after warm-up, and the table shows the")
print("median over rounds.\n")
print("A 'step' is one training step for mlp-step, and one whole 16-model epoch for shadow-epoch (16 separate models) and shadow-stack (the 16 models as one stacked model, as the membership experiment trains them), one training step of the drums Transformer for lm-step, and one TD3 cycle (two critic updates, one actor update, the Polyak update) for td3bc-step and td3rkl-step.\n")
print("| workload | implementation | median ms/step | steps/s | GFLOP/s | % of sgemm peak | speed vs PyTorch | per-round speed vs PyTorch |")
print("|---|---|---|---|---|---|---|---|")
for work in works:
    rust, torch = rounds(work, "rust"), rounds(work, "torch")
    per_round = [t["median_ms"] / r["median_ms"] for r, t in zip(rust, torch)]
    t_ms = statistics.median(t["median_ms"] for t in torch)
    for side, label in ((rust, ", ".join(f"{x:.2f}x" for x in per_round)), (torch, "")):
        ms = statistics.median(r["median_ms"] for r in side)
        gflops = side[0]["gflop_per_step"] / ms * 1e3
        print(f"| {side[0]['workload']} | {side[0]['implementation']} | {ms:.3f} | {1e3 / ms:.0f} | {gflops:.1f} | "
              f"{100 * gflops / peak['sgemm_gflops']:.0f}% | {t_ms / ms:.2f}x | {label} |")
print(f"\n{len(rust)} rounds. 'speed vs PyTorch' is PyTorch's median time divided by this row's (above 1: faster than PyTorch).")
print("FLOPs count the three matrix products per layer of a training step (6 x MACs x batch; for lm-step 6 x parameters x tokens plus the attention products); optimiser and activation work is not counted.")
