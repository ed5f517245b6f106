"""Sampling speed in one run: the ``paper`` preset's 4-s clip, and a 3-minute song with the bundled model.

1. ``paper`` preset (random weights: the same cost as trained ones; the 705-D Wav2CLIP ‖ STFT input with random
   Wav2CLIP weights when none are installed), one 4-s clip through :class:`~dancegen.pipeline.DancePipeline`
   (classifier-free guidance, cond + uncond in one forward, ``cleanup="none"``): DDIM-50 with the condition path
   recomputed at every step (how sampling ran before the cached condition), DDIM-50 as it runs now (the default),
   and the few-step solvers. Median of ``--repeats`` interleaved rounds (``benchmarks/_timing.py``: each timed
   call follows an untimed one of the same setting); ratios against the first row.
2. The bundled model (``small``; what ``dancegen generate`` uses) on a procedural song of ``--song-seconds``
   (``dancegen.demo.synth_song``), the default settings (DDIM-50, long-form blend, foot clean-up) and the fastest
   few-step setting: wall time of the whole call (music features, sampling, clean-up) and × real time.

    .venv/bin/python benchmarks/speed_summary.py --threads 2 [--repeats 1] [--song-seconds 180] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from _timing import interleaved_medians
from cached_condition import uncached_switch

CLIP_CONFIGS = (("ddim", 50), ("unipc", 10), ("dpmpp_2m", 20))
SONG_CONFIGS = (("ddim", 50), ("unipc", 10))


def paper_clip(repeats: int) -> list[dict[str, Any]]:
    from dancegen.diffusion import DiffusionScheduler
    from dancegen.features import build_music_encoder
    from dancegen.genre.registry import build_genre_controller
    from dancegen.model import GCDanceDenoiser, ModelConfig, MotionNormalizer
    from dancegen.pipeline import DancePipeline

    encoder = build_music_encoder("wav2clip,stft", allow_random_weights=True)
    controller = build_genre_controller("label")
    torch.manual_seed(0)
    model = GCDanceDenoiser(ModelConfig.preset("paper", music_dim=encoder.dim, genre_dim=controller.embedding_dim))
    pipe = DancePipeline(model, DiffusionScheduler(), MotionNormalizer(), encoder, controller)
    sr = 22050
    audio = (np.random.default_rng(0).standard_normal(4 * sr) * 0.1).astype(np.float32)
    switch = uncached_switch(model)

    def clip(sampler: str, steps: int, cached: bool = True) -> Callable[[], object]:
        def run() -> object:
            switch(not cached)
            try:
                return pipe(audio, sr, genre="Popping", steps=steps, sampler=sampler, seed=0, cleanup="none")
            finally:
                switch(False)
        return run

    fns = {"ddim-50, condition recomputed each step": clip("ddim", 50, cached=False)}
    fns |= {f"{s}-{n}" + (" (default)" if s == "ddim" else ""): clip(s, n) for s, n in CLIP_CONFIGS}
    medians = interleaved_medians(fns, repeats=repeats, warmup=0)  # each round: an untimed call, then a timed one
    base = next(iter(medians.values()))
    return [{"part": "paper preset, one 4-s clip", "config": k, "seconds": round(v, 3),
             "speed_up": round(base / v, 2), "params": model.num_parameters()} for k, v in medians.items()]


def bundled_song(seconds: float) -> list[dict[str, Any]]:
    from dancegen.demo import synth_song
    from dancegen.pipeline import DancePipeline

    pipe = DancePipeline.from_checkpoint()
    audio, sr, _, _ = synth_song("Popping", seconds)
    pipe(audio[: 4 * sr], sr, genre="Popping", steps=2)  # warm-up (first-call allocations, lazy imports)
    rows = []
    for sampler, steps in SONG_CONFIGS:
        t0 = time.perf_counter()
        res = pipe(audio, sr, genre="Popping", steps=steps, sampler=sampler, seed=0)
        wall = time.perf_counter() - t0
        rows.append({"part": f"bundled model, {seconds:g}-s song", "config": f"{sampler}-{steps}",
                     "seconds": round(wall, 2), "realtime_factor": round(seconds / wall, 2),
                     "windows": res.stats["windows"], "sampling_s": round(res.stats["sampling_seconds"], 2),
                     "params": pipe.model.num_parameters()})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="timed rounds per clip configuration (median)")
    ap.add_argument("--song-seconds", type=float, default=180.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    head = f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {platform.processor() or 'CPU'}"
    rows = paper_clip(args.repeats) + bundled_song(args.song_seconds)
    if args.json:
        print(json.dumps({"machine": head, "rows": rows}, indent=1))
        return
    print(head)
    for r in rows:
        extra = (f"{r['speed_up']:6.2f}× the first row" if "speed_up" in r
                 else f"{r['realtime_factor']:6.2f}× real time ({r['windows']} windows)")
        print(f"{r['part']:<34} {r['config']:<42} {r['seconds']:9.2f} s  {extra}")


if __name__ == "__main__":
    main()
