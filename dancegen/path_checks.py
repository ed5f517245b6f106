"""Up-front checks of the files and folders a command reads or writes, each failing with one line.

Outputs are checked by really creating (then removing) a probe file in the output folder, or in the nearest existing
folder above it, so a folder under ``/proc``, on a read-only disk or below a file fails before any work is done, and
the check leaves nothing behind (it creates no folder, so concurrent checks, e.g. torchrun's ranks, cannot race).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import DancegenError, DataError


def check_input_file(path: str | Path, what: str) -> Path:
    """``path`` (``~`` expanded) if it is an existing file; else a :class:`DataError` saying what it is instead."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise DataError(f"{what} {p} is a folder, not a file")
    if not p.is_file():
        raise DataError(f"{what} not found: {p}")
    return p


def check_input_dir(path: str | Path, what: str) -> Path:
    """``path`` (``~`` expanded) if it is an existing folder; else a :class:`DataError` saying what it is instead."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise DataError(f"{what} {p} is a file, not a folder")
    if not p.is_dir():
        raise DataError(f"{what} not found: {p}")
    return p


def _folder_problem(folder: Path) -> str | None:
    """Why files cannot be written in ``folder`` (or, when it does not exist yet, in the nearest folder above it,
    where it would be created), or None. The probe file is removed; no folder is created."""
    if folder.exists() and not folder.is_dir():
        return "it is a file, not a folder"
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, so no folder can be created under it"
    try:
        fd, probe = tempfile.mkstemp(prefix=".dancegen-probe-", dir=existing)
    except OSError as exc:
        where = "there" if existing == folder else f"in {existing}"
        return f"cannot write files {where} ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(probe)
    return None


def check_output_dir(path: str | Path, what: str = "--out") -> Path:
    """``path`` (``~`` expanded) if files can be written in it (it may not exist yet; the check leaves nothing
    behind); else one :class:`DancegenError` line naming ``what``."""
    p = Path(path).expanduser()
    problem = _folder_problem(p)
    if problem:
        raise DancegenError(f"{what} {p}: {problem}; choose a writable folder")
    return p


def check_output_file(path: str | Path, what: str = "--out") -> Path:
    """``path`` (``~`` expanded) if it can be written as a file: not a folder, its folder writable."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise DancegenError(f"{what} {p} is a folder; give a file name, e.g. {p / 'report.json'}")
    problem = _folder_problem(p.parent)
    if problem:
        raise DancegenError(f"{what} {p}: its folder {p.parent}: {problem}; choose a writable folder")
    return p
