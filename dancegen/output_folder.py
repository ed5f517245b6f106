"""Output folders of one run (``dancegen generate`` / ``edit`` / ``demo``), locked and replaced whole.

A run builds its files in ``.<name>.tmp-XXXXXXXX`` beside the target and renames that folder into place
(:func:`staged_output`), so the target never mixes two runs and the formats a run did not ask for do not linger
from an earlier one. An existing target is replaced only when everything in it is a file dancegen writes there
(the export formats' files and ``generation.json``, also inside ``variation_N/``, and the temporary files of an
interrupted write); anything else stops the run before any work with one line naming it
(:func:`check_replaceable`), so a file you put there is never deleted. Temporary folders a killed run left
beside the target are removed by the next run that takes the target's lock (:func:`claim_output_folder`).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from .atomic import make_temp_dir
from .errors import DancegenError
from .locking import output_lock

SUMMARY_FILE = "generation.json"
_VARIATION = re.compile(r"^variation_\d+$")
_STAGES = (".tmp-", ".old-")  # ".<name>.tmp-XXXXXXXX" (being built), ".<name>.old-XXXXXXXX" (being replaced)


@cache
def _output_file_pattern() -> re.Pattern[str]:
    """The names generate / edit / demo write into an output folder (export files and the summary), and the
    temporary files of an interrupted atomic write of one (``.motion.k3j9x_2a.npz``, ``.generation.json.x.tmp``)."""
    from .export import FORMATS

    names = []
    for out in (*FORMATS.values(), SUMMARY_FILE):
        stem, suffix = (re.escape(part) for part in os.path.splitext(out))
        names += [re.escape(out), rf"\.{stem}\.\w+{suffix}", rf"\.{re.escape(out)}\.\w+\.tmp"]
    return re.compile("|".join(names))


def _is_output_file(name: str) -> bool:
    return _output_file_pattern().fullmatch(name) is not None


def foreign_entries(target: str | Path) -> list[str]:
    """Entries of the folder ``target`` that dancegen did not write there (relative names, sorted)."""
    target = Path(target)
    foreign = []
    for entry in sorted(target.iterdir()):
        if entry.is_symlink():
            foreign.append(entry.name)
        elif entry.is_dir() and _VARIATION.match(entry.name):
            foreign += [f"{entry.name}/{name}" for name in foreign_entries(entry)]
        elif not (entry.is_file() and _is_output_file(entry.name)):
            foreign.append(entry.name + ("/" if entry.is_dir() else ""))
    return foreign


def check_replaceable(target: str | Path, what: str = "--out") -> None:
    """Raise a one-line :class:`DancegenError` unless ``target`` is absent, or a folder holding only dancegen's
    outputs (which a new run may replace)."""
    target = Path(target).expanduser()
    if not target.exists() and not target.is_symlink():
        return
    if not target.is_dir():
        raise DancegenError(f"{what} {target} exists and is not a folder")
    foreign = foreign_entries(target)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise DancegenError(f"{what} {target} holds files dancegen did not write ({shown}); a run replaces its "
                            f"output folder whole, so choose a new or empty folder, or move them out")


def remove_stale_stages(target: str | Path) -> list[Path]:
    """Delete the temporary folders a killed run left beside ``target``; call only while holding its lock."""
    real = Path(target).expanduser().resolve()
    if not real.parent.is_dir():
        return []
    stale = [p for p in real.parent.iterdir()
             if p.name.startswith(f".{real.name}.") and p.name[len(real.name) + 1:].startswith(_STAGES)
             and p.is_dir() and not p.is_symlink()]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


@contextmanager
def claim_output_folder(target: str | Path, what: str = "--out", replaceable: bool = True) -> Iterator[None]:
    """Lock ``target`` for the ``with`` block (see :mod:`dancegen.locking`), then remove the temporary folders
    of killed runs and (``replaceable``) check that it holds nothing but dancegen outputs, before any work."""
    with output_lock(target, what):
        remove_stale_stages(target)
        if replaceable:
            check_replaceable(target, what)
        yield


@contextmanager
def staged_output(target: str | Path, what: str = "--out") -> Iterator[Path]:
    """Yield an empty folder beside ``target`` to write a run's outputs into; when the block succeeds it
    replaces ``target`` whole (renames), otherwise it is deleted. Files get the umask's modes."""
    real = Path(target).expanduser().resolve()
    real.parent.mkdir(parents=True, exist_ok=True)
    stage = make_temp_dir(real.parent, prefix=f".{real.name}.tmp-")
    try:
        yield stage
        check_replaceable(target, what)  # nothing foreign was put there while this run worked
        if real.exists():
            old = make_temp_dir(real.parent, prefix=f".{real.name}.old-")
            os.replace(real, old)  # an empty folder is replaced by a rename
            try:
                os.replace(stage, real)
            except BaseException:
                os.replace(old, real)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, real)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
