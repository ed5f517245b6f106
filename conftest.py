"""Test-session set-up shared by every test directory.

librosa's numba kernels are compiled with ``cache=True``. On a fresh environment two pytest-xdist workers (or a
worker and a CLI subprocess) can write the same numba cache entry at once and one of them may then load a
half-written file and crash with a segmentation fault. Each worker therefore gets its own numba cache folder;
subprocesses started by a test inherit it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_cache = Path(tempfile.gettempdir()) / f"dancegen-numba-cache-{os.getuid()}-{_worker}"
_cache.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("NUMBA_CACHE_DIR", str(_cache))
