"""Build the default procedural data set and measure it: build time, genre separability, beat alignment.

    .venv/bin/python benchmarks/synth_dataset.py [OUT] [--songs-per-genre 4] [--seconds 30]

Genre separability: a nearest-centroid classifier on per-window (4 s, 1-s stride) kinetic features and
facing-invariant pose statistics, trained on the train songs of ``splits.json`` and scored on the held-out songs.
BAS: the motion's kinematic beats against the saved music beats, and against the beats shifted by half a period.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dancegen.data.synth import build
from dancegen.genre.genres import GENRES
from dancegen.metrics.beats import beat_align_score
from dancegen.metrics.kinetic import kinetic_features
from dancegen.motion.convert import from_finedance
from dancegen.motion.kinematics import forward_kinematics
from dancegen.motion.skeleton import Skeleton

WINDOW, STRIDE = 120, 30


def window_features(pos: np.ndarray) -> np.ndarray:
    kin = kinetic_features((pos - pos[:1, :1])[:, :22])
    height = pos[:, :, 1]
    radial = np.linalg.norm((pos - pos[:, :1])[:, :, [0, 2]], axis=-1)
    hands = np.linalg.norm(pos[:, 25:55] - pos[:, [20] * 15 + [21] * 15], axis=-1)
    speed = np.linalg.norm(np.diff(pos, axis=0), axis=-1)
    return np.concatenate([np.log1p(np.abs(kin)), height.mean(0), height.std(0), radial.mean(0), hands.mean(0),
                           hands.std(0), speed.mean(0), speed.std(0)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default=None)
    parser.add_argument("--songs-per-genre", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp()) / "synth"
    t0 = time.perf_counter()
    report = build(out, songs_per_genre=args.songs_per_genre, seconds=args.seconds, force=True)
    print(f"build: {report.songs} songs, {report.minutes:.1f} min of dance in {time.perf_counter() - t0:.1f} s")

    torch.set_num_threads(1)
    labels = {r["filename"][:-4]: GENRES.index(r["style2"]) for r in json.loads((out / "labels.json").read_text())}
    splits = json.loads((out / "splits.json").read_text())
    skeleton = Skeleton.default()
    feats: dict[str, list[np.ndarray]] = {}
    true, shifted = [], []
    with torch.no_grad():
        for seq_id in labels:
            pos = forward_kinematics(from_finedance(np.load(out / "motion" / f"{seq_id}.npy")), skeleton).numpy()
            feats[seq_id] = [window_features(pos[s:s + WINDOW]) for s in range(0, len(pos) - WINDOW + 1, STRIDE)]
            beats = np.load(out / "beats" / f"{seq_id}.npy") * 30
            half = np.median(np.diff(beats)) / 2
            true.append(beat_align_score(pos, np.round(beats).astype(int)))
            shifted.append(beat_align_score(pos, np.round(beats + half).astype(int)))

    def stack(split: str) -> tuple[np.ndarray, np.ndarray]:
        x = [f for i in splits[split] for f in feats[i]]
        y = [labels[i] for i in splits[split] for _ in feats[i]]
        return np.stack(x), np.array(y)

    x_tr, y_tr = stack("train")
    x_te, y_te = stack("test")
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
    z_tr, z_te = (x_tr - mean) / std, (x_te - mean) / std
    centroids = np.stack([z_tr[y_tr == g].mean(0) for g in range(len(GENRES))])
    pred = np.argmin(((z_te[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    print(f"genre accuracy on held-out songs (nearest centroid, {len(y_te)} windows): {(pred == y_te).mean():.3f} "
          f"(chance {1 / len(GENRES):.3f})")
    for g, name in enumerate(GENRES):
        print(f"  {name:13s} {(pred[y_te == g] == g).mean():.2f}")
    print(f"BAS vs true beats {np.mean(true):.3f}; vs half-beat-shifted beats {np.mean(shifted):.3f}")


if __name__ == "__main__":
    main()
