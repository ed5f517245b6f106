"""dancegen's plugin registry (pluggy): music encoders and genre controllers.

Hooks ``dancegen_register_music_encoders(register)`` and ``dancegen_register_genre_controllers(register)``;
built-ins register by import (:mod:`dancegen._builtins`); third-party plugins through the entry-point group
``dancegen``; ``DANCEGEN_LOAD_PLUGINS`` selects them like ``MTLKIT_LOAD_PLUGINS`` (unset = all, empty = none,
``a,b`` = only those).
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from mtlkit.registry import PluginManagerHolder, PluginTable

from .features.encoder import MusicEncoder
from .genre.controller import GenreController

hookspec = pluggy.HookspecMarker("dancegen")
hookimpl = pluggy.HookimplMarker("dancegen")


class _Specs:
    @hookspec
    def dancegen_register_music_encoders(self, register: Callable[..., None]) -> None:
        """Call ``register(MusicEncoderClass)`` once per music encoder provided."""

    @hookspec
    def dancegen_register_genre_controllers(self, register: Callable[..., None]) -> None:
        """Call ``register(GenreControllerClass)`` once per genre controller provided."""


PLUGINS = PluginManagerHolder("dancegen", _Specs, "dancegen._builtins", "dancegen", "DANCEGEN_LOAD_PLUGINS")
MUSIC_ENCODERS = PluginTable(PLUGINS, "dancegen_register_music_encoders", MusicEncoder, "music encoder")
GENRE_CONTROLLERS = PluginTable(PLUGINS, "dancegen_register_genre_controllers", GenreController, "genre controller")


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a plugin object at run time (tests, notebooks)."""
    PLUGINS.register_plugin(plugin, name)


def unregister_plugin(plugin: object) -> None:
    """Undo :func:`register_plugin`."""
    PLUGINS.unregister_plugin(plugin)
