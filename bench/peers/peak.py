"""The machine's f32 FLOP/s peak, two ways: the nominal peak from the CPU's
clock and vector units (cores x GHz x FLOP/cycle), and the achievable
peak, a large PyTorch sgemm (the best matrix kernel on the machine).
Prints one JSON object."""
import json
import os
import re
import time

import torch


def nominal():
    info = open("/proc/cpuinfo").read()
    mhz = max(float(m) for m in re.findall(r"cpu MHz\s*:\s*([\d.]+)", info))
    flags = set(re.search(r"flags\s*:\s*(.*)", info).group(1).split())
    # two FMA pipes per core on current x86 (Zen 2-4, Skylake and later):
    # 2 pipes x lanes x 2 FLOP; Zen 4 runs AVX-512 at 256-bit width.
    lanes = 8 if "avx2" in flags and "fma" in flags else 4
    per_cycle = 2 * lanes * 2
    cores = os.cpu_count()
    return cores * mhz / 1e3 * per_cycle, f"{cores} cores x {mhz / 1e3:.2f} GHz x {per_cycle} f32 FLOP/cycle (2 FMA pipes x {lanes} lanes)"


def sgemm(n=2048, reps=10):
    torch.set_num_threads(os.cpu_count())
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e9


if __name__ == "__main__":
    peak, how = nominal()
    print(json.dumps({"nominal_gflops": peak, "nominal_how": how, "sgemm_gflops": sgemm()}))
