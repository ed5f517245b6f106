"""Sampling speed of the GCDance denoiser: one 4-s clip (120 frames), DDIM with classifier-free guidance.

For each preset: wall time per clip (N DDIM steps, cond + uncond batched in one forward), the model FLOPs per
guided forward (torch.utils.flop_counter.FlopCounterMode for the matmuls, plus QKᵀ/AV counted analytically when
the attention kernel is not counted, as on CPU), the achieved FLOP/s,
and that as a fraction of a plain fp32 matmul with the model's dominant shape (2T × width) @ (width × ff),
timed right after each clip for as long as the clip took (median ratio over the repeats). With --steps below 50
the 50-step time is extrapolated linearly (printed as such).

    .venv/bin/python benchmarks/sampling.py --presets small paper --steps 50 5 --json
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from dancegen.diffusion import DiffusionScheduler
from dancegen.model import GCDanceDenoiser, ModelConfig

FRAMES = 120
PAPER_STEPS = 50


def matmul_flops_per_s(m: int, k: int, n: int, device: str, seconds: float) -> float:
    """Sustained fp32 FLOP/s of (m×k) @ (k×n) repeated for about ``seconds`` (same matrices, as a plain loop)."""
    a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
    for _ in range(3):
        a @ b
    _sync(device)
    count, t0 = 0, time.perf_counter()
    while True:
        for _ in range(8):
            a @ b
        count += 8
        _sync(device)
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return 2 * m * k * n * count / dt


def attention_flops(cfg: ModelConfig, batch: int) -> int:
    """QKᵀ and AV FLOPs of one forward (both experts): 4·n·m·W per sequence for n queries and m keys."""
    n, m = FRAMES, FRAMES + 3
    return 2 * cfg.layers * batch * 4 * cfg.width * (n * n + n * m)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def sample_clip(model: GCDanceDenoiser, scheduler: DiffusionScheduler, steps: int, device: str,
                guidance: float = 2.7) -> torch.Tensor:
    """One clip: x_T ~ N(0, I), then DDIM (η = 1) with guided x̂0 predictions."""
    cfg = model.config
    g = torch.Generator(device=device).manual_seed(0)
    music = torch.randn(1, FRAMES, cfg.music_dim, device=device, generator=g)
    genre = torch.randn(1, cfg.genre_dim, device=device, generator=g)
    x = torch.randn(1, FRAMES, 319, device=device, generator=g)
    for t, t_prev in scheduler.step_pairs(steps):
        x0 = model.guided_forward(x, torch.full((1,), t, device=device), music, genre, guidance)
        x = scheduler.ddim_step(x0, t, t_prev, x, eta=1.0, generator=g)
    return x


def bench(preset: str, steps: int, device: str, repeats: int) -> dict:
    torch.manual_seed(0)
    cfg = ModelConfig.preset(preset)
    model = GCDanceDenoiser(cfg).to(device).eval()
    scheduler = DiffusionScheduler()
    with torch.inference_mode():
        x = torch.randn(1, FRAMES, 319, device=device)
        t = torch.zeros(1, dtype=torch.long, device=device)
        music = torch.randn(1, FRAMES, cfg.music_dim, device=device)
        args = (x, t, music, torch.randn(1, cfg.genre_dim, device=device))
        counter = FlopCounterMode(display=False)
        with counter:
            model.guided_forward(*args, 2.7)
        counts = counter.get_flop_counts()["Global"]
        flops_per_forward = counter.get_total_flops()
        if not any("attention" in str(op) for op in counts):  # CPU SDPA kernels are not counted: add them
            flops_per_forward += attention_flops(cfg, batch=2)
        sample_clip(model, scheduler, 2, device)  # warm-up
        # interleave clip timings with equally long reference-matmul timings, so that both see the same machine
        # load (shared CPUs are noisy); report the fastest clip and the median ratio
        times, ratios, refs = [], [], []
        for _ in range(repeats):
            _sync(device)
            t0 = time.perf_counter()
            sample_clip(model, scheduler, steps, device)
            _sync(device)
            dt = time.perf_counter() - t0
            ref = matmul_flops_per_s(2 * FRAMES, cfg.width, cfg.ff, device, seconds=dt)
            times.append(dt)
            refs.append(ref)
            ratios.append(flops_per_forward * steps / dt / ref)
    clip_s = min(times)
    achieved = flops_per_forward * steps / clip_s
    ref = max(refs)
    return {
        "preset": preset, "parameters": model.num_parameters(), "device": device,
        "threads": torch.get_num_threads(), "steps": steps, "clip_seconds": clip_s,
        "clip_seconds_50_steps": clip_s * PAPER_STEPS / steps, "extrapolated": steps != PAPER_STEPS,
        "gflop_per_guided_forward": flops_per_forward / 1e9, "achieved_gflop_s": achieved / 1e9,
        "matmul_shape": [2 * FRAMES, cfg.width, cfg.ff], "matmul_gflop_s": ref / 1e9,
        "fraction_of_matmul": float(torch.tensor(ratios).median()), "fractions": ratios,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["small", "paper"])
    parser.add_argument("--steps", nargs="+", type=int, default=[PAPER_STEPS],
                        help="DDIM steps per preset (one value for all, or one per preset)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object per preset")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.steps * len(args.presets) if len(args.steps) == 1 else args.steps
    if len(steps) != len(args.presets):
        parser.error("--steps needs one value or one per preset")
    for preset, n in zip(args.presets, steps):
        r = bench(preset, n, args.device, args.repeats)
        if args.json:
            print(json.dumps(r))
            continue
        note = f" (extrapolated from {n} steps)" if r["extrapolated"] else ""
        print(f"{preset:6s} {r['parameters']:>11,d} params  {r['device']}×{r['threads']} threads  "
              f"{r['clip_seconds_50_steps']:.3f} s / 4-s clip at 50 steps{note}  "
              f"{r['gflop_per_guided_forward']:.2f} GFLOP/forward  {r['achieved_gflop_s']:.1f} GFLOP/s = "
              f"{100 * r['fraction_of_matmul']:.0f}% of a {r['matmul_shape']} fp32 matmul "
              f"(median over repeats; matmul best {r['matmul_gflop_s']:.1f} GFLOP/s)")


if __name__ == "__main__":
    main()
