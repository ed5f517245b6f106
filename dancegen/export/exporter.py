"""The exporter interface shared by built-in formats and plugins, and the registry of exporters.

An :class:`Exporter` writes one file (``filename``) for a generated ``(T, 319)`` dance into an output folder.
Built-ins register by import (:mod:`dancegen._builtins`), third-party exporters through the hook
``dancegen_register_exporters(register)`` of a module in the ``dancegen`` entry-point group, like music encoders.

This module imports neither numpy nor torch: the registry (pluggy, mtlkit) is loaded on first use, so that
``dancegen --help`` stays fast.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import DancegenError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from mtlkit.registry import PluginTable, RegisteredItem

    from ..motion.skeleton import Skeleton


class Exporter(ABC):
    """A file format for a generated dance.

    Class attributes describe the format for ``dancegen plugins`` and ``--format``: ``name`` (registry name, lower
    case), ``aliases`` (other names ``--format`` accepts), ``filename`` (the file written in the output folder;
    unique among exporters), ``description`` (one line; default: the docstring's first line), ``needs`` (tools the
    writer needs beyond dancegen's own requirements, e.g. ``("ffmpeg", "matplotlib")``; :meth:`check` says what is
    missing), ``uses_audio`` (the music goes into the file) and ``opens_with`` (programs that read it).

    Subclasses implement :meth:`write`; they are built with no arguments.
    """

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    filename: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ()
    uses_audio: ClassVar[bool] = False
    opens_with: ClassVar[str] = ""

    @classmethod
    def summary(cls) -> str:
        """``description``, or the first line of the class docstring."""
        if cls.description:
            return cls.description
        doc = (cls.__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""

    def check(self) -> None:
        """Raise one :class:`DancegenError` line saying what to install when a tool in ``needs`` is missing.

        Called before anything is generated (``dancegen generate`` checks its formats first). The default checks
        nothing."""

    def path(self, out_folder: str | Path) -> Path:
        """The file this exporter writes in ``out_folder``."""
        return Path(out_folder) / self.filename

    @abstractmethod
    def write(
        self,
        motion: np.ndarray,
        audio: np.ndarray | torch.Tensor | None,
        sr: int | None,
        out_folder: str | Path,
        skeleton: Skeleton,
        *,
        genre: str = "",
        text: str = "",
        checkpoint_id: str = "",
        **extra: Any,
    ) -> Path:
        """Write :meth:`path` ``(out_folder)`` atomically and return it.

        ``motion`` is a checked float32 ``(T, 319)`` array (30 FPS, y up, metres); ``audio`` mono ``(samples,)`` or
        stereo samples at ``sr`` Hz, or ``None``; ``skeleton`` the rest skeleton. ``genre``, ``text`` and
        ``checkpoint_id`` describe what made the dance; accept ``**extra`` so that later keywords do not break an
        exporter. Use :func:`dancegen.atomic.write_atomic` so a crash never leaves a half-written file."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, filename={self.filename!r})"


_TABLE: PluginTable[Exporter] | None = None


def exporter_table() -> PluginTable[Exporter]:
    """The ``name → Exporter class`` table filled by the ``dancegen_register_exporters`` hook (loads plugins)."""
    global _TABLE
    if _TABLE is None:
        from mtlkit.registry import PluginTable

        from ..plugins import PLUGINS

        _TABLE = PluginTable(PLUGINS, "dancegen_register_exporters", Exporter, "exporter")
    return _TABLE


def registered_exporters() -> list[RegisteredItem[Exporter]]:
    """Every registered exporter, built-ins first (npz, bvh, html, mp4, edge_pkl), then plugins' by name; checked:
    plain, unique file names and names/aliases that clash with no other exporter's."""
    from mtlkit.registry import BUILTIN

    # built-ins in the order they register (npz, bvh, html, mp4, edge_pkl), then plugins' exporters by name
    table = list(exporter_table()._table().values())
    items = sorted(table, key=lambda item: (0, table.index(item), "") if item.origin == BUILTIN else (1, 0, item.name))
    names: dict[str, str] = {}
    files: dict[str, str] = {}
    for item in items:
        cls = item.cls
        who = f"exporter {item.name!r} ({item.origin})"
        filename = str(cls.filename or "")
        if not filename or Path(filename).name != filename or filename in (".", ".."):
            raise DancegenError(f"{who}: filename must be a plain file name, got {filename!r}")
        if filename in files:
            raise DancegenError(f"{who} writes {filename}, like exporter {files[filename]!r}")
        files[filename] = item.name
        for alias in (item.name, *(a.strip().lower() for a in cls.aliases)):
            if names.get(alias, item.name) != item.name:
                raise DancegenError(f"{who}: format name {alias!r} is already taken by exporter {names[alias]!r}")
            names[alias] = item.name
    return items


def format_names() -> list[str]:
    """The registered export format names, built-ins first (``['npz', 'bvh', 'html', 'mp4', 'edge_pkl', ...]``)."""
    return [item.name for item in registered_exporters()]


def format_aliases() -> dict[str, str]:
    """Alias → format name for every registered exporter (``{'pkl': 'edge_pkl', 'edge': 'edge_pkl', ...}``)."""
    return {a.strip().lower(): item.name for item in registered_exporters() for a in item.cls.aliases}


def get_exporter(name: str) -> type[Exporter]:
    """The exporter class registered as ``name`` or an alias (case-insensitive); one :class:`DancegenError` line
    listing the known names otherwise."""
    return _by_name()[resolve_formats([name])[0]]


def _by_name() -> dict[str, type[Exporter]]:
    return {item.name: item.cls for item in registered_exporters()}


def _known() -> str:
    aliases = format_aliases()
    text = ", ".join(format_names())
    return f"{text} (aliases: {', '.join(aliases)})" if aliases else text


def resolve_formats(formats: str | Iterable[str]) -> list[str]:
    """Format names (a list or a comma-separated string; aliases allowed) as distinct registered names, in the
    order given; one :class:`DancegenError` line for an unknown name or none, listing the known names."""
    names = [f for f in formats.split(",") if f.strip()] if isinstance(formats, str) else list(formats)
    known = set(format_names())
    aliases = format_aliases()
    chosen: list[str] = []
    for name in names:
        key = str(name).strip().lower()
        key = aliases.get(key, key)
        if key not in known:
            raise DancegenError(f"unknown export format {name!r}; valid formats: {_known()}")
        if key not in chosen:
            chosen.append(key)
    if not chosen:
        raise DancegenError(f"no export format given; valid formats: {_known()}")
    return chosen


def check_formats(formats: str | Iterable[str]) -> list[str]:
    """:func:`resolve_formats`, then each chosen exporter's :meth:`Exporter.check` (mp4: ffmpeg and matplotlib
    present) — before anything is generated."""
    chosen = resolve_formats(formats)
    classes = _by_name()
    for key in chosen:
        classes[key]().check()
    return chosen
