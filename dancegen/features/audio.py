"""Audio input: load any wav/flac/ogg/mp3 file as mono float32, validate it, resample it.

Every bad input raises one :class:`~dancegen.errors.DataError` whose message names the file and the problem;
silent audio and a file cut short only warn (they encode fine, but are almost certainly a mistake).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import DancegenWarning, DataError
from ..motion.layout import FPS

#: Peak amplitude below which audio counts as silent (−100 dBFS).
SILENCE_PEAK = 1e-5
#: Longest song :func:`load_audio` accepts (60 min; checked from the header before decoding when it can be).
MAX_SECONDS = 3600
#: A file larger than this that decodes to no samples is reported as cut short or corrupt, not as empty audio.
_HEADER_BYTES = 1024


class SilentAudioWarning(DancegenWarning):
    """The audio is digital silence; encoders still run but the features carry no music."""


class TruncatedAudioWarning(DancegenWarning):
    """Fewer frames decode than the file's header declares: the file was cut short (e.g. a partial copy)."""


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
    anything soundfile cannot decode. Channels are averaged. A folder, an empty or text file, a file that does not
    decode or one longer than :data:`MAX_SECONDS` raises one :class:`DataError` line; a file cut short (fewer
    frames decode than its header declares) decodes as far as it can, with a :class:`TruncatedAudioWarning`.
    """
    from ..path_checks import check_input_file
    from .audio_decode import decode, looks_like_text

    p = check_input_file(path, "audio file")
    size = p.stat().st_size
    if size == 0:
        raise DataError(f"cannot read audio file {p}: the file is empty (0 bytes)")
    if looks_like_text(p):
        raise DataError(f"cannot read audio file {p}: it is not audio (the file holds text)")
    data, sr, declared = decode(p, MAX_SECONDS)
    y = np.ascontiguousarray(data.mean(axis=1) if data.ndim == 2 else data, dtype=np.float32)
    if y.size == 0 and (declared or size > _HEADER_BYTES):
        raise DataError(f"cannot read audio file {p}: no audio decodes from its {size} bytes (cut short or corrupt)")
    if declared and declared - y.size > max(0.01 * declared, 0.1 * sr):
        warnings.warn(f"{p}: only {y.size / sr:.2f} s of the {declared / sr:.2f} s its header declares decode; the "
                      "file looks cut short (only the part that decodes is used)", TruncatedAudioWarning,
                      stacklevel=2)
    if y.size > MAX_SECONDS * sr:
        raise DataError(f"audio file {p}: {y.size / sr / 60:.1f} min is longer than the {MAX_SECONDS / 60:g}-min "
                        "limit; cut the song")
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
