"""``benchmarks/gpu_check.sh`` runs (here on the CPU, tiny preset), so it works when a GPU machine is lent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_prints_every_row_on_a_cpu() -> None:
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--device", "cpu", "--preset", "tiny",
                           "--batch", "2", "--repeats", "1",
                           "--trainer-batch", "2", "--trainer-steps", "2"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    for row in ("DDIM-50 fp32 (default)", "DPM-Solver++(2M)-20 fp32", "SDE-DPM-Solver++(2M)-20 fp32", "UniPC-10 fp32",
                "fp32, loading in the training process", "fp32, 4 data workers",
                "plain backward (EDGE weights)",
                "linear (mtlkit)", "nash, parameter space (gramian)", "nash, representation space"):
        line = next(ln for ln in out.splitlines() if ln.startswith(row))
        value = float(re.findall(r"([0-9.]+) (?:s/clip|ms/step)", line)[0])
        assert value > 0, line
