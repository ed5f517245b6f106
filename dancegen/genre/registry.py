"""The genre controllers' registry: the ``name → GenreController class`` table filled by the
``dancegen_register_genre_controllers`` hook (:mod:`dancegen.plugins`), and building one from a name or config."""

from __future__ import annotations

from typing import Any

from mtlkit.registry import PluginTable, UnknownNameError

from ..errors import DancegenError
from ..plugins import PLUGINS
from .controller import GenreController

GENRE_CONTROLLERS = PluginTable(PLUGINS, "dancegen_register_genre_controllers", GenreController, "genre controller")


def build_genre_controller(config: str | dict[str, Any], **options: Any) -> GenreController:
    """A registered controller from its name (plus ``options``) or from a :meth:`GenreController.config` dict."""
    cfg = {"name": config} if isinstance(config, str) else dict(config)
    cfg.update(options)
    try:
        item = GENRE_CONTROLLERS.get(str(cfg.get("name", "")))
    except UnknownNameError as exc:
        raise DancegenError(str(exc)) from None
    return item.cls.from_config(cfg)
