"""Registers dancegen's built-in music encoders and genre controllers (loaded by import, like any plugin).

Each built-in module is imported here only for its class; heavy libraries are imported when it is built."""

from __future__ import annotations

from collections.abc import Callable

from .plugins import hookimpl


@hookimpl
def dancegen_register_music_encoders(register: Callable[..., None]) -> None:
    pass


@hookimpl
def dancegen_register_genre_controllers(register: Callable[..., None]) -> None:
    pass
