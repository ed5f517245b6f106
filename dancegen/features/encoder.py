"""The music-encoder interface shared by built-ins and plugins.

An encoder turns audio into (T, dim) float32 features at exactly 30 FPS: frame i covers [i/30, (i+1)/30) and
T = the number of whole motion frames in the audio (``floor(len(audio) / sr * 30)``). Its :meth:`config` is a
JSON-serialisable dict that identifies the features it produces; :meth:`config_hash` keys the feature cache.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..motion.layout import FPS


def num_frames(num_samples: int, sr: int) -> int:
    """Whole 30-FPS motion frames covered by ``num_samples`` samples at ``sr`` Hz."""
    return (num_samples * FPS) // sr


class MusicEncoder(ABC):
    """Audio → (T, dim) float32 features at exactly 30 FPS (frame i covers [i/30, (i+1)/30)).

    Class attributes describe the encoder for ``dancegen plugins``: ``name`` (registry name),
    ``needs_weights`` (neural weights or precomputed features must be supplied or downloaded), ``weights`` (what:
    a file name, a Hugging Face model id, a features folder), ``download_size`` (approximate size of that one-time
    download, e.g. ``"≈ 380 MB"``; empty when nothing is downloaded) and ``offline`` (ready on a fresh install with
    no network: nothing to download or supply). Instances set ``sample_rate`` (the rate the encoder resamples audio
    to) and implement ``dim``, :meth:`encode` and :meth:`config`.
    """

    name: ClassVar[str] = ""
    needs_weights: ClassVar[bool] = False
    weights: ClassVar[str] = ""
    download_size: ClassVar[str] = ""
    offline: ClassVar[bool] = True
    #: Output dim with default options, known without weights (``None`` when it depends on the model).
    nominal_dim: ClassVar[int | None] = None
    sample_rate: int = 15360

    @property
    @abstractmethod
    def dim(self) -> int:
        """Feature dimension per frame."""

    @abstractmethod
    def encode(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """Encode ``audio`` (samples, or (channels, samples)) sampled at ``sr`` Hz → (T, dim) float32."""

    def encode_file(self, path: str | Path) -> np.ndarray:
        """Load an audio file (any rate, channels; wav/flac/ogg/mp3) and encode it; the file stem is the key."""
        from .audio import load_audio

        audio, sr = load_audio(path)
        return self.encode_keyed(audio, sr, Path(path).stem)

    def encode_keyed(self, audio: np.ndarray, sr: int, key: str | None) -> np.ndarray:
        """:meth:`encode` for encoders that look features up by song (``jukebox``); others ignore ``key``."""
        return self.encode(audio, sr)

    def config(self) -> dict[str, Any]:
        """Everything that changes the features (name, parameters, weights identity, random-weights flag)."""
        return {"name": self.name}

    def config_hash(self) -> str:
        """Stable 16-hex-digit hash of :meth:`config` (the feature-cache key)."""
        blob = json.dumps(self.config(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim})"


def check_features(features: np.ndarray, expected_frames: int, dim: int, who: str) -> np.ndarray:
    """Validate an encoder's output shape and return it as contiguous float32."""
    if features.ndim != 2 or features.shape != (expected_frames, dim):
        raise ValueError(f"{who}: expected features of shape ({expected_frames}, {dim}), got {features.shape}")
    return np.ascontiguousarray(features, dtype=np.float32)


class ResamplingEncoder(MusicEncoder):
    """A :class:`MusicEncoder` working on mono audio at ``self.sample_rate``: subclasses implement
    :meth:`encode_prepared`; :meth:`encode` validates, mixes to mono, resamples and checks the output shape.
    Composite encoders resample once per distinct rate and call :meth:`encode_prepared` directly."""

    def encode(self, audio: np.ndarray, sr: int) -> np.ndarray:
        from .audio import check_audio, resample, to_mono

        mono = to_mono(audio)
        check_audio(mono, sr, self.name or type(self).__name__)
        frames = num_frames(len(mono), sr)
        return self.encode_checked(resample(mono, sr, self.sample_rate), frames)

    def encode_checked(self, y: np.ndarray, frames: int) -> np.ndarray:
        """:meth:`encode_prepared` followed by the shape check."""
        return check_features(self.encode_prepared(y, frames), frames, self.dim, self.name or type(self).__name__)

    @abstractmethod
    def encode_prepared(self, y: np.ndarray, frames: int) -> np.ndarray:
        """Encode mono float32 ``y`` at ``self.sample_rate`` (at least ``frames`` motion frames long) into
        ``(frames, dim)`` features; ``frames`` comes from the original audio's length and rate."""
