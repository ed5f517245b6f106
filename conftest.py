"""Test-session set-up shared by every test directory.

librosa's numba kernels (``cache=True``) crashed with a segmentation fault when first compiled inside a test
process on a fresh environment. The controlling pytest process therefore compiles them once, in a clean
subprocess, into one cache folder that every worker and CLI subprocess then only reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / f"dancegen-numba-cache-{os.getuid()}"))


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # workers find the cache already filled by the controller
    Path(os.environ["NUMBA_CACHE_DIR"]).mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "warm_numba_cache.py")],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"numba cache warm-up failed (rc {proc.returncode}): {proc.stderr[-500:]}", file=sys.stderr)
