"""``dance.html``: one self-contained page (no network) that plays the dance as a skeleton with the music.

The 55 FK joint positions are embedded as base64 float32, the music as a base64 ``data:`` URI (Ogg Vorbis through
soundfile, or WAV). A 2D canvas draws bones and joints with a perspective camera that orbits on mouse drag, over a
floor grid. The frame shown is ``floor(audio.currentTime × 30)`` (the audio clock); without audio, or when the
browser refuses to play it, a ``performance.now()`` timer drives the frames. ``window.dancePlayer`` exposes
``frame``, ``playing``, ``currentTime``, ``usesAudioClock``, ``play()``, ``pause()``, ``seek(frame)``.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import torch

from ..atomic import write_text_atomic
from ..errors import DancegenError
from ..motion.layout import FPS
from ..motion.skeleton import JOINT_NAMES_55, PARENTS_55, Skeleton
from ._common import as_audio, as_motion, as_skeleton, fit_audio, joint_positions
from ._player import TEMPLATE

_AUDIO_FORMATS = {"ogg": ("OGG", "VORBIS", "audio/ogg"), "wav": ("WAV", "PCM_16", "audio/wav")}


def encode_audio(audio: np.ndarray, sr: int, fmt: str = "ogg") -> str:
    """(samples, channels) float audio → a ``data:`` URI (Ogg Vorbis or 16-bit WAV)."""
    import soundfile as sf

    if fmt not in _AUDIO_FORMATS:
        raise DancegenError(f"unknown audio format {fmt!r}; choose one of {', '.join(_AUDIO_FORMATS)}")
    container, subtype, mime = _AUDIO_FORMATS[fmt]
    buf = io.BytesIO()
    sf.write(buf, audio, sr, format=container, subtype=subtype)
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _side(name: str) -> int:
    return 1 if name.startswith("left") else 2 if name.startswith("right") else 0


def render_html(
    motion: np.ndarray | torch.Tensor,
    audio: np.ndarray | torch.Tensor | None = None,
    sr: int | None = None,
    *,
    skeleton: Skeleton | None = None,
    genre: str = "",
    text: str = "",
    audio_format: str = "ogg",
) -> str:
    """The player page as a string (see the module docstring)."""
    if audio_format not in _AUDIO_FORMATS:
        raise DancegenError(f"unknown audio format {audio_format!r}; choose one of {', '.join(_AUDIO_FORMATS)}")
    m = as_motion(motion)
    joints = joint_positions(m, as_skeleton(skeleton))  # (T, 55, 3)
    sound = as_audio(audio, sr)
    src = ""
    if sound is not None:
        wave = fit_audio(sound[0], sound[1], m.shape[0])
        try:
            uri = encode_audio(wave, sound[1], audio_format)
        except Exception:  # libsndfile without Vorbis, or a rate Vorbis refuses: fall back to WAV
            if audio_format == "wav":
                raise
            uri = encode_audio(wave, sound[1], "wav")
        src = f'src="{uri}"'
    root = joints[:, 0]
    data = {
        "fps": FPS,
        "frames": int(m.shape[0]),
        "joints": 55,
        "parents": [max(p, 0) for p in PARENTS_55],
        "side": [_side(n) for n in JOINT_NAMES_55],
        "hand_start": 25,
        "floor": float(joints[..., 1].min()),
        "center": [float(np.median(root[:, 0])), float(np.median(root[:, 1])), float(np.median(root[:, 2]))],
        "genre": str(genre),
        "text": str(text),
        "has_audio": sound is not None,
        "positions": base64.b64encode(joints.astype("<f4").tobytes()).decode("ascii"),
    }
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return TEMPLATE.replace("__AUDIO__", src).replace("__DATA__", payload)


def write_html(
    path: str | Path,
    motion: np.ndarray | torch.Tensor,
    audio: np.ndarray | torch.Tensor | None = None,
    sr: int | None = None,
    *,
    skeleton: Skeleton | None = None,
    genre: str = "",
    text: str = "",
    audio_format: str = "ogg",
) -> Path:
    """Write ``dance.html`` atomically and return its path."""
    page = render_html(motion, audio, sr, skeleton=skeleton, genre=genre, text=text, audio_format=audio_format)
    return write_text_atomic(path, page)
