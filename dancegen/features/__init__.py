"""Music encoders: audio → (T, dim) float32 features at exactly 30 FPS.

:func:`build_music_encoder` builds one registered encoder, or a concatenation (``"wav2clip,stft"`` or
``"wav2clip+stft"``). Encoder modules import librosa/torch/transformers only when built.
"""

from __future__ import annotations

import re
from typing import Any

from ..motion.layout import FPS
from .encoder import MusicEncoder, ResamplingEncoder, check_features, num_frames

__all__ = ["FPS", "MusicEncoder", "ResamplingEncoder", "build_music_encoder", "check_features", "num_frames",
           "parse_encoder_spec"]


def parse_encoder_spec(spec: str) -> list[str]:
    """``"wav2clip,stft"`` or ``"wav2clip+stft"`` → ``["wav2clip", "stft"]`` (names lower-cased)."""
    from ..errors import DancegenError

    names = [n.strip().lower() for n in re.split(r"[,+]", spec)]
    if not spec.strip() or any(not n for n in names):
        raise DancegenError(f"bad music encoder spec {spec!r}: expected names joined by ',' or '+', e.g. wav2clip,stft")
    return names


#: Options that permit something rather than set it: given only to the encoders that accept them, never an error
#: when none does (``--allow-random-weights`` with ``stft`` alone, which has no weights, is a no-op).
PERMISSIONS = frozenset({"allow_random_weights"})


def _accepts(cls: type, key: str) -> bool:
    import inspect

    params = inspect.signature(cls).parameters
    return key in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def build_music_encoder(spec: str, **options: Any) -> MusicEncoder:
    """Build the encoder(s) named in ``spec``; several names give a :class:`CompositeEncoder` (features
    concatenated in order). ``options`` go to every child that accepts them (an option no child accepts is
    an error, except the :data:`PERMISSIONS`, which only the encoders that take them get); unknown names raise
    the registry's close-match error."""
    from ..errors import DancegenError
    from .registry import MUSIC_ENCODERS

    names = parse_encoder_spec(spec)
    classes = [MUSIC_ENCODERS.get(n).cls for n in names]
    if len(names) == 1:
        mine = {k: v for k, v in options.items() if k not in PERMISSIONS or _accepts(classes[0], k)}
        try:
            return MUSIC_ENCODERS.create(names[0], **mine)
        except ValueError as exc:
            raise DancegenError(str(exc)) from None

    unused = [k for k in options if k not in PERMISSIONS and not any(_accepts(c, k) for c in classes)]
    if unused:
        raise DancegenError(f"music encoder {spec!r}: no encoder accepts option(s) {', '.join(unused)}")
    from .composite import CompositeEncoder

    children = []
    for name, cls in zip(names, classes):
        mine = {k: v for k, v in options.items() if _accepts(cls, k)}
        try:
            children.append(MUSIC_ENCODERS.create(name, **mine))
        except ValueError as exc:
            raise DancegenError(str(exc)) from None
    return CompositeEncoder(children)
