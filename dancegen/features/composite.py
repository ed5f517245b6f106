"""Composite encoder: several encoders' features concatenated per frame (e.g. GCDance's wav2clip ‖ stft)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..errors import DancegenError
from .encoder import MusicEncoder, ResamplingEncoder, check_features, num_frames


class CompositeEncoder(MusicEncoder):
    """Concatenation of child encoders in order; audio is resampled once per distinct child sample rate."""

    name: ClassVar[str] = "composite"

    def __init__(self, encoders: Sequence[MusicEncoder]) -> None:
        if not encoders:
            raise DancegenError("a composite music encoder needs at least one encoder")
        self.encoders = list(encoders)
        self.sample_rate = self.encoders[0].sample_rate
        self.needs_weights = any(e.needs_weights for e in self.encoders)  # type: ignore[misc]
        self.offline = all(e.offline for e in self.encoders)  # type: ignore[misc]

    @property
    def spec(self) -> str:
        return ",".join(e.name for e in self.encoders)

    @property
    def dim(self) -> int:
        return sum(e.dim for e in self.encoders)

    def encode(self, audio: np.ndarray, sr: int) -> np.ndarray:
        return self.encode_keyed(audio, sr, None)

    def encode_keyed(self, audio: np.ndarray, sr: int, key: str | None) -> np.ndarray:
        from .audio import check_audio, resample, to_mono

        mono = to_mono(audio)
        check_audio(mono, sr, self.spec)
        frames = num_frames(len(mono), sr)
        at_rate: dict[int, np.ndarray] = {}
        parts = []
        for enc in self.encoders:
            if isinstance(enc, ResamplingEncoder):
                if enc.sample_rate not in at_rate:
                    at_rate[enc.sample_rate] = resample(mono, sr, enc.sample_rate)
                parts.append(enc.encode_checked(at_rate[enc.sample_rate], frames))
            else:
                parts.append(check_features(enc.encode_keyed(mono, sr, key), frames, enc.dim, enc.name))
        return np.concatenate(parts, axis=1)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "encoders": [e.config() for e in self.encoders]}

    def __repr__(self) -> str:
        return f"CompositeEncoder({self.spec!r}, dim={self.dim})"
