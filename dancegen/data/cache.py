"""On-disk music-feature cache: one safetensors file per (song id, encoder configuration hash).

Files live at ``<cache root>/<encoder.config_hash()>/<song id>.safetensors`` with the array under ``"features"``
and metadata ``config`` (the encoder's :meth:`~dancegen.features.encoder.MusicEncoder.config` as JSON),
``config_hash``, ``song_id``, and the audio file's ``audio_size`` / ``audio_mtime_ns``. An entry is recomputed when
the configuration or the audio file changes. Writes are atomic (temporary file + ``os.replace``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..atomic import write_atomic
from ..errors import DataError
from ..features.encoder import MusicEncoder

DEFAULT_SUBDIR = ".dancegen_features"


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
        from safetensors import safe_open

        path = self.path(song_id)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                if meta.get("config") != self.config_json:
                    return None
                if audio is not None:
                    stamp = self._audio_stamp(Path(audio))
                    if any(meta.get(k) != v for k, v in stamp.items()):
                        return None
                return f.get_tensor("features")
        except Exception:  # unreadable or truncated file: recompute
            return None

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
        """Features of ``song_id``: from the cache when valid, else encoded from ``audio`` and stored."""
        cached = self.load(song_id, audio)
        if cached is not None:
            return cached
        audio = Path(audio)
        if not audio.is_file():
            raise DataError(f"music file not found: {audio}")
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

    def fill(self, songs: Iterable[tuple[str, str | Path]], progress: bool = True) -> dict[str, int]:
        """Make sure every (song id, audio path) is cached, with a rich progress bar; returns
        ``{"computed": n, "cached": m}``."""
        songs = list(dict(songs).items())  # one entry per song id
        counts = {"computed": 0, "cached": 0}
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
            task = bar.add_task(f"features {self.encoder.name or type(self.encoder).__name__}", total=len(songs))
            for song_id, audio in songs:
                if self.load(song_id, audio) is not None:
                    counts["cached"] += 1
                else:
                    self.store(song_id, self._encode(song_id, Path(audio)), audio)
                    counts["computed"] += 1
                bar.advance(task)
        return counts

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.dir)!r}, encoder={self.encoder!r})"
