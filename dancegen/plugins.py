"""dancegen's plugin manager (pluggy): the hooks through which music encoders, genre controllers, exporters and
CLI commands are provided.

Hooks ``dancegen_register_music_encoders(register)``, ``dancegen_register_genre_controllers(register)``,
``dancegen_register_exporters(register)`` and ``dancegen_register_commands(app)``. Each kind's table lives with its
base class (:mod:`dancegen.features.registry`, :mod:`dancegen.genre.registry`, :mod:`dancegen.export.exporter`);
this module imports none of them. Built-ins register by import (:mod:`dancegen._builtins`); third-party plugins
through the entry-point group ``dancegen``; ``DANCEGEN_LOAD_PLUGINS`` selects them like ``MTLKIT_LOAD_PLUGINS``
(unset = all, empty = none, ``a,b`` = only those).
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from mtlkit.registry import PluginManagerHolder

hookspec = pluggy.HookspecMarker("dancegen")
hookimpl = pluggy.HookimplMarker("dancegen")


class _Specs:
    @hookspec
    def dancegen_register_music_encoders(self, register: Callable[..., None]) -> None:
        """Call ``register(MusicEncoderClass)`` once per music encoder provided."""

    @hookspec
    def dancegen_register_genre_controllers(self, register: Callable[..., None]) -> None:
        """Call ``register(GenreControllerClass)`` once per genre controller provided."""

    @hookspec
    def dancegen_register_commands(self, app: object) -> None:
        """Add commands to the ``dancegen`` CLI on ``app`` (a :class:`typer.Typer`): ``@app.command()`` or
        ``app.add_typer(group, name=...)``. Loaded when a command that is not built in is run (so ``dancegen
        --help`` does not import plugins); a built-in name is never replaced."""

    @hookspec
    def dancegen_register_exporters(self, register: Callable[..., None]) -> None:
        """Call ``register(ExporterClass)`` once per export format provided (:class:`dancegen.export.Exporter`)."""


PLUGINS = PluginManagerHolder("dancegen", _Specs, "dancegen._builtins", "dancegen", "DANCEGEN_LOAD_PLUGINS")


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a plugin object at run time (tests, notebooks)."""
    PLUGINS.register_plugin(plugin, name)


def unregister_plugin(plugin: object) -> None:
    """Undo :func:`register_plugin`."""
    PLUGINS.unregister_plugin(plugin)
