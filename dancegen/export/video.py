"""``dance.mp4``: a matplotlib (Agg) render of the 3D skeleton over a floor grid, fixed camera, music muxed in.

Frames are drawn once per motion frame into an RGB buffer and piped to ffmpeg as raw video (H.264, yuv420p, 30 FPS;
audio AAC). ffmpeg comes from ``PATH`` or from the ``imageio-ffmpeg`` package; matplotlib and imageio-ffmpeg form the
optional ``video`` extra (``pip install gcdance[video]``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DancegenError
from ..motion.layout import FPS
from ..motion.skeleton import JOINT_NAMES_55, PARENTS_55, Skeleton
from ._common import as_audio, as_motion, as_skeleton, atomic_path, fit_audio, joint_positions

#: Our y-up coordinates → matplotlib's z-up ones by a proper rotation (+90° about x): (x, y, z) → (x, −z, y).
_TO_MPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
_COLOURS = {0: "#5a6270", 1: "#1f77d4", 2: "#e0503f"}


def find_ffmpeg() -> str:
    """Path of an ffmpeg executable: ``PATH`` first, then the ``imageio-ffmpeg`` package's binary (or the file its
    ``IMAGEIO_FFMPEG_EXE`` names, which must exist)."""
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    hint = "mp4 export needs ffmpeg: install it on PATH or `pip install gcdance[video]` (imageio-ffmpeg)"
    try:
        import imageio_ffmpeg

        exe = str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # ImportError, or the package without its binary
        raise DancegenError(hint) from None
    if not shutil.which(exe):
        raise DancegenError(f"{hint}; imageio-ffmpeg names {exe}, which is not an executable file")
    return exe


def check_video_tools() -> None:
    """One :class:`DancegenError` line unless ffmpeg and matplotlib (3D) are available for mp4 export."""
    find_ffmpeg()
    try:
        from mpl_toolkits.mplot3d import Axes3D  # noqa: F401
    except ImportError:
        raise DancegenError("mp4 export needs matplotlib: pip install gcdance[video]") from None


def _side(name: str) -> int:
    return 1 if name.startswith("left") else 2 if name.startswith("right") else 0


class _Renderer:
    """Draws one frame at a time on a reused figure (only the bone segments change between frames)."""

    def __init__(self, joints: np.ndarray, size: tuple[int, int], dpi: int, title: str) -> None:
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
            from mpl_toolkits.mplot3d.art3d import Line3DCollection
        except ImportError as exc:
            raise DancegenError("mp4 export needs matplotlib: pip install gcdance[video]") from exc
        self.pts = joints.astype(np.float64) @ _TO_MPL.T  # (T, 55, 3), z up
        width, height = size
        self.fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        ax: Any = self.fig.add_axes((0.0, 0.0, 1.0, 1.0), projection="3d")
        floor = float(self.pts[..., 2].min())
        root = self.pts[:, 0]
        centre = np.median(root, axis=0)
        half = max(1.1, 0.6 + 0.5 * float(np.ptp(root[:, :2], axis=0).max()))
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_zlim(floor, floor + 2 * half)
        ax.set_box_aspect((1, 1, 1), zoom=1.35)
        ax.view_init(elev=12, azim=-70)
        ax.set_axis_off()
        ticks = np.linspace(-half, half, 9)
        grid = [[(centre[0] + t, centre[1] - half, floor), (centre[0] + t, centre[1] + half, floor)] for t in ticks]
        grid += [[(centre[0] - half, centre[1] + t, floor), (centre[0] + half, centre[1] + t, floor)] for t in ticks]
        ax.add_collection3d(Line3DCollection(grid, colors="#c8ccd4", linewidths=0.6), autolim=False)
        self.body = list(range(1, 25))
        self.hands = list(range(25, 55))
        first = self.pts[0]
        self.body_lines = Line3DCollection(
            [[first[PARENTS_55[j]], first[j]] for j in self.body],
            colors=[_COLOURS[_side(JOINT_NAMES_55[j])] for j in self.body], linewidths=2.5,
        )
        self.hand_lines = Line3DCollection(
            [[first[PARENTS_55[j]], first[j]] for j in self.hands],
            colors=[_COLOURS[_side(JOINT_NAMES_55[j])] for j in self.hands], linewidths=0.8,
        )
        ax.add_collection3d(self.body_lines, autolim=False)
        ax.add_collection3d(self.hand_lines, autolim=False)
        if title:
            self.fig.text(0.02, 0.96, title, fontsize=9, va="top", color="#333333")
        self.width, self.height = width, height

    def frame(self, t: int) -> bytes:
        p = self.pts[t]
        self.body_lines.set_segments([[p[PARENTS_55[j]], p[j]] for j in self.body])
        self.hand_lines.set_segments([[p[PARENTS_55[j]], p[j]] for j in self.hands])
        self.canvas.draw()
        rgba = np.asarray(self.canvas.buffer_rgba())
        return np.ascontiguousarray(rgba[: self.height, : self.width, :3]).tobytes()


def write_video(
    path: str | Path,
    motion: np.ndarray | torch.Tensor,
    audio: np.ndarray | torch.Tensor | None = None,
    sr: int | None = None,
    *,
    skeleton: Skeleton | None = None,
    genre: str = "",
    text: str = "",
    size: tuple[int, int] = (480, 480),
    dpi: int = 80,
    crf: int = 23,
) -> Path:
    """Render ``dance.mp4`` (H.264 + AAC when audio is given) atomically and return its path."""
    width, height = (int(v) for v in size)
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise DancegenError(f"video size must be even and at least 64×64 pixels, got {width}×{height}")
    m = as_motion(motion)
    sound = as_audio(audio, sr)
    ffmpeg = find_ffmpeg()
    title = " · ".join(s for s in (genre, text) if s)
    renderer = _Renderer(joint_positions(m, as_skeleton(skeleton)), (width, height), dpi, title)
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmpdir, atomic_path(path) as tmp:
        cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-r", str(FPS), "-i", "-"]
        if sound is not None:
            import soundfile as sf

            wav = Path(tmpdir) / "audio.wav"
            sf.write(wav, fit_audio(sound[0], sound[1], m.shape[0]), sound[1], subtype="PCM_16")
            cmd += ["-i", str(wav), "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "128k"]
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(int(crf)), "-pix_fmt", "yuv420p",
                "-movflags", "+faststart", str(tmp)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        try:
            for t in range(m.shape[0]):
                proc.stdin.write(renderer.frame(t))
            proc.stdin.close()
        except BrokenPipeError:
            pass
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise DancegenError(f"ffmpeg failed to encode {path}: {stderr.strip().splitlines()[-1:] or 'no output'}")
    return path
