"""Exports of a generated dance: ``motion.npz`` (SMPL-X/AMASS), ``dance.bvh``, ``dance.html``, ``dance.mp4``,
``edge.pkl`` — and any format an exporter plugin registers (:class:`Exporter`, hook
``dancegen_register_exporters``).

>>> import numpy as np, tempfile
>>> from dancegen.export import export
>>> motion = np.zeros((30, 319), dtype=np.float32); motion[:, 7::6] = 1; motion[:, 11::6] = 1  # rest pose
>>> paths = export(motion, None, None, tempfile.mkdtemp(), formats=("npz", "bvh"))
>>> sorted(p.name for p in paths.values())
['dance.bvh', 'motion.npz']

Importing this package is cheap (no numpy, torch or plugins): the writers are imported on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DancegenError
from .builtin import formats_help
from .exporter import (
    Exporter,
    check_formats,
    format_aliases,
    format_names,
    get_exporter,
    registered_exporters,
    resolve_formats,
)

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ..motion.skeleton import Skeleton

# Public names of the format modules, imported when first used (``from dancegen.export import write_npz``).
_LAZY = {
    "BVH": "bvh", "read_bvh": "bvh", "write_bvh": "bvh",
    "edge_dict": "edge_pkl", "write_edge_pkl": "edge_pkl",
    "render_html": "html", "write_html": "html",
    "load_npz": "npz", "smplx_poses": "npz", "write_npz": "npz",
}


def __getattr__(name: str) -> Any:
    if name == "FORMATS":
        return format_files()
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def format_files() -> dict[str, str]:
    """Format name → file name written in the output folder, for every registered exporter (built-ins first).
    ``dancegen.export.FORMATS`` is the same dict."""
    return {item.name: item.cls.filename for item in registered_exporters()}


def export(
    motion_319: np.ndarray | torch.Tensor,
    audio: np.ndarray | torch.Tensor | None,
    sr: int | None,
    out_dir: str | Path,
    formats: Iterable[str] | str = ("npz", "bvh", "html"),
    skeleton: Skeleton | None = None,
    genre: str = "",
    text: str = "",
    checkpoint_id: str = "",
) -> dict[str, Path]:
    """Write a (T, 319) motion in each requested format into ``out_dir``; returns ``{format: path}``.

    ``formats``: registered format names (:func:`format_names`: ``npz``, ``bvh``, ``html``, ``mp4``, ``edge_pkl``
    and plugins' formats) or their aliases (``pkl``/``edge``, ``video``), as a list or a comma-separated string.
    ``audio`` (mono or stereo samples at ``sr`` Hz, or ``None``) goes into the HTML player and the mp4. Every file
    is written atomically. Unknown format names raise :class:`DancegenError` listing the valid ones.
    """
    from ._common import as_audio, as_motion, as_skeleton

    chosen = resolve_formats(formats)
    classes = {item.name: item.cls for item in registered_exporters()}
    m = as_motion(motion_319)
    skel = as_skeleton(skeleton)
    as_audio(audio, sr)  # check once, before anything is written
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DancegenError(f"output path {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for key in chosen:
        paths[key] = Path(classes[key]().write(m, audio, sr, out, skel, genre=genre, text=text,
                                               checkpoint_id=checkpoint_id))
    return paths


__all__ = [
    "BVH", "FORMATS", "Exporter", "check_formats", "edge_dict", "export", "format_aliases", "format_files",
    "format_names", "formats_help", "get_exporter", "load_npz", "read_bvh", "registered_exporters", "render_html",
    "resolve_formats", "smplx_poses", "write_bvh", "write_edge_pkl", "write_html", "write_npz",
]
