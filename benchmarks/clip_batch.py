"""Evaluation-style generation of many 4-s clips: one pipeline call per clip vs ``generate_clips`` batches.

Builds a randomly initialised pipeline (``small`` preset unless ``--preset``; STFT music features, label
controller) and times N clips at S DDIM steps (CFG) both ways in the same process, then prints seconds per clip
and the ratio. The motions agree to float rounding (tests/dancegen/test_pipeline.py checks it).

    python benchmarks/clip_batch.py [--clips 32] [--steps 10] [--batch 16] [--preset small] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dancegen.clip_batch import ClipRequest, generate_clips
from dancegen.diffusion import DiffusionScheduler
from dancegen.features import build_music_encoder
from dancegen.genre.genres import GENRES
from dancegen.genre.registry import build_genre_controller
from dancegen.model import GCDanceDenoiser, ModelConfig, MotionNormalizer
from dancegen.pipeline import DancePipeline

SR = 15360


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    encoder = build_music_encoder("stft")
    controller = build_genre_controller("label", embedding="onehot")
    torch.manual_seed(0)
    model = GCDanceDenoiser(ModelConfig.preset(args.preset, music_dim=encoder.dim,
                                               genre_dim=controller.embedding_dim))
    pipe = DancePipeline(model.eval(), DiffusionScheduler(), MotionNormalizer(), encoder, controller)
    rng = np.random.default_rng(0)
    reqs = [ClipRequest((0.1 * rng.standard_normal(4 * SR)).astype(np.float32), SR, seed=i,
                        genre=GENRES[i % len(GENRES)]) for i in range(args.clips)]
    generate_clips(pipe, reqs[:2], steps=2)  # warm-up
    t0 = time.perf_counter()
    for r in reqs:
        pipe(r.audio, r.sr, genre=r.genre, steps=args.steps, seed=r.seed)
    alone = (time.perf_counter() - t0) / len(reqs)
    print(f"{args.preset}, {args.clips} clips × {args.steps} DDIM steps, {torch.get_num_threads()} thread(s)")
    print("\n| method | s / clip | speed-up |\n|---|---:|---:|")
    print(f"| one pipeline call per clip | {alone:.3f} | 1.00 |")
    for b in args.batch:
        t0 = time.perf_counter()
        generate_clips(pipe, reqs, steps=args.steps, batch_size=b)
        sec = (time.perf_counter() - t0) / len(reqs)
        print(f"| generate_clips, batch {b} | {sec:.3f} | {alone / sec:.2f} |")


if __name__ == "__main__":
    main()
