"""Gain of computing the condition path once per window (``GCDanceDenoiser.prepare_condition``, issue 15).

1. One guided reverse step (cond + uncond batched, one 4-s window of 120 frames) with the raw music/genre tensors
   (everything recomputed) and with a prepared :class:`~dancegen.model.Condition`, for the ``small`` and ``paper``
   presets (random weights), interleaved in the same process (min and median wall time), plus the counted FLOPs;
   also the one-off ``prepare_condition`` cost and the max |Δ| between the two outputs.
2. A whole 4-s clip (50 DDIM steps) with the bundled model (``DancePipeline.from_checkpoint()``), the pipeline's
   cached loop against the same loop with caching switched off on the model instance.

    .venv/bin/python benchmarks/cached_condition.py [--threads 2] [--presets small paper] [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from dancegen.model import GCDanceDenoiser, ModelConfig

FRAMES = 120


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int) -> dict[str, tuple[float, float]]:
    """(min, median) wall seconds of each function over ``repeats`` interleaved rounds after ``warmup`` (as
    ``_timing.interleaved_medians``; on a shared, loaded machine the minimum is the steadier estimate of the
    uncontended time)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            w0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - w0, 0.0))
    return {name: (min(w for w, _ in ts), statistics.median(w for w, _ in ts)) for name, ts in times.items()}


def report(medians: dict[str, tuple[float, float]], baseline: str) -> None:
    best0, med0 = medians[baseline]
    print(f"{'variant':<28}{'min ms':>10}{'ratio':>8}{'median ms':>11}{'ratio':>8}")
    for name, (best, med) in medians.items():
        print(f"{name:<28}{best * 1e3:>10.1f}{best / best0:>8.3f}{med * 1e3:>11.1f}{med / med0:>8.3f}")


def bench_step(preset: str, batch: int, repeats: int) -> None:
    torch.manual_seed(0)
    model = GCDanceDenoiser(ModelConfig.preset(preset)).eval()
    cfg = model.config
    x = torch.randn(batch, FRAMES, 319)
    t = torch.full((batch,), 500)
    music, genre = torch.randn(batch, FRAMES, cfg.music_dim), torch.randn(batch, cfg.genre_dim)
    with torch.inference_mode():
        cond = model.prepare_condition(music, genre)
        diff = (model.guided_forward(x, t, cond, None, 2.7) - model.guided_forward(x, t, music, genre, 2.7)).abs()
        medians = interleaved({
            "uncached step": lambda: model.guided_forward(x, t, music, genre, 2.7),
            "cached step": lambda: model.guided_forward(x, t, cond, None, 2.7),
            "prepare_condition (once)": lambda: model.prepare_condition(music, genre),
        }, repeats=repeats, warmup=2)
    print(f"\n{preset} (B={batch}, {FRAMES} frames, {model.num_parameters() / 1e6:.1f}M params), "
          f"max |Δ x̂0| = {diff.max().item():.2e}")
    report(medians, "uncached step")
    (w0, c0), (w1, c1), (wp, _) = (medians[k] for k in ("uncached step", "cached step", "prepare_condition (once)"))
    print(f"speed-up per step: {w0 / w1:.3f}x (min), {c0 / c1:.3f}x (median); 50-step window (min): "
          f"{50 * w0:.2f} s → {50 * w1 + wp:.2f} s ({50 * w0 / (50 * w1 + wp):.3f}x)")
    flops = {}
    for name, c, g in (("uncached", music, genre), ("cached", cond, None)):
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            model.guided_forward(x, t, c, g, 2.7)
        flops[name] = counter.get_total_flops()
    print(f"counted matmul FLOPs per step: {flops['uncached'] / 1e9:.3f} → {flops['cached'] / 1e9:.3f} GFLOP "
          f"({flops['uncached'] / flops['cached']:.3f}x fewer; attention kernels not counted on CPU)")


def uncached_switch(model: GCDanceDenoiser) -> Callable[[bool], None]:
    """A switch that makes ``model`` recompute its condition path at every step (True) or cache it again (False),
    on the instance only: ``prepare_condition`` then returns the raw tensors and ``guided_forward`` takes them."""

    def raw_condition(music: torch.Tensor, genre: torch.Tensor) -> Any:
        return (music, genre)

    def raw_guided(x: torch.Tensor, t: torch.Tensor, c: Any, _none: None, w: float) -> torch.Tensor:
        return GCDanceDenoiser.guided_forward(model, x, t, c[0], c[1], w)

    def switch(on: bool) -> None:
        if on:
            model.__dict__.update(prepare_condition=raw_condition, guided_forward=raw_guided)
        else:
            for name in ("prepare_condition", "guided_forward"):
                model.__dict__.pop(name, None)

    return switch


def bench_clip(repeats: int) -> None:
    from dancegen.pipeline import DancePipeline

    pipe = DancePipeline.from_checkpoint()
    model = pipe.model
    rng = np.random.default_rng(0)
    sr = 22050
    audio = (rng.standard_normal(4 * sr) * 0.1).astype(np.float32)

    uncached = uncached_switch(model)

    def run(cached: bool) -> Any:
        uncached(not cached)
        try:
            return pipe(audio, sr, genre="Jazz", steps=50, seed=0, cleanup="none")
        finally:
            uncached(False)

    a, b = run(False), run(True)
    diff = np.abs(np.asarray(a.motion) - np.asarray(b.motion)).max()
    medians = interleaved({"uncached clip": lambda: run(False), "cached clip": lambda: run(True)},
                          repeats=repeats, warmup=1)
    print(f"\nbundled model ({model.config.width}w × {model.config.layers}L, music_dim {model.config.music_dim}), "
          f"one 4-s clip, 50 DDIM steps (whole pipeline call, incl. music features), max |Δ motion| = {diff:.2e}")
    report(medians, "uncached clip")
    (w0, c0), (w1, c1) = medians["uncached clip"], medians["cached clip"]
    print(f"speed-up per clip: {w0 / w1:.3f}x (min), {c0 / c1:.3f}x (median)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--presets", nargs="+", default=["small", "paper"])
    p.add_argument("--batch", type=int, default=1, help="windows per guided step (2×batch rows)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--clip-repeats", type=int, default=3)
    p.add_argument("--no-clip", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    for preset in args.presets:
        bench_step(preset, args.batch, args.repeats)
    if not args.no_clip:
        bench_clip(args.clip_repeats)


if __name__ == "__main__":
    main()
