"""Whole-song quality of generated dances: window seams, height drift, floor, foot skating, liveliness, BAS.

Generates procedural songs of realistic length with a model (default: the bundled one), once per long-form scheme
(``blend``, ``consensus``, ``inpaint``) and with/without foot clean-up, and prints the figures of
:mod:`dancegen.metrics.longform` per run, plus ratios against the first scheme listed (the baseline of this run).
The music features of a song are computed once and shared by all runs.

    .venv/bin/python benchmarks/longform.py --seconds 60,180 --genres Dai,Breaking --modes inpaint,blend
    .venv/bin/python benchmarks/longform.py --seconds 720 --genres Jazz --modes blend --json out.json

Not a test: it takes minutes (a 3-min song is ≈ 1 min of sampling per run on 2 CPU threads).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch

FIGURES = ("seam_ratio", "height_drift_m", "floor_deviation_m", "contact_skating_mps", "penetration_max_m",
           "joint_speed_mps", "bas")


def _cached_encoder(pipe: Any) -> None:
    """Memoise the pipeline's music encoder on (samples, key) so every run of a song reuses its features."""
    enc, cache = pipe.music_encoder, {}
    original = enc.encode_keyed

    def encode_keyed(y: np.ndarray, sr: int, key: str | None) -> np.ndarray:
        k = (len(y), int(sr), key)
        if k not in cache:
            cache[k] = original(y, sr, key)
        return cache[k]

    enc.encode_keyed = encode_keyed


def main() -> None:
    from dancegen.demo import bas_of, synth_song
    from dancegen.pipeline import DancePipeline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the bundled model)")
    ap.add_argument("--seconds", default="60", help="comma-separated song lengths")
    ap.add_argument("--genres", default="Dai", help="comma-separated genres of the procedural songs")
    ap.add_argument("--modes", default="inpaint,blend", help="long-form schemes; the first is the baseline")
    ap.add_argument("--cleanup", default="none,feet", help="clean-up settings to run: any of none, floor, feet")
    ap.add_argument("--seeds", default="0", help="comma-separated sampling seeds")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None, help="also write every run's figures to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pipe = DancePipeline.from_checkpoint(args.checkpoint)
    _cached_encoder(pipe)
    rows: list[dict[str, Any]] = []
    modes = args.modes.split(",")
    cleanups = args.cleanup.split(",")
    print(f"{'song':>16} {'seed':>4} {'scheme':>9} {'clean':>5} " + " ".join(f"{f:>19}" for f in FIGURES)
          + f" {'s':>6}")
    for seconds in (float(s) for s in args.seconds.split(",")):
        for genre in args.genres.split(","):
            audio, sr, beats, _ = synth_song(genre, seconds, seed=0)
            for seed in (int(s) for s in args.seeds.split(",")):
                base: dict[str, float] = {}
                for mode in modes:
                    for cleanup in cleanups:
                        t0 = time.perf_counter()
                        res = pipe(audio, sr, genre=genre, seed=seed, steps=args.steps, longform=mode,
                                   cleanup=cleanup, song_key=f"{genre}-{seconds}")
                        took = time.perf_counter() - t0
                        q = dict(res.quality[0])
                        q["bas"] = bas_of(res.motion[0].numpy(), beats, pipe.skeleton)
                        row = {"song": f"{genre} {seconds:.0f}s", "seed": seed, "scheme": mode, "cleanup": cleanup,
                               "seconds": round(took, 1), **q}
                        rows.append(row)
                        base = base or q
                        cells = []
                        for f in FIGURES:
                            v = q.get(f)
                            ratio = "" if v is None or not base.get(f) else f"({v / base[f]:.2f}×)"
                            cells.append(f"{'-' if v is None else f'{v:.4f}':>10}{ratio:>9}")
                        print(f"{row['song']:>16} {seed:>4} {mode:>9} {cleanup:>5} "
                              + " ".join(cells) + f" {took:>6.1f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
