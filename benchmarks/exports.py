"""File size and write time of every export format for a procedural dance with synthetic music.

    .venv/bin/python benchmarks/exports.py --seconds 30 [--formats npz,bvh,html,mp4,edge_pkl] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dancegen.export import FORMATS, export
from dancegen.motion import axis_angle_to_rot6d

SR = 15360


def procedural_dance(frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / 30.0
    aa = rng.normal(0, 0.4, (52, 3)) * np.sin(2 * np.pi * rng.uniform(0.3, 1.5, (52, 3)) * t + rng.uniform(0, 6))
    motion = np.zeros((frames, 319), dtype=np.float32)
    motion[:, 7:] = axis_angle_to_rot6d(torch.tensor(aa, dtype=torch.float32)).reshape(frames, -1).numpy()
    motion[:, 4] = 0.3 * np.sin(t[:, 0, 0])
    motion[:, 5] = 1.28 + 0.04 * np.sin(4 * np.pi * t[:, 0, 0])
    motion[:, 6] = 0.3 * np.cos(t[:, 0, 0])
    return motion


def synthetic_music(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    beat = np.exp(-20 * (t % 0.5))
    return (0.2 * np.sin(2 * np.pi * 220 * t) + 0.3 * beat * rng.normal(size=t.size)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    motion = procedural_dance(round(args.seconds * 30))
    music = synthetic_music(args.seconds)
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for fmt in args.formats.split(","):
            start = time.perf_counter()
            path = export(motion, music, SR, out, formats=(fmt,), genre="Jazz", text="This is a Jazz type of music.")
            seconds = time.perf_counter() - start
            rows.append({"format": fmt, "file": Path(path[fmt]).name, "bytes": Path(path[fmt]).stat().st_size,
                         "seconds": round(seconds, 3)})
    if args.json:
        print(json.dumps({"dance_seconds": args.seconds, "frames": motion.shape[0], "results": rows}, indent=1))
        return
    print(f"{args.seconds:.0f}-s dance ({motion.shape[0]} frames)")
    for r in rows:
        print(f"  {r['format']:9s} {r['file']:11s} {r['bytes'] / 1e6:7.2f} MB  {r['seconds']:6.2f} s")


if __name__ == "__main__":
    main()
