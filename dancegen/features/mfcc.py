"""``mfcc``: 20 MFCCs per 30-FPS frame (librosa defaults at 15360 Hz, hop 512), optionally with deltas.

Frames are centred like :mod:`.stft` (frame i centred at time i/30) and trimmed to T.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import DancegenError
from .encoder import ResamplingEncoder

HOP = 512


class MFCCEncoder(ResamplingEncoder):
    """20 MFCCs at 15360 Hz, hop 512 (optionally with deltas)."""

    name: ClassVar[str] = "mfcc"
    nominal_dim: ClassVar[int | None] = 20

    def __init__(self, n_mfcc: int = 20, deltas: int = 0) -> None:
        if deltas not in (0, 1, 2):
            raise DancegenError(f"mfcc: deltas must be 0, 1 or 2, got {deltas!r}")
        if not 1 <= int(n_mfcc) <= 128:
            raise DancegenError(f"mfcc: n_mfcc must be in [1, 128], got {n_mfcc}")
        self.n_mfcc, self.deltas = int(n_mfcc), deltas
        self.sample_rate = 15360

    @property
    def dim(self) -> int:
        return self.n_mfcc * (1 + self.deltas)

    def encode_prepared(self, y: np.ndarray, frames: int) -> np.ndarray:
        import librosa

        mfcc = librosa.feature.mfcc(y=y, sr=self.sample_rate, n_mfcc=self.n_mfcc, hop_length=HOP)
        mode = "interp" if mfcc.shape[1] >= 9 else "nearest"  # interp needs at least `width` (9) frames
        parts = [mfcc] + [librosa.feature.delta(mfcc, order=k, mode=mode) for k in range(1, self.deltas + 1)]
        return np.concatenate(parts, axis=0)[:, :frames].T

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "sample_rate": self.sample_rate, "n_mfcc": self.n_mfcc, "hop": HOP,
                "n_fft": 2048, "deltas": self.deltas}
