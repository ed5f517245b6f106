"""Decoding an audio file for :func:`dancegen.features.audio.load_audio`: soundfile first, librosa (audioread) as
the fallback, the readable start of a file cut short, and the frame count its header declares (to notice the cut).

Decoders' own chatter (mpg123 inside libsndfile prints "Note: …" lines straight to file descriptor 2) is hidden;
the caller turns every failure into one line.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

#: Frames read at a time when salvaging the start of a file that fails to decode to its end.
_BLOCK = 4096
_CONTROL = set(range(0x09)) | set(range(0x0E, 0x20)) | {0x7F}


def looks_like_text(path: Path, size: int = 512) -> bool:
    """True when the file's first ``size`` bytes are UTF-8 text without control characters (no audio format
    starts so: their headers hold binary lengths)."""
    with open(path, "rb") as f:
        head = f.read(size)
    if not head or any(b in _CONTROL for b in head):
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a split last character is fine
    except UnicodeDecodeError:
        return False
    return True


@contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null meanwhile (C decoders write there directly)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no stderr to protect
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _wav_declared_frames(path: Path) -> int | None:
    """Frames a RIFF/WAVE header declares (its data chunk size over the block size), None when not such a file or
    the size is unknown (streamed files write 0 or 0xFFFFFFFF)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        align = 0
        while len(chunk := f.read(8)) == 8:
            name, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if name == b"fmt ":
                align = int.from_bytes(f.read(size)[12:14], "little")
                f.seek(size % 2, 1)
            elif name == b"data":
                return size // align if align and 0 < size < 0xFFFFFFFF else None
            else:
                f.seek(size + size % 2, 1)
    return None


def _salvage(path: Path) -> tuple[np.ndarray, int] | None:
    """The frames that decode before the error, block by block (a flac cut short fails as one big read)."""
    import soundfile as sf

    blocks = []
    try:
        with sf.SoundFile(str(path)) as f:
            sr = f.samplerate
            while True:
                try:
                    block = f.read(_BLOCK, dtype="float32", always_2d=True)
                except Exception:
                    break
                if not len(block):
                    break
                blocks.append(block)
    except Exception:
        return None
    return (np.concatenate(blocks), sr) if blocks else None


def _reason(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    text = re.sub(r"^Error opening .*?: ", "", text)
    return "format not recognised" if "not a regular file" in text else text


def decode(path: Path, max_seconds: float) -> tuple[np.ndarray, int, int | None]:
    """``(samples, sample rate, frames the header declares or None)``: samples (frames, channels) float32 from
    soundfile, or mono from librosa. Longer than ``max_seconds`` by its header, or undecodable: one
    :class:`DataError` line."""
    import soundfile as sf

    with _quiet_native_stderr():
        info: Any = None
        with suppress(Exception):  # not a format soundfile knows: librosa may still decode it
            info = sf.info(str(path))
        if info is not None and info.duration > max_seconds:
            raise DataError(f"audio file {path}: {info.duration / 60:.1f} min is longer than the "
                            f"{max_seconds / 60:g}-min limit; cut the song")
        try:
            data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        except Exception as first:
            salvaged = _salvage(path) if info is not None else None
            if salvaged is not None:
                data, sr = salvaged
            else:
                data, sr = _librosa_decode(path, first)
    declared = _wav_declared_frames(path) if info is not None and info.format.startswith("WAV") else None
    if declared is None and info is not None and info.frames > 0:
        declared = int(info.frames)
    return data, int(sr), declared


def _librosa_decode(path: Path, first: BaseException) -> tuple[np.ndarray, int]:
    try:
        import librosa

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y, sr = librosa.load(str(path), sr=None, mono=True)
    except Exception:
        raise DataError(f"cannot read audio file {path}: it is not audio soundfile or librosa can decode "
                        f"({_reason(first)})") from None
    return y, int(sr)
