"""Fixtures shared by tests/mtlkit and tests/dancegen: the two wheels that ``make dist`` builds.

``built_wheels`` builds them once per test process, with the Makefile's command (``pip wheel --no-deps
--no-build-isolation``, both projects in one call), from a copy of the sources in the repository's layout, so that
no ``build/`` or ``*.egg-info`` folder is written into the checkout and no stale build output can get in. The
tests that use it share the xdist group ``"wheel"``, so under ``pytest -n 2 --dist loadgroup`` one worker builds
the wheels once for all of them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MTLKIT_PROJECT = Path("packaging") / "mtlkit"  # the mtlkit distribution's project folder, relative to ROOT
#: What the gcdance project (the root pyproject.toml) builds from, besides the dancegen/ package.
GCDANCE_FILES = ("pyproject.toml", "README.md", "LICENSE")


@dataclass(frozen=True)
class Wheels:
    """The built wheels: ``mtlkit-*.whl`` (mtlkit/ only) and ``gcdance-*.whl`` (dancegen/ only), and ``src``, the
    copy of the sources they were built from (the repository's layout; compare with it, not with the checkout,
    which may change while the tests run)."""

    mtlkit: Path
    gcdance: Path
    src: Path


def _ignore_outputs(folder: str, names: list[str]) -> set[str]:
    """Build outputs and byte code are not copied (``__pycache__`` is planted again below, on purpose)."""
    return {n for n in names if n in {"build", "__pycache__", ".pytest_cache"} or n.endswith((".egg-info", ".pyc"))}


def build_wheels(dest: Path) -> Wheels:
    """Build both wheels into ``dest / "wheels"`` from a copy of the sources under ``dest / "src"``."""
    src = dest / "src"
    shutil.copytree(ROOT / MTLKIT_PROJECT, src / MTLKIT_PROJECT, ignore=_ignore_outputs)  # LICENSE symlink → file
    shutil.copytree(ROOT / "mtlkit", src / "mtlkit", ignore=_ignore_outputs)
    shutil.copytree(ROOT / "dancegen", src / "dancegen", ignore=_ignore_outputs)
    for name in GCDANCE_FILES:
        shutil.copy2(ROOT / name, src / name)
    # A checkout that has run anything holds byte code: plant some, so the wheel tests show it stays out.
    for package in ("mtlkit", "dancegen"):
        (src / package / "__pycache__").mkdir()
        (src / package / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\x00" * 16)
    out = dest / "wheels"
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out),
           str(src / MTLKIT_PROJECT), str(src)]
    proc = subprocess.run(cmd, cwd=dest, env=env, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        pytest.fail(f"building the wheels failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                    f"{(proc.stdout + proc.stderr)[-4000:]}", pytrace=False)
    found = {name: sorted(out.glob(f"{name}-*.whl")) for name in ("mtlkit", "gcdance")}
    assert all(len(w) == 1 for w in found.values()), f"expected one wheel of each in {out}: {found}"
    return Wheels(mtlkit=found["mtlkit"][0], gcdance=found["gcdance"][0], src=src)


@pytest.fixture(scope="session")
def built_wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    """Both wheels of ``make dist``, built once per test process."""
    return build_wheels(tmp_path_factory.mktemp("dist"))
