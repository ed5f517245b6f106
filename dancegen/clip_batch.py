"""Many short clips sampled together: the evaluation protocols' 4-s slices in batches instead of one by one.

Each clip (at most one 120-frame window) is generated exactly as ``DancePipeline.__call__`` would generate it alone
with the same seed: its own random generator draws its initial noise and every DDIM step's noise in the same order,
so the result does not depend on which clips share a batch (up to float rounding of the batched matrix products).
Only the model's forward passes are batched, which is where the time goes: a lone clip runs the denoiser on a batch
of 2 (conditional + unconditional), far below what the matrix kernels need to run at speed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .errors import DancegenError
from .longform import WINDOW, canonical_rot6d
from .motion.layout import NUM_CHANNELS


@dataclass(frozen=True)
class ClipRequest:
    """One clip: its audio (samples at ``sr`` Hz, at most 4 s), the genre (``genre`` label or ``text``), the seed."""

    audio: np.ndarray
    sr: int
    seed: int
    genre: str | None = None
    text: str | None = None
    song_key: str | None = None


def generate_clips(pipe: object, requests: Sequence[ClipRequest], steps: int = 50, guidance: float = 2.7,
                   eta: float = 1.0, batch_size: int = 16,
                   progress: Callable[[int, int], None] | None = None) -> list[Tensor]:
    """Motions (frames, 319) for every request, ``batch_size`` clips per denoiser batch (each run twice for CFG).

    Equivalent to ``pipe(r.audio, r.sr, text=r.text, genre=r.genre, steps=…, seed=r.seed).motion[0]`` per request.
    """
    from .pipeline import check_generation_options

    check_generation_options(steps=steps, guidance=guidance, eta=eta)
    if batch_size < 1:
        raise DancegenError(f"batch_size must be >= 1, got {batch_size}")
    out: list[Tensor] = []
    with torch.inference_mode():
        for start in range(0, len(requests), batch_size):
            out.extend(_batch(pipe, requests[start:start + batch_size], steps, guidance, eta))
            if progress is not None:
                progress(len(out), len(requests))
    return out


def _batch(pipe: object, requests: Sequence[ClipRequest], steps: int, guidance: float, eta: float) -> list[Tensor]:
    dev, sched, model = pipe.device, pipe.scheduler, pipe.model  # type: ignore[attr-defined]
    music, genre, frames, gens = [], [], [], []
    for r in requests:
        m, _, n = pipe.encode_music(r.audio, r.sr, song_key=r.song_key)  # type: ignore[attr-defined]
        if n > WINDOW:
            raise DancegenError(f"generate_clips takes clips of at most {WINDOW} frames ({WINDOW // 30} s); one has "
                                f"{n}: generate longer songs with the pipeline itself")
        music.append(m[:WINDOW])
        genre.append(pipe.resolve_genre(r.text, r.genre)[1])  # type: ignore[attr-defined]
        frames.append(n)
        gens.append(torch.Generator(device=dev).manual_seed(int(r.seed)))
    shape = (1, 1, WINDOW, NUM_CHANNELS)  # a lone clip's (variations, windows, frames, channels)

    def noise() -> Tensor:
        return torch.cat([torch.randn(shape, generator=g, device=dev) for g in gens]).view(len(gens), WINDOW, -1)

    music_b = torch.stack(music).to(dev)
    genre_b = torch.cat(genre).to(dev)
    x = noise()
    for t, t_prev in sched.step_pairs(steps):
        tt = torch.full((len(gens),), t, dtype=torch.long, device=dev)
        x0 = sched.maybe_clip(model.guided_forward(x, tt, music_b, genre_b, guidance))
        z = noise() if eta > 0 and t_prev >= 0 else None
        x = sched.ddim_step(x0, t, t_prev, x, eta=eta, noise=z)
    raw = pipe.normalizer.unnormalize(x).to("cpu", torch.float32)  # type: ignore[attr-defined]
    return [canonical_rot6d(raw[i:i + 1, :n])[0].clone() for i, n in enumerate(frames)]
