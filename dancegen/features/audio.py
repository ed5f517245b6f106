"""Audio input: load any wav/flac/ogg/mp3 file as mono float32, validate it, resample it.

Every bad input raises one :class:`~dancegen.errors.DataError` whose message names the file and the problem;
silent audio only warns (it encodes fine, but is almost certainly a mistake).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import DataError
from .encoder import FPS

#: Peak amplitude below which audio counts as silent (−100 dBFS).
SILENCE_PEAK = 1e-5


class SilentAudioWarning(UserWarning):
    """The audio is digital silence; encoders still run but the features carry no music."""


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Mix ``(samples,)``, ``(channels, samples)`` or ``(samples, channels)`` audio to mono float32.

    A 2-D array is read as ``(channels, samples)`` when its first axis is the shorter one (librosa's layout),
    else as ``(samples, channels)`` (soundfile's layout)."""
    a = np.asarray(audio)
    if a.ndim == 2:
        a = a.mean(axis=0 if a.shape[0] <= a.shape[1] else 1)
    elif a.ndim != 1:
        raise DataError(f"audio must be 1-D (samples) or 2-D (channels, samples), got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def check_audio(y: np.ndarray, sr: int, what: str = "audio") -> None:
    """Raise :class:`DataError` for empty, non-finite or sub-frame audio; warn on silence."""
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise DataError(f"{what}: sample rate must be a positive integer, got {sr!r}")
    if y.size == 0:
        raise DataError(f"{what}: the audio is empty")
    if not np.isfinite(y).all():
        bad = int((~np.isfinite(y)).sum())
        raise DataError(f"{what}: {bad} audio samples are NaN or infinite")
    if y.size * FPS < sr:
        raise DataError(
            f"{what}: audio of {y.size / sr * 1000:.1f} ms is shorter than one {FPS}-FPS frame "
            f"({1000 / FPS:.1f} ms)"
        )
    if float(np.abs(y).max()) < SILENCE_PEAK:
        warnings.warn(f"{what}: the audio is silent (peak below {SILENCE_PEAK:g})", SilentAudioWarning, stacklevel=3)


def load_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an audio file as ``(mono float32 samples, sample rate)``.

    soundfile reads wav, flac, ogg and (libsndfile ≥ 1.1) mp3; librosa (audioread) is the fallback for
    anything soundfile cannot decode. Channels are averaged.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"audio file not found: {p}")
    import soundfile as sf

    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
        y = data.mean(axis=1)
    except Exception as first:  # libsndfile cannot decode this file: try librosa/audioread (mp3, m4a, ...)
        try:
            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y, sr = librosa.load(str(p), sr=None, mono=True)
        except Exception:
            raise DataError(f"cannot read audio file {p}: {first}".replace("\n", " ")) from None
    y = np.ascontiguousarray(y, dtype=np.float32)
    check_audio(y, int(sr), str(p))
    return y, int(sr)


def resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    """Resample mono ``y`` from ``sr`` to ``target`` Hz exactly as ``librosa.load(path, sr=target)`` does
    (soxr high quality, output length ``ceil(len(y) * target / sr)``, so it covers all the input's frames)."""
    if sr == target:
        return np.ascontiguousarray(y, dtype=np.float32)
    import soxr  # librosa's own resampler backend (a hard dependency of librosa)

    n = int(np.ceil(len(y) * (float(target) / sr)))  # the length librosa.resample(fix=True) gives
    out = soxr.resample(np.asarray(y, dtype=np.float32), sr, target, quality="soxr_hq")
    out = out[:n] if len(out) >= n else np.pad(out, (0, n - len(out)))
    return np.ascontiguousarray(out, dtype=np.float32)
