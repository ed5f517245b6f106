"""Exports of a generated dance: ``motion.npz`` (SMPL-X/AMASS), ``dance.bvh``, ``dance.html``, ``dance.mp4``,
``edge.pkl``.

>>> import numpy as np, tempfile
>>> from dancegen.export import export
>>> motion = np.zeros((30, 319), dtype=np.float32); motion[:, 7::6] = 1; motion[:, 11::6] = 1  # rest pose
>>> paths = export(motion, None, None, tempfile.mkdtemp(), formats=("npz", "bvh"))
>>> sorted(p.name for p in paths.values())
['dance.bvh', 'motion.npz']
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from ..errors import DancegenError
from ..motion.skeleton import Skeleton
from ._common import as_audio, as_motion, as_skeleton
from .bvh import BVH, read_bvh, write_bvh
from .edge_pkl import edge_dict, write_edge_pkl
from .html import render_html, write_html
from .npz import load_npz, smplx_poses, write_npz

#: Format name → file name written in the output folder.
FORMATS: dict[str, str] = {
    "npz": "motion.npz",
    "bvh": "dance.bvh",
    "html": "dance.html",
    "mp4": "dance.mp4",
    "edge_pkl": "edge.pkl",
}
_ALIASES = {"pkl": "edge_pkl", "edge": "edge_pkl", "video": "mp4"}


def resolve_formats(formats: Iterable[str] | str) -> list[str]:
    """Format names (a list or a comma-separated string; aliases allowed) as distinct :data:`FORMATS` keys; one
    :class:`DancegenError` line for an unknown name or none."""
    names = [f for f in formats.split(",") if f.strip()] if isinstance(formats, str) else list(formats)
    chosen: list[str] = []
    for name in names:
        key = str(name).strip().lower()
        key = _ALIASES.get(key, key)
        if key not in FORMATS:
            raise DancegenError(f"unknown export format {name!r}; valid formats: {', '.join(FORMATS)} (aliases: "
                                f"{', '.join(_ALIASES)})")
        if key not in chosen:
            chosen.append(key)
    if not chosen:
        raise DancegenError(f"no export format given; valid formats: {', '.join(FORMATS)}")
    return chosen


def check_formats(formats: Iterable[str] | str) -> list[str]:
    """:func:`resolve_formats`, and the tools the chosen formats need (mp4: ffmpeg and matplotlib) present — before
    anything is generated."""
    chosen = resolve_formats(formats)
    if "mp4" in chosen:
        from .video import check_video_tools

        check_video_tools()
    return chosen


def export(
    motion_319: np.ndarray | torch.Tensor,
    audio: np.ndarray | torch.Tensor | None,
    sr: int | None,
    out_dir: str | Path,
    formats: Iterable[str] = ("npz", "bvh", "html"),
    skeleton: Skeleton | None = None,
    genre: str = "",
    text: str = "",
    checkpoint_id: str = "",
) -> dict[str, Path]:
    """Write a (T, 319) motion in each requested format into ``out_dir``; returns ``{format: path}``.

    ``formats``: names from :data:`FORMATS` (or the aliases ``pkl``/``edge`` and ``video``), as a list or a
    comma-separated string. ``audio`` (mono or stereo samples at ``sr`` Hz, or ``None``) goes into the HTML player
    and the mp4. Every file is written atomically. Unknown format names raise :class:`DancegenError` listing the
    valid ones.
    """
    chosen = resolve_formats(formats)
    m = as_motion(motion_319)
    skel = as_skeleton(skeleton)
    as_audio(audio, sr)  # check once, before anything is written
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DancegenError(f"output path {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for key in chosen:
        target = out / FORMATS[key]
        if key == "npz":
            paths[key] = write_npz(target, m, skeleton=skel, genre=genre, text=text, checkpoint_id=checkpoint_id)
        elif key == "bvh":
            paths[key] = write_bvh(target, m, skeleton=skel)
        elif key == "html":
            paths[key] = write_html(target, m, audio, sr, skeleton=skel, genre=genre, text=text)
        elif key == "mp4":
            from .video import write_video

            paths[key] = write_video(target, m, audio, sr, skeleton=skel, genre=genre, text=text)
        else:
            paths[key] = write_edge_pkl(target, m, skeleton=skel)
    return paths


__all__ = [
    "BVH", "FORMATS", "check_formats", "edge_dict", "export", "load_npz", "read_bvh", "render_html", "resolve_formats",
    "smplx_poses", "write_bvh", "write_edge_pkl", "write_html", "write_npz",
]
