"""The pictures of docs/dancegen/generation.md: a window seam, the height over a song, a planted foot from above.

Generates one procedural song with the bundled model twice — the paper's scheme with no clean-up (``--longform
inpaint --cleanup none``, the old default) and the new default (``blend``, ``feet``) — and writes:

* ``seam_inpaint.png`` / ``seam_blend.png``: frame strips (every frame) from the mp4 around the old dance's worst
  window seam, rendered by the project's own video exporter and tiled by the bundled ffmpeg;
* ``height.png``: pelvis and lowest-foot height over the song, before and after;
* ``foot.png``: the left toe's path seen from above during the frames its contact channel marks as planted.

    .venv/bin/python scripts/longform_figures.py --genre Popping --seconds 180 --out docs/dancegen/img
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch


def strip(motion: np.ndarray, audio: np.ndarray, sr: int, first: int, count: int, path: Path, skeleton: object,
          label: str) -> None:
    """Frames ``first … first + count − 1`` of ``motion`` as one row of video frames."""
    from dancegen.export.video import find_ffmpeg, write_video

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        a, b = round(first * sr / 30), round((first + count) * sr / 30)
        write_video(clip, motion[first:first + count], audio[a:b], sr, skeleton=skeleton, text=label,
                    size=(240, 240), dpi=60)
        subprocess.run([find_ffmpeg(), "-y", "-loglevel", "error", "-i", str(clip), "-frames:v", "1", "-vf",
                        f"tile={count}x1", str(path)], check=True)


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dancegen.demo import synth_song
    from dancegen.longform import plan_windows
    from dancegen.metrics.longform import body_acceleration, window_boundaries
    from dancegen.motion.kinematics import forward_kinematics
    from dancegen.pipeline import DancePipeline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genre", default="Popping")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("docs/dancegen/img"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    pipe = DancePipeline.from_checkpoint(None)
    audio, sr, _, _ = synth_song(args.genre, args.seconds, seed=0)
    cache = Path(tempfile.gettempdir()) / f"longform_figures-{args.genre}-{args.seconds:g}-{args.seed}.npz"
    if cache.is_file():  # the two dances of an earlier run with the same arguments
        motions = dict(np.load(cache))
    else:
        old = pipe(audio, sr, genre=args.genre, seed=args.seed, longform="inpaint", cleanup="none")
        new = pipe(audio, sr, genre=args.genre, seed=args.seed)
        print("old", old.quality[0], "\nnew", new.quality[0])
        motions = {"old": old.motion[0].numpy(), "new": new.motion[0].numpy()}
        np.savez(cache, **motions)
    joints = {k: forward_kinematics(torch.from_numpy(m), pipe.skeleton).numpy() for k, m in motions.items()}

    acc = body_acceleration(joints["old"])
    bounds = [b for b in window_boundaries(plan_windows(len(motions["old"]))) if 8 <= b < len(acc) - 8]
    worst = max(bounds, key=lambda b: acc[b - 3:b + 2].max())
    first = worst - 6
    strip(motions["old"], audio, sr, first, 12, args.out / "seam_inpaint.png", pipe.skeleton,
          f"inpaint, frames {first}-{first + 11}")
    strip(motions["new"], audio, sr, first, 12, args.out / "seam_blend.png", pipe.skeleton,
          f"blend, frames {first}-{first + 11}")

    t = np.arange(len(acc) + 2) / 30
    fig, ax = plt.subplots(figsize=(8, 3), dpi=100)
    for key, colour, name in (("old", "#e0503f", "inpaint, no clean-up"), ("new", "#1f77d4", "blend + clean-up")):
        j = joints[key]
        ax.plot(t, j[:, 0, 1], color=colour, lw=1, label=f"pelvis, {name}")
        ax.plot(t, j[:, [7, 8, 10, 11], 1].min(axis=1), color=colour, lw=0.6, ls="--", label=f"lowest foot, {name}")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlabel("seconds")
    ax.set_ylabel("height (m)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(args.out / "height.png")

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), dpi=100)
    span = slice(len(acc) // 2, len(acc) // 2 + 240)
    for ax, (key, name) in zip(axes, (("old", "inpaint, no clean-up"), ("new", "blend + clean-up"))):
        toe = joints[key][span, 10]
        planted = motions[key][span, 2] > 0.5
        ax.plot(toe[:, 0], toe[:, 2], color="#999999", lw=0.8)
        ax.scatter(toe[planted, 0], toe[planted, 2], s=6, color="#e0503f", label="contact channel > 0.5")
        ax.set_title(f"left toe from above, 8 s: {name}", fontsize=8)
        ax.set_xlabel("x (m)")
        ax.set_aspect("equal", adjustable="datalim")
    axes[0].set_ylabel("z (m)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "foot.png")
    print("worst seam at frame", worst, "→", args.out)


if __name__ == "__main__":
    main()
