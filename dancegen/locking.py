"""One dancegen run at a time per output: an OS lock (``fcntl.flock``) on ``.<name>.lock`` beside the output.

The lock file lies beside the output folder (or file), not inside it, so the folder can be replaced whole by a
rename while it is held. The holder writes its pid, host, start time and command line into the file; a second
run is refused with one line naming that holder. The OS drops the lock when its process dies however it dies,
so a lock file whose lock is free is the trace of a run that ended without releasing it (``kill -9``, power
loss): the next run takes it over and says so in one line. On release the holder deletes the file; a run that
opened it just before checks after locking that the file it locked is still the one at the path.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import DancegenError


class OutputInUseError(DancegenError):
    """Another live dancegen run holds the lock on this output."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a lock."""

    pid: int
    host: str
    started: str
    command: str

    @classmethod
    def me(cls) -> Holder:
        return cls(os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%d %H:%M:%S %Z"), _command())

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        try:
            d = json.loads(text)
            return cls(int(d["pid"]), str(d["host"]), str(d["started"]), str(d["command"]))
        except (ValueError, KeyError, TypeError):
            return None

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "host": self.host, "started": self.started, "command": self.command})

    def alive(self) -> bool | None:
        """Whether the process still exists (None: it runs on another host, so this one cannot tell)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # exists, owned by someone else
            return True
        return True

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started}: {self.command}"


def _command() -> str:
    """This process's command line, ``dancegen …`` when run as the CLI, shortened to keep messages one line."""
    argv = list(sys.argv) or ["python"]
    if Path(argv[0]).name == "dancegen" or argv[0].endswith(os.path.join("dancegen", "__main__.py")):
        argv[0] = "dancegen"
    text = " ".join(shlex.quote(a) for a in argv).replace("\n", " ")
    return text if len(text) <= 200 else text[:199] + "…"


def lock_path(target: str | Path) -> Path:
    """The lock file of ``target``: ``.<name>.lock`` in the folder of its real (symlink-free) path."""
    real = Path(target).expanduser().resolve()
    return real.parent / f".{real.name}.lock"


def _read_holder(fd: int) -> Holder | None:
    os.lseek(fd, 0, os.SEEK_SET)
    return Holder.parse(os.read(fd, 65536).decode("utf-8", "replace"))


def _same_file(path: Path, fd: int) -> bool:
    try:
        a, b = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _refusal(target: Path, what: str, fd: int) -> OutputInUseError:
    holder = None
    for _ in range(20):  # the holder writes its details right after locking: give it a moment
        holder = _read_holder(fd)
        if holder is not None:
            break
        time.sleep(0.05)
    if holder is None:
        who = "details not recorded"
    elif holder.alive() is False:
        who = f"{holder.describe()}; that process is gone but a process it started still holds the lock"
    else:
        who = holder.describe()
    return OutputInUseError(f"{what} {target} is in use by another dancegen run ({who}); wait for it to finish "
                            f"or choose another {what}")


def acquire(target: str | Path, what: str = "--out") -> tuple[Path, int]:
    """Lock ``target`` for this process (its folder is created); returns (lock file, descriptor) for
    :func:`release`. Raises :class:`OutputInUseError` when a live run holds it."""
    target = Path(target).expanduser()
    path = lock_path(target)
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666)  # no planted link
        except OSError as exc:
            raise DancegenError(f"cannot create the lock file {path} for {what} {target}: "
                                f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            err = _refusal(target, what, fd)
            os.close(fd)
            raise err from None
        if _same_file(path, fd):  # else the previous holder deleted it while we waited: lock the new one
            break
        os.close(fd)
    previous = _read_holder(fd)
    if previous is not None:
        print(f"warning: {what} {target}: taking over the lock left by a run that ended without releasing it "
              f"({previous.describe()})", file=sys.stderr)
    os.ftruncate(fd, 0)
    os.pwrite(fd, (Holder.me().to_json() + "\n").encode(), 0)
    return path, fd


def release(path: Path, fd: int) -> None:
    """Delete the lock file (while still holding it) and drop the lock."""
    try:
        if _same_file(path, fd):
            path.unlink()
    finally:
        os.close(fd)


@contextmanager
def output_lock(target: str | Path, what: str = "--out") -> Iterator[Path]:
    """Hold the lock on ``target`` (an output folder or file) for the ``with`` block, released however the block
    ends (return, exception, Ctrl-C); yields the lock file's path. ``what`` names the option in the refusal."""
    path, fd = acquire(target, what)
    try:
        yield path
    finally:
        release(path, fd)
