"""dance.mp4: a short matplotlib render with the music muxed in, probed with ffmpeg (the optional ``video`` extra)."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from dancegen.errors import DancegenError
from dancegen.export import export
from dancegen.motion import axis_angle_to_rot6d

pytest.importorskip("matplotlib", reason="the optional video extra (matplotlib) is not installed")

SR = 15360
FRAMES = 60  # 2 s


def make_dance(frames: int = FRAMES) -> np.ndarray:
    t = np.arange(frames)[:, None, None] / 30.0
    rng = np.random.default_rng(5)
    aa = rng.normal(0, 0.4, (52, 3)) * np.sin(2 * np.pi * rng.uniform(0.3, 1.2, (52, 3)) * t)
    motion = np.zeros((frames, 319), dtype=np.float32)
    motion[:, 7:] = axis_angle_to_rot6d(torch.tensor(aa, dtype=torch.float32)).reshape(frames, -1).numpy()
    motion[:, 5] = 1.28
    return motion


def probe(path) -> tuple[str, int]:
    """(``ffmpeg -i`` stream report, decoded video frame count)."""
    from dancegen.export.video import find_ffmpeg

    ffmpeg = find_ffmpeg()
    info = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    decoded = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"],
                             capture_output=True, text=True).stderr
    frames = re.findall(r"frame=\s*(\d+)", decoded)
    return info, int(frames[-1]) if frames else -1


@pytest.fixture(scope="module")
def ffmpeg_available():
    from dancegen.export.video import find_ffmpeg

    try:
        find_ffmpeg()
    except DancegenError as exc:
        pytest.skip(str(exc))


def test_mp4_has_video_and_audio_streams_and_every_frame(tmp_path, ffmpeg_available):
    n = int(2.0 * SR)
    music = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / SR)).astype(np.float32)
    paths = export(make_dance(), music, SR, tmp_path, formats=("mp4",), genre="Jazz", text="This is a Jazz type.")
    info, frames = probe(paths["mp4"])
    assert re.search(r"Stream #0:\d.*Video: h264.*\b30 fps", info), info
    assert re.search(r"Stream #0:\d.*Audio: aac", info), info
    assert abs(frames - FRAMES) <= 1, frames
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info)
    assert duration, info
    assert abs(float(duration[3]) - 2.0) < 0.1, info
    assert [p.name for p in tmp_path.iterdir()] == ["dance.mp4"]


def test_mp4_without_audio_and_small_size(tmp_path, ffmpeg_available):
    from dancegen.export.video import write_video

    path = write_video(tmp_path / "silent.mp4", make_dance(30), size=(128, 96), dpi=40)
    info, frames = probe(path)
    assert re.search(r"Video: h264.*128x96", info), info
    assert "Audio:" not in info
    assert abs(frames - 30) <= 1


def test_mp4_rejects_odd_sizes(tmp_path):
    from dancegen.export.video import write_video

    with pytest.raises(DancegenError, match="even and at least 64"):
        write_video(tmp_path / "x.mp4", make_dance(5), size=(101, 100))


def test_clear_error_without_any_ffmpeg(tmp_path, monkeypatch):
    """With no ffmpeg on PATH and no imageio-ffmpeg, the export stops with one actionable message."""
    from dancegen.export import video

    monkeypatch.setattr(video.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # makes `import imageio_ffmpeg` fail
    with pytest.raises(DancegenError, match=r"mp4 export needs ffmpeg.*gcdance\[video\]"):
        export(make_dance(5), None, None, tmp_path, formats=("mp4",))
    assert list(tmp_path.iterdir()) == []
