"""The built-in exporters (registered by :mod:`dancegen._builtins`): ``npz``, ``bvh``, ``html``, ``mp4``,
``edge_pkl``. Each wraps one format module's writer, imported when it writes (this module stays light)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .exporter import Exporter

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ..motion.skeleton import Skeleton


class NpzExporter(Exporter):
    """SMPL-X parameters, AMASS style (poses, trans, betas), plus the 319-D motion: Blender's SMPL-X add-on."""

    name: ClassVar[str] = "npz"
    filename: ClassVar[str] = "motion.npz"
    opens_with: ClassVar[str] = "Blender (SMPL-X add-on), numpy"

    def write(self, motion: np.ndarray, audio: np.ndarray | torch.Tensor | None, sr: int | None,
              out_folder: str | Path, skeleton: Skeleton, *, genre: str = "", text: str = "",
              checkpoint_id: str = "", **extra: Any) -> Path:
        from .npz import write_npz

        return write_npz(self.path(out_folder), motion, skeleton=skeleton, genre=genre, text=text,
                         checkpoint_id=checkpoint_id)


class BvhExporter(Exporter):
    """52-joint SMPL-H skeleton with Z-Y-X Euler-angle animation (centimetres, y up)."""

    name: ClassVar[str] = "bvh"
    filename: ClassVar[str] = "dance.bvh"
    opens_with: ClassVar[str] = "Blender, Maya, MotionBuilder, any BVH reader"

    def write(self, motion: np.ndarray, audio: np.ndarray | torch.Tensor | None, sr: int | None,
              out_folder: str | Path, skeleton: Skeleton, *, genre: str = "", text: str = "",
              checkpoint_id: str = "", **extra: Any) -> Path:
        from .bvh import write_bvh

        return write_bvh(self.path(out_folder), motion, skeleton=skeleton)


class HtmlExporter(Exporter):
    """Self-contained 3D player with the music, one file, works offline in any browser."""

    name: ClassVar[str] = "html"
    filename: ClassVar[str] = "dance.html"
    uses_audio: ClassVar[bool] = True
    opens_with: ClassVar[str] = "any web browser"

    def write(self, motion: np.ndarray, audio: np.ndarray | torch.Tensor | None, sr: int | None,
              out_folder: str | Path, skeleton: Skeleton, *, genre: str = "", text: str = "",
              checkpoint_id: str = "", **extra: Any) -> Path:
        from .html import write_html

        return write_html(self.path(out_folder), motion, audio, sr, skeleton=skeleton, genre=genre, text=text)


class Mp4Exporter(Exporter):
    """Rendered stick-figure video (H.264) with the music (AAC)."""

    name: ClassVar[str] = "mp4"
    aliases: ClassVar[tuple[str, ...]] = ("video",)
    filename: ClassVar[str] = "dance.mp4"
    needs: ClassVar[tuple[str, ...]] = ("ffmpeg", "matplotlib")
    uses_audio: ClassVar[bool] = True
    opens_with: ClassVar[str] = "any video player"

    def check(self) -> None:
        from .video import check_video_tools

        check_video_tools()

    def write(self, motion: np.ndarray, audio: np.ndarray | torch.Tensor | None, sr: int | None,
              out_folder: str | Path, skeleton: Skeleton, *, genre: str = "", text: str = "",
              checkpoint_id: str = "", **extra: Any) -> Path:
        from .video import write_video

        return write_video(self.path(out_folder), motion, audio, sr, skeleton=skeleton, genre=genre, text=text)


class EdgePklExporter(Exporter):
    """The pickle EDGE writes (smpl_poses, smpl_trans, full_pose): the EDGE/FineDance/LODGE evaluation scripts."""

    name: ClassVar[str] = "edge_pkl"
    aliases: ClassVar[tuple[str, ...]] = ("pkl", "edge")
    filename: ClassVar[str] = "edge.pkl"
    opens_with: ClassVar[str] = "EDGE / FineDance / LODGE evaluation scripts"

    def write(self, motion: np.ndarray, audio: np.ndarray | torch.Tensor | None, sr: int | None,
              out_folder: str | Path, skeleton: Skeleton, *, genre: str = "", text: str = "",
              checkpoint_id: str = "", **extra: Any) -> Path:
        from .edge_pkl import write_edge_pkl

        return write_edge_pkl(self.path(out_folder), motion, skeleton=skeleton)


#: In registration order (the order ``--format`` help and error messages list them).
BUILTIN_EXPORTERS: tuple[type[Exporter], ...] = (NpzExporter, BvhExporter, HtmlExporter, Mp4Exporter,
                                                 EdgePklExporter)


def formats_help() -> str:
    """One line for ``--format`` help: the built-in formats with their aliases, and where plugin formats are listed.

    Cheap: it loads no plugin (and imports neither torch nor numpy), so a CLI can build its help text with it at
    import time; :func:`~dancegen.export.format_names` lists every registered format."""
    parts = [f"{cls.name} ({', '.join(cls.aliases)})" if cls.aliases else cls.name for cls in BUILTIN_EXPORTERS]
    return f"{', '.join(parts)}, or an exporter plugin's format (`dancegen plugins` lists them)"
