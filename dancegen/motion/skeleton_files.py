"""A rest skeleton named on the command line (``--skeleton``): ``default``, an SMPL-X model folder or a (55, 3)
joints ``.npy`` — the one reader shared by training and evaluation."""

from __future__ import annotations

from pathlib import Path

from ..errors import DancegenError
from .skeleton import Skeleton


def load_skeleton(spec: str) -> Skeleton:
    """:meth:`Skeleton.default` for ``"default"``, :meth:`Skeleton.from_smplx` for a folder,
    :meth:`Skeleton.from_joints_file` for a file; anything else raises one :class:`DancegenError` line."""
    if spec == "default":
        return Skeleton.default()
    path = Path(spec).expanduser()
    if path.is_dir():
        return Skeleton.from_smplx(path)
    if path.is_file():
        return Skeleton.from_joints_file(path)
    raise DancegenError(f"skeleton {spec!r}: not 'default', an SMPL-X model folder or a (55, 3) joints file")
