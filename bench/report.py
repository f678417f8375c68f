"""Formats bench/RESULTS.md from the JSON lines bench/run collected.
Usage: python report.py RESULTS_DIR > RESULTS.md (stdlib only)."""
import json
import pathlib
import platform
import sys

d = pathlib.Path(sys.argv[1])
peak = json.loads((d / "peak.json").read_text())
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print("# Benchmarks: reprolab vs PyTorch on this machine\n")
print(f"Machine: {cpu}, {peak['nominal_how']}.")
print(f"Nominal f32 peak {peak['nominal_gflops']:.0f} GFLOP/s; achievable peak (PyTorch 2048^3 sgemm) {peak['sgemm_gflops']:.0f} GFLOP/s.\n")
print("Both sides run the same training step with the same shapes and hyper-parameters, in one `bench/run` invocation;")
print("times are per step (forward, backward, optimiser update, loss read back), median over the timed steps after warm-up.\n")
print("| workload | implementation | median ms/step | p10-p90 ms | steps/s | GFLOP/s | % of sgemm peak | speed vs PyTorch |")
print("|---|---|---|---|---|---|---|---|")
for work in sorted(p.stem.removesuffix("-rust") for p in d.glob("*-rust.json")):
    rust = json.loads((d / f"{work}-rust.json").read_text())
    torch = json.loads((d / f"{work}-torch.json").read_text())
    for r in (rust, torch):
        ratio = torch["median_ms"] / r["median_ms"]
        print(f"| {r['workload']} | {r['implementation']} | {r['median_ms']:.3f} | {r['p10_ms']:.3f}-{r['p90_ms']:.3f} | "
              f"{r['steps_per_s']:.0f} | {r['gflops']:.1f} | {100 * r['gflops'] / peak['sgemm_gflops']:.0f}% | {ratio:.2f}x |")
print("\n'speed vs PyTorch' is PyTorch's median time divided by this row's (above 1: faster than PyTorch).")
print("FLOPs count the three matrix products per layer of a training step (6 x MACs x batch); optimiser and activation work is not counted.")
