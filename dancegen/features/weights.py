"""Model-weight files: the cache directory, offline detection, sha256 and an atomic one-time download."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from ..atomic import make_temp_file, write_text_atomic
from ..errors import MissingWeightsError

OFFLINE_VARS = ("DANCEGEN_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def cache_dir() -> Path:
    """Where downloaded weights live: ``$DANCEGEN_CACHE`` or ``~/.cache/dancegen``."""
    env = os.environ.get("DANCEGEN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dancegen"


def is_offline() -> bool:
    """True when any of DANCEGEN_OFFLINE, HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE is set to a true value."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in OFFLINE_VARS)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1-MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def cached_file_ok(path: Path) -> bool:
    """A cached download is usable when it exists and matches the sha256 recorded next to it at download."""
    side = path.with_name(path.name + ".sha256")
    if not path.is_file() or not side.is_file():
        return False
    return sha256_file(path) == side.read_text().split()[0].strip()


def download(url: str, dest: Path, expected_sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` once: stream into a temp file in the same directory, check the sha256
    (against ``expected_sha256`` when given), record it in ``dest.sha256`` and move the file into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_file(dest.parent, prefix=dest.name + ".", suffix=".part")  # the umask's mode, not 0600
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            expected_len = int(resp.headers.get("Content-Length") or 0)
            written = 0
            while block := resp.read(1 << 20):
                out.write(block)
                h.update(block)
                written += len(block)
        if expected_len and written != expected_len:
            raise OSError(f"truncated download ({written} of {expected_len} bytes)")
        digest = h.hexdigest()
        if expected_sha256 and digest != expected_sha256.lower():
            raise OSError(f"sha256 mismatch: got {digest}, expected {expected_sha256}")
        os.replace(tmp, dest)
        write_text_atomic(dest.with_name(dest.name + ".sha256"), f"{digest}  {dest.name}\n")
        return dest
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fetch_weights(url: str, filename: str, hint: str, expected_sha256: str | None = None, who: str = "") -> Path:
    """The cached copy of ``url`` (downloaded now if needed and allowed); ``hint`` says how to supply the file
    by hand and ends the one-line :class:`MissingWeightsError` raised when offline or the download fails;
    ``who`` (an encoder name) starts it."""
    prefix = f"{who}: " if who else ""
    dest = cache_dir() / filename
    if cached_file_ok(dest):
        return dest
    if is_offline():
        raise MissingWeightsError(f"{prefix}{filename} is not in {cache_dir()} and downloads are off (offline); {hint}")
    try:
        return download(url, dest, expected_sha256)
    except Exception as exc:  # network errors, HTTP errors, checksum mismatches
        reason = str(exc).replace("\n", " ")
        raise MissingWeightsError(f"{prefix}could not download {filename} from {url} ({reason}); {hint}") from None
