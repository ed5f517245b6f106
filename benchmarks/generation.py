"""End-to-end generation time of :class:`dancegen.pipeline.DancePipeline` for whole songs (random weights).

Times music encoding plus DDIM sampling (classifier-free guidance, cond + uncond in one forward) over the long-form
window plan, for songs of the given lengths. Random weights give the same cost as trained ones.

    .venv/bin/python benchmarks/generation.py --preset small --seconds 30 180 --steps 50 --json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from dancegen.diffusion import DiffusionScheduler
from dancegen.features import build_music_encoder
from dancegen.genre.registry import build_genre_controller
from dancegen.model import GCDanceDenoiser, ModelConfig, MotionNormalizer
from dancegen.pipeline import DancePipeline

SR = 15360


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--seconds", type=float, nargs="+", default=[30.0, 180.0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--window-batch", type=int, nargs="+", default=[16])
    ap.add_argument("--encoders", default="stft", help="music encoder spec (wav2clip,stft uses random Wav2CLIP "
                    "weights when none are installed)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    options = {"allow_random_weights": True} if "wav2clip" in args.encoders else {}
    encoder = build_music_encoder(args.encoders, **options)
    controller = build_genre_controller("label")
    torch.manual_seed(0)
    cfg = ModelConfig.preset(args.preset, music_dim=encoder.dim, genre_dim=controller.embedding_dim)
    model = GCDanceDenoiser(cfg)
    pipe = DancePipeline(model, DiffusionScheduler(), MotionNormalizer(), encoder, controller).to(args.device)
    rng = np.random.default_rng(0)
    pipe(rng.standard_normal(4 * SR).astype(np.float32) * 0.1, SR, genre="Jazz", steps=2)  # warm-up
    rows = []
    for seconds in args.seconds:
        audio = (0.1 * rng.standard_normal(int(seconds * SR))).astype(np.float32)
        for wb in args.window_batch:
            t0 = time.perf_counter()
            res = pipe(audio, SR, genre="Jazz", steps=args.steps, window_batch=wb)
            wall = time.perf_counter() - t0
            rows.append({"preset": args.preset, "params": model.num_parameters(), "song_s": seconds,
                         "frames": res.frames, "windows": res.stats["windows"], "window_batch": wb,
                         "steps": args.steps, "wall_s": round(wall, 3), "encode_s": res.stats["prepare_seconds"],
                         "sampling_s": res.stats["sampling_seconds"],
                         "ms_per_window_step": round(1000 * res.stats["sampling_seconds"]
                                                     / (res.stats["windows"] * args.steps), 3),
                         "realtime_factor": round(seconds / wall, 3), "device": args.device,
                         "threads": torch.get_num_threads()})
            if not args.json:
                r = rows[-1]
                print(f"{r['preset']} {seconds:7.1f} s song: {r['windows']:4d} windows, batch {wb:3d}, "
                      f"{r['steps']} steps → {r['wall_s']:8.2f} s (encode {r['encode_s']:.2f} s, "
                      f"{r['ms_per_window_step']:.2f} ms/window-step, {r['realtime_factor']:.2f}× real time)")
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
