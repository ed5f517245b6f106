"""The music encoders' registry: the ``name → MusicEncoder class`` table filled by the
``dancegen_register_music_encoders`` hook (:mod:`dancegen.plugins`); :func:`dancegen.features.build_music_encoder`
builds from it."""

from __future__ import annotations

from mtlkit.registry import PluginTable

from ..plugins import PLUGINS
from .encoder import MusicEncoder

MUSIC_ENCODERS = PluginTable(PLUGINS, "dancegen_register_music_encoders", MusicEncoder, "music encoder")
