"""A training run folder (``dancegen train --out``): what training writes there, its lock, and the clean-up after
a run that was killed.

- The folder is locked for the run (:mod:`dancegen.locking`; under torchrun by rank 0 only).
- Taking the lock removes what a killed run left half-done: ``checkpoints/.step_*`` folders of a checkpoint
  that was being written and the temporary files of ``latest`` / ``metrics.jsonl`` writes.
- A folder without any checkpoint (a run killed before its first one) is started afresh without ``--resume``:
  its metrics and TensorBoard logs are deleted with a one-line notice. Files training does not write are never
  deleted; such a folder is refused.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..checkpoint.files import CHECKPOINTS, LATEST, STEP_DIR
from ..locking import output_lock

_RUN_ENTRY = re.compile(rf"^(?:{CHECKPOINTS}|{LATEST}|metrics\.jsonl|tensorboard|replica_hash_rank\d+\.txt)$")
_TEMP_FILE = re.compile(rf"^\.(?:{LATEST}\.\w+(?:\.tmp)?|metrics\.jsonl\.tmp)$")  # killed writes of these two
_TEMP_STEP = re.compile(r"^\.step_\d+\..+$")  # a checkpoint being assembled (save_checkpoint)


def has_checkpoint(out: Path) -> bool:
    """True when ``out`` has a ``latest`` pointer or a finished ``checkpoints/step_*`` folder."""
    root = out / CHECKPOINTS
    return (out / LATEST).is_file() or (root.is_dir() and any(STEP_DIR.match(p.name) for p in root.iterdir()))


def foreign_entries(out: Path) -> list[str]:
    """Entries of ``out`` that training does not write (sorted names)."""
    return sorted(p.name for p in out.iterdir() if not (_RUN_ENTRY.match(p.name) or _TEMP_FILE.match(p.name)))


def remove_interrupted_writes(out: Path) -> list[Path]:
    """Delete ``checkpoints/.step_*`` folders and temporary files of killed writes; only under the lock."""
    stale = [p for p in out.iterdir() if _TEMP_FILE.match(p.name)] if out.is_dir() else []
    if (out / CHECKPOINTS).is_dir():
        stale += [p for p in (out / CHECKPOINTS).iterdir() if _TEMP_STEP.match(p.name)]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
    return stale


def clear_checkpointless_run(out: Path) -> bool:
    """When ``out`` holds training output but no checkpoint (killed before its first one), delete it so a fresh
    start can use the folder; says so in one line. Files training does not write are left alone."""
    if not out.is_dir() or has_checkpoint(out) or foreign_entries(out) or not any(out.iterdir()):
        return False
    print(f"warning: {out} holds no checkpoint (its run stopped before the first one): starting it afresh",
          file=sys.stderr)
    for p in out.iterdir():
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
    return True


@contextmanager
def claim_run_folder(out: str | Path, resume: bool) -> Iterator[None]:
    """Lock the run folder ``out`` for the ``with`` block and clean up after a killed run (see the module
    docstring). Under torchrun only rank 0 locks and cleans; the other ranks start after it (rendezvous)."""
    out = Path(out).expanduser()
    if os.environ.get("RANK", "0") != "0":
        yield
        return
    with output_lock(out, "--out"):
        if out.is_dir():
            remove_interrupted_writes(out)
            if not resume:
                clear_checkpointless_run(out)
        yield
