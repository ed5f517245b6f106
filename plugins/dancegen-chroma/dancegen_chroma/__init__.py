"""dancegen-chroma: an example dancegen plugin adding the ``chroma`` music encoder.

Installing this distribution registers it through the ``dancegen`` entry-point group; dancegen then finds it
by name: ``build_music_encoder("chroma")`` or ``build_music_encoder("wav2clip,stft,chroma")``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

import dancegen.plugins
from dancegen.errors import DancegenError
from dancegen.features import ResamplingEncoder

__version__ = "0.1.0"
HOP = 512  # one motion frame at 15360 Hz


class ChromaEncoder(ResamplingEncoder):
    """12-D chroma (librosa chroma_stft, n_fft 2048, hop 512 at 15360 Hz) per 30-FPS frame."""

    name: ClassVar[str] = "chroma"
    nominal_dim: ClassVar[int | None] = 12

    def __init__(self, n_fft: int = 2048, norm: float | None = float("inf")) -> None:
        if n_fft < 64:
            raise DancegenError(f"chroma: n_fft must be ≥ 64, got {n_fft}")
        self.n_fft, self.norm, self.sample_rate = int(n_fft), norm, 15360

    @property
    def dim(self) -> int:
        return 12

    def encode_prepared(self, y: np.ndarray, frames: int) -> np.ndarray:
        import librosa

        chroma = librosa.feature.chroma_stft(y=y, sr=self.sample_rate, n_fft=self.n_fft, hop_length=HOP,
                                             norm=self.norm)
        return chroma[:, :frames].T

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "sample_rate": self.sample_rate, "n_fft": self.n_fft, "hop": HOP,
                "norm": str(self.norm), "plugin_version": __version__}


@dancegen.plugins.hookimpl
def dancegen_register_music_encoders(register: Callable[..., None]) -> None:
    register(ChromaEncoder)
