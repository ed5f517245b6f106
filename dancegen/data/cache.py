"""On-disk music-feature cache: one safetensors file per (song id, encoder configuration hash).

Files live at ``<cache root>/<encoder.config_hash()>/<song id>.safetensors`` with the array under ``"features"``
and metadata ``config`` (the encoder's :meth:`~dancegen.features.encoder.MusicEncoder.config` as JSON),
``config_hash``, ``song_id``, and the audio file's ``audio_size`` / ``audio_mtime_ns``. An entry is recomputed when
the configuration or the audio file changes. Writes are atomic (temporary file + ``os.replace``).

Several processes (the ranks of a ``torchrun`` job, on one node or on several nodes sharing the folder) can fill one
cache at the same time: each song is encoded under an exclusive ``fcntl.flock`` on ``<song id>.lock`` beside its
file, re-checked after the lock is taken, so every song is encoded once; each process starts at a different song
(``start``) so they spread the work. :meth:`FeatureCache.open` memory-maps an entry read-only instead of reading it,
so the ranks of a node share one copy of the features in the page cache instead of holding one each.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_atomic
from ..errors import DataError
from ..features.encoder import MusicEncoder

DEFAULT_SUBDIR = ".dancegen_features"
#: Seconds a process waits for another one encoding the same song before giving up (env ``DANCEGEN_CACHE_TIMEOUT``).
LOCK_TIMEOUT = 1800.0


def default_cache_root(data_dir: str | Path) -> Path:
    """The default cache folder for a data set: ``<data dir>/.dancegen_features``."""
    return Path(data_dir).expanduser() / DEFAULT_SUBDIR


class FeatureCache:
    """Features of songs under one encoder configuration; :meth:`get` computes and stores what is missing."""

    def __init__(self, root: str | Path, encoder: MusicEncoder) -> None:
        self.encoder = encoder
        self.config_json = json.dumps(encoder.config(), sort_keys=True, separators=(",", ":"), default=str)
        self.config_hash = encoder.config_hash()
        self.root = Path(root).expanduser()
        self.dir = self.root / self.config_hash

    def path(self, song_id: str) -> Path:
        return self.dir / f"{song_id}.safetensors"

    def _audio_stamp(self, audio: Path) -> dict[str, str]:
        st = audio.stat()
        return {"audio_size": str(st.st_size), "audio_mtime_ns": str(st.st_mtime_ns)}

    def load(self, song_id: str, audio: str | Path | None = None) -> np.ndarray | None:
        """Cached features, or None when absent, written under another configuration, or stale for ``audio``."""
        return self._read(song_id, audio, tensor=True)

    def load_meta(self, song_id: str, audio: str | Path | None = None) -> dict[str, str] | None:
        """The entry's metadata when it is present, of this configuration and fresh for ``audio``; else None."""
        return self._read(song_id, audio, tensor=False)

    def _read(self, song_id: str, audio: str | Path | None, tensor: bool) -> Any:
        """One open of the entry: its features (``tensor``) or metadata when valid for ``audio``, else None."""
        from safetensors import safe_open

        path = self.path(song_id)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                if meta.get("config") != self.config_json:
                    return None
                if audio is not None and any(meta.get(k) != v for k, v in self._audio_stamp(Path(audio)).items()):
                    return None
                return f.get_tensor("features") if tensor else meta
        except Exception:  # unreadable or truncated file: recompute
            return None

    def open(self, song_id: str, audio: str | Path | None = None) -> np.ndarray | None:
        """Like :meth:`load`, but a read-only ``np.memmap`` of the entry (nothing is read until used; processes
        mapping the same file share its pages). None when absent, stale or unreadable."""
        if self.load_meta(song_id, audio) is None:
            return None
        path = self.path(song_id)
        try:
            with path.open("rb") as f:
                size = int.from_bytes(f.read(8), "little")
                header = json.loads(f.read(size))
            entry = header["features"]
            if entry["dtype"] != "F32":
                return None
            begin, end = (int(v) for v in entry["data_offsets"])
            shape = tuple(int(v) for v in entry["shape"])
            if end - begin != 4 * int(np.prod(shape)):
                return None
            if end == begin:
                return np.zeros(shape, dtype=np.float32)
            return np.memmap(path, dtype=np.float32, mode="r", offset=8 + size + begin, shape=shape)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @contextmanager
    def locked(self, song_id: str, timeout: float | None = None) -> Iterator[None]:
        """Hold the exclusive lock of ``song_id``'s entry (``<song id>.lock`` in the cache folder; works across
        processes and, on file systems with working ``flock`` such as NFSv4 and Lustre, across nodes)."""
        wait = float(os.environ.get("DANCEGEN_CACHE_TIMEOUT", LOCK_TIMEOUT)) if timeout is None else timeout
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{song_id}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise DataError(f"timed out after {wait:.0f} s waiting for another process encoding "
                                        f"{song_id!r} into {self.dir} (remove {path} if no dancegen process is "
                                        "running; DANCEGEN_CACHE_TIMEOUT sets the wait)") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # releases the lock

    def store(self, song_id: str, features: np.ndarray, audio: str | Path | None = None) -> Path:
        """Write features atomically; returns the file path."""
        from safetensors.numpy import save

        features = np.ascontiguousarray(features, dtype=np.float32)
        meta = {"config": self.config_json, "config_hash": self.config_hash, "song_id": song_id,
                "dim": str(features.shape[1] if features.ndim == 2 else -1)}
        if audio is not None:
            meta.update(self._audio_stamp(Path(audio)))
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.path(song_id)
        return write_atomic(path, lambda tmp: tmp.write_bytes(save({"features": features}, metadata=meta)))

    def get(self, song_id: str, audio: str | Path) -> np.ndarray:
        """Features of ``song_id``: from the cache when valid, else encoded from ``audio`` and stored (under the
        song's lock, so a concurrent process does not encode it twice)."""
        cached = self.load(song_id, audio)
        if cached is not None:
            return cached
        audio = Path(audio)
        if not audio.is_file():
            raise DataError(f"music file not found: {audio}")
        with self.locked(song_id):
            cached = self.load(song_id, audio)
            if cached is not None:
                return cached
            features = self._encode(song_id, audio)
            self.store(song_id, features, audio)
        return features

    def _encode(self, song_id: str, audio: Path) -> np.ndarray:
        from ..features.audio import load_audio

        y, sr = load_audio(audio)
        features = np.asarray(self.encoder.encode_keyed(y, sr, song_id), dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.encoder.dim:
            raise DataError(f"{self.encoder!r} returned features of shape {features.shape} for {audio}")
        return features

    def fill(self, songs: Iterable[tuple[str, str | Path]], progress: bool = True, start: int = 0
             ) -> dict[str, int]:
        """Make sure every (song id, audio path) is cached, with a rich progress bar; returns
        ``{"computed": n, "cached": m}`` (``cached`` includes songs another process encoded meanwhile).

        Safe to run in several processes at once (each song is encoded under its lock); ``start`` rotates the
        order so that processes given different starts (e.g. ``rank · n_songs // world_size``) begin on
        different songs."""
        songs = list(dict(songs).items())  # one entry per song id
        if songs:
            k = start % len(songs)
            songs = songs[k:] + songs[:k]
        counts = {"computed": 0, "cached": 0}
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
            task = bar.add_task(f"features {self.encoder.name or type(self.encoder).__name__}", total=len(songs))
            for song_id, audio in songs:
                if self.load_meta(song_id, audio) is None:
                    with self.locked(song_id):
                        if self.load_meta(song_id, audio) is None:
                            self.store(song_id, self._encode(song_id, Path(audio)), audio)
                            counts["computed"] += 1
                            bar.advance(task)
                            continue
                counts["cached"] += 1
                bar.advance(task)
        return counts

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.dir)!r}, encoder={self.encoder!r})"
