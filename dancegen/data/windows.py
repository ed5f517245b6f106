"""Fixed-length training/test windows over whole sequences, shared by every data source.

Training: 120-frame (4-s) windows at stride 12; a window is kept only if ``clip.std(axis=0).mean() > 0.07`` over
its 319 channels (static clips are dropped, and counted). Test: 4-s slices at a 2-s stride (60 frames), no filter.
Every window's root position is re-centred on its first frame (all three axes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DancegenError, DataError
from ..motion.layout import ROOT, WINDOW
from .cache import FeatureCache
from .sequence import Sequence

TRAIN_STRIDE = 12
TEST_STRIDE = 60
MIN_STD = 0.07


@dataclass(frozen=True)
class WindowIndex:
    sequence: int
    start: int


class WindowDataset(Dataset):
    """Windows of ``sequences`` with their music features.

    ``features`` maps song id → (T, D) float32 features at 30 FPS, or is a :class:`FeatureCache` (every song is
    computed up front if missing — ``fill_start`` rotates the order, see :meth:`FeatureCache.fill` — and then
    memory-mapped, not read into memory), or None (music of shape (120, 0)). Motion and music are cut to the
    shorter of the two. Items: ``motion`` (120, 319) float32, ``music`` (120, D) float32, ``genre`` (int),
    ``text`` (the genre name), ``song_id``, ``sequence_id``, ``start`` (frame) and ``hands_present``. ``stats``
    counts the windows considered, kept and filtered as static.
    """

    def __init__(
        self,
        sequences: Iterable[Sequence],
        features: Mapping[str, np.ndarray] | FeatureCache | None = None,
        mode: Literal["train", "test"] = "train",
        window: int = WINDOW,
        stride: int | None = None,
        min_std: float | None = None,
        progress: bool = False,
        fill_start: int = 0,
    ) -> None:
        if mode not in ("train", "test"):
            raise DancegenError(f"window mode must be 'train' or 'test', got {mode!r}")
        self.sequences = list(sequences)
        self.mode, self.window = mode, int(window)
        self.stride = int(stride or (TRAIN_STRIDE if mode == "train" else TEST_STRIDE))
        self.min_std = (MIN_STD if mode == "train" else None) if min_std is None else min_std
        self.features = self._gather_features(features, progress, fill_start)
        self.dim = next(iter(self.features.values())).shape[1] if self.features else 0
        self.index: list[WindowIndex] = []
        self.stats = {"sequences": len(self.sequences), "considered": 0, "kept": 0, "static": 0, "too_short": 0}
        for k, seq in enumerate(self.sequences):
            length = self._length(seq)
            if length < self.window:
                self.stats["too_short"] += 1
                continue
            for start in range(0, length - self.window + 1, self.stride):
                self.stats["considered"] += 1
                clip = seq.motion[start : start + self.window]
                if self.min_std is not None and not clip.std(axis=0).mean() > self.min_std:
                    self.stats["static"] += 1
                    continue
                self.index.append(WindowIndex(k, start))
        self.stats["kept"] = len(self.index)
        if not self.index:
            raise DataError(f"no {mode} windows of {self.window} frames: {self.stats}")

    def _gather_features(
        self, features: Mapping[str, np.ndarray] | FeatureCache | None, progress: bool, fill_start: int = 0
    ) -> dict[str, np.ndarray]:
        if features is None:
            return {}
        if isinstance(features, FeatureCache):
            songs = {s.song_id: s.audio for s in self.sequences}
            missing = [k for k, v in songs.items() if v is None]
            if missing:
                raise DataError(f"sequences without a music file: {', '.join(missing[:5])}")
            files = {song: audio for song, audio in songs.items() if audio is not None}
            features.fill(files.items(), progress=progress, start=fill_start)
            mapped = {song: features.open(song, audio) for song, audio in files.items()}
            return {song: features.get(song, files[song]) if m is None else m for song, m in mapped.items()}
        out = {}
        for seq in self.sequences:
            if seq.song_id not in features:
                raise DataError(f"no music features for song {seq.song_id!r} (sequence {seq.id})")
            out[seq.song_id] = np.asarray(features[seq.song_id], dtype=np.float32)
        dims = {v.shape[1] for v in out.values()}
        if len(dims) > 1:
            raise DataError(f"music features of different dimensions: {sorted(dims)}")
        return out

    def _length(self, seq: Sequence) -> int:
        if not self.features:
            return seq.num_frames
        return min(seq.num_frames, len(self.features[seq.song_id]))

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        w = self.index[i]
        seq = self.sequences[w.sequence]
        end = w.start + self.window
        motion = np.array(seq.motion[w.start : end], dtype=np.float32)
        motion[:, ROOT] -= motion[0, ROOT]
        if self.features:
            music = self.features[seq.song_id][w.start : end]
        else:
            music = np.zeros((self.window, 0), dtype=np.float32)
        return {
            "motion": torch.from_numpy(motion),
            "music": torch.from_numpy(np.array(music, dtype=np.float32)),  # a copy: the features may be a read-only map
            "genre": seq.genre,
            "text": seq.genre_name,
            "song_id": seq.song_id,
            "sequence_id": seq.id,
            "start": w.start,
            "hands_present": seq.hands_present,
        }
