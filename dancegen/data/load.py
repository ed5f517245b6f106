"""One entry point for every on-disk data set: :func:`detect_format` tells FineDance-layout folders (FineDance and
the procedural set) from AIST++ folders, :func:`load_dataset` loads a split of either.

AIST++ has no cross-genre/cross-dancer protocols: its splits are the official crossmodal lists (or a
``splits.json``), so ``protocol`` only applies to FineDance-layout folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..errors import DataError
from .sequence import OnError, SequenceSet

DataFormat = Literal["finedance", "aist"]


def detect_format(root: str | Path) -> DataFormat:
    """``"aist"`` (a ``motions/`` folder of .pkl files) or ``"finedance"`` (``motion/`` of .npy arrays; also the
    procedural set); anything else is a one-line :class:`DataError`."""
    from ..path_checks import check_input_dir

    root = Path(root).expanduser()
    check_input_dir(root, "data directory")
    if (root / "motions").is_dir():
        return "aist"
    if (root / "motion").is_dir():
        return "finedance"
    raise DataError(f"{root} is neither a FineDance-layout (motion/, music_wav/) nor an AIST++ (motions/, wav/) folder")


def check_dataset(root: str | Path) -> DataFormat:
    """The format of ``root`` with its layout checked (cheap: no file is decoded)."""
    from . import aist, finedance

    fmt = detect_format(root)
    (aist.check_layout if fmt == "aist" else finedance.check_layout)(Path(root).expanduser())
    return fmt


def load_dataset(
    root: str | Path,
    split: str = "train",
    protocol: str = "cross_genre",
    skeleton: object | None = None,
    on_error: OnError = "raise",
) -> SequenceSet:
    """Load ``split`` of the data set at ``root``, FineDance-layout or AIST++ (see :func:`detect_format`).
    The returned set's ``genres`` is the data set's own genre table (16 FineDance genres, 10 AIST++ genres)."""
    from .aist import load_aist
    from .finedance import load_finedance

    if detect_format(root) == "aist":
        return load_aist(root, split, skeleton, on_error)
    return load_finedance(root, split, protocol, skeleton, on_error)
