"""Registers dancegen's built-in music encoders, genre controllers and exporters (loaded by import, like any plugin).

Each built-in module is imported here only for its class; heavy libraries are imported when it is built."""

from __future__ import annotations

from collections.abc import Callable

from .plugins import hookimpl


@hookimpl
def dancegen_register_music_encoders(register: Callable[..., None]) -> None:
    from .features.baseline import Baseline35Encoder
    from .features.clap import CLAPEncoder
    from .features.jukebox import JukeboxEncoder
    from .features.mfcc import MFCCEncoder
    from .features.stft import STFTEncoder
    from .features.wav2clip import Wav2CLIPEncoder
    from .features.wav2vec2 import Wav2Vec2Encoder

    for cls in (STFTEncoder, MFCCEncoder, Baseline35Encoder, Wav2CLIPEncoder, CLAPEncoder, Wav2Vec2Encoder,
                JukeboxEncoder):
        register(cls)


@hookimpl
def dancegen_register_genre_controllers(register: Callable[..., None]) -> None:
    from .genre.controllers import LabelController, TextController
    from .genre.unconditioned import NoneController

    for cls in (LabelController, TextController, NoneController):
        register(cls)


@hookimpl
def dancegen_register_exporters(register: Callable[..., None]) -> None:
    from .export.builtin import BUILTIN_EXPORTERS

    for cls in BUILTIN_EXPORTERS:  # npz, bvh, html, mp4, edge_pkl: the order --format help and errors list them
        register(cls)
