"""Atomic file writes: write to a temporary file in the target's folder, then ``os.replace`` it into place,
so a crash never leaves a half-written output, cache entry or report.

Everything dancegen publishes gets the permissions a plain ``open()`` / ``mkdir()`` would give under the
user's umask (0644 files, 0755 folders with the usual 022), not the private 0600 / 0700 of ``tempfile`` or of
writers that create their own temporary files (safetensors): see :func:`file_mode` and :func:`publish_modes`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def current_umask() -> int:
    """The process's umask, read from ``/proc/self/status`` where possible (changing it is not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o077)  # fallback: a restrictive value for the instant it is set
    os.umask(old)
    return old


def file_mode(directory: bool = False) -> int:
    """Mode of a new file (0666) or folder (0777) under the current umask."""
    return (0o777 if directory else 0o666) & ~current_umask()


def publish_modes(path: str | Path) -> None:
    """Give ``path`` (a file, or a folder and everything in it) the umask's default modes; symlinks untouched."""
    path = Path(path)
    if path.is_symlink():
        return
    if not path.is_dir():
        os.chmod(path, file_mode())
        return
    for root, dirs, files in os.walk(path):
        os.chmod(root, file_mode(directory=True))
        for name in files:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), file_mode())
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]


def make_temp_file(folder: str | Path, prefix: str = "", suffix: str = "") -> Path:
    """A new empty file with a unique name in ``folder``, created with the umask's mode (unlike ``mkstemp``)."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    try:
        os.fchmod(fd, file_mode())
    finally:
        os.close(fd)
    return Path(tmp)


def make_temp_dir(folder: str | Path, prefix: str = "") -> Path:
    """A new empty folder with a unique name in ``folder``, created with the umask's mode (unlike ``mkdtemp``)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=folder))
    os.chmod(tmp, file_mode(directory=True))
    return tmp


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path``, else it is removed.
    The temporary name keeps ``path``'s suffix so that writers choosing a format by suffix work. The file
    gets the umask's mode whatever the writer created it with."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = make_temp_file(path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    try:
        yield tmp_path
        os.chmod(tmp_path, file_mode())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path`` and move it into place."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: str | Path, data: object, indent: int = 2) -> Path:
    """Write ``data`` as indented JSON (with a final newline) to ``path`` atomically."""
    return write_text_atomic(path, json.dumps(data, indent=indent) + "\n")
