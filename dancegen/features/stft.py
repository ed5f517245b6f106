"""``stft``: the GCDance short-time Fourier features (193 bins per 30-FPS frame).

librosa STFT at 15360 Hz = 30 × 512 with n_fft 384, hop 512, Hann window, ``center=True`` (zero padding), so
one hop is one motion frame. Alignment: STFT frame i is centred on sample 512·i, i.e. at the *start* of motion
frame i (time i/30), and its 384-sample window spans [i/30 − 12.5 ms, i/30 + 12.5 ms) — the convention of the
published GCDance code and of every librosa feature in EDGE/FineDance. ``align="centre"`` instead centres
frame i on sample 512·i + 256, the middle of motion frame i, so the window lies inside [i/30, (i+1)/30).
librosa returns 1 + len//512 frames; the trailing partial frame is dropped to give exactly T.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import DancegenError
from .encoder import ResamplingEncoder

HOP = 512
MODES = ("magnitude", "log", "real")
ALIGNS = ("start", "centre")
LOG_EPS = 1e-6


class STFTEncoder(ResamplingEncoder):
    """STFT n_fft 384, hop 512 at 15360 Hz (magnitude, log or real part)."""

    name: ClassVar[str] = "stft"
    nominal_dim: ClassVar[int | None] = 193

    def __init__(self, mode: str = "magnitude", n_fft: int = 384, align: str = "start") -> None:
        if mode not in MODES:
            raise DancegenError(f"stft: mode must be one of {', '.join(MODES)}, got {mode!r}")
        if align not in ALIGNS:
            raise DancegenError(f"stft: align must be one of {', '.join(ALIGNS)}, got {align!r}")
        if not 2 <= int(n_fft) <= 8192:
            raise DancegenError(f"stft: n_fft must be in [2, 8192], got {n_fft}")
        self.mode, self.n_fft, self.align = mode, int(n_fft), align
        self.sample_rate = 15360

    @property
    def dim(self) -> int:
        return self.n_fft // 2 + 1

    def encode_prepared(self, y: np.ndarray, frames: int) -> np.ndarray:
        import librosa

        if self.align == "centre":
            y = y[HOP // 2 :]
        spec = librosa.stft(y, n_fft=self.n_fft, hop_length=HOP, window="hann", center=True)[:, :frames].T
        if self.mode == "real":  # the published code saves the complex STFT; loading casts it to its real part
            return spec.real
        mag = np.abs(spec)
        return np.log(mag + LOG_EPS) if self.mode == "log" else mag

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "sample_rate": self.sample_rate, "n_fft": self.n_fft, "hop": HOP,
                "window": "hann", "center": True, "mode": self.mode, "align": self.align}
