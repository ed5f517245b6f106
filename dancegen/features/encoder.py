"""The music-encoder interface (to be completed by the encoders work)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np


class MusicEncoder(ABC):
    """Audio → (T, dim) float32 features at exactly 30 FPS; frame i covers [i/30, (i+1)/30)."""

    name: ClassVar[str] = ""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Feature dimension per frame."""

    @abstractmethod
    def encode(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """Encode mono or multi-channel ``audio`` sampled at ``sr`` Hz."""
