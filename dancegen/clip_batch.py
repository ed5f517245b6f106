"""Many short clips sampled together: the evaluation protocols' 4-s slices in batches instead of one by one.

Each clip (at most one 120-frame window) is generated exactly as ``DancePipeline.__call__`` would generate it alone
with the same seed: its own random generator draws its initial noise and every DDIM step's noise in the same order,
so the result does not depend on which clips share a batch (up to float rounding of the batched matrix products).
Only the model's forward passes are batched, which is where the time goes: a lone clip runs the denoiser on a batch
of 2 (conditional + unconditional), far below what the matrix kernels need to run at speed. The reverse steps are
the pipeline's one denoising loop (:meth:`DancePipeline.denoise <dancegen.pipeline.DancePipeline.denoise>`), drawing
from one generator per clip (:class:`~dancegen.sampling.Noise`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .errors import DancegenError
from .longform import canonical_rot6d
from .motion.layout import NUM_CHANNELS, WINDOW
from .pipeline import DancePipeline, check_generation_options
from .sampling import Noise


@dataclass(frozen=True)
class ClipRequest:
    """One clip: its audio (samples at ``sr`` Hz, at most 4 s), the genre (``genre`` label or ``text``), the seed."""

    audio: np.ndarray
    sr: int
    seed: int
    genre: str | None = None
    text: str | None = None
    song_key: str | None = None


def generate_clips(pipe: DancePipeline, requests: Sequence[ClipRequest], steps: int = 50, guidance: float = 2.7,
                   eta: float = 1.0, batch_size: int = 16,
                   progress: Callable[[int, int], None] | None = None, sampler: str = "ddim") -> list[Tensor]:
    """Motions (frames, 319) for every request, ``batch_size`` clips per denoiser batch (each run twice for CFG).

    Equivalent to ``pipe(r.audio, r.sr, text=r.text, genre=r.genre, steps=…, seed=r.seed).motion[0]`` per request
    (``sampler``: ``ddim``, ``dpmpp_2m``, ``dpmpp_2m_sde`` or ``unipc``, as in the pipeline).
    """
    check_generation_options(steps=steps, guidance=guidance, eta=eta, sampler=sampler)
    if batch_size < 1:
        raise DancegenError(f"batch_size must be >= 1, got {batch_size}")
    out: list[Tensor] = []
    with torch.inference_mode():
        for start in range(0, len(requests), batch_size):
            out.extend(_batch(pipe, requests[start:start + batch_size], steps, guidance, eta, sampler))
            if progress is not None:
                progress(len(out), len(requests))
    return out


def _batch(pipe: DancePipeline, requests: Sequence[ClipRequest], steps: int, guidance: float, eta: float,
           sampler: str = "ddim") -> list[Tensor]:
    music, genre, frames = [], [], []
    for r in requests:
        m, _, n = pipe.encode_music(r.audio, r.sr, song_key=r.song_key)
        if n > WINDOW:
            raise DancegenError(f"generate_clips takes clips of at most {WINDOW} frames ({WINDOW // 30} s); one has "
                                f"{n}: generate longer songs with the pipeline itself")
        music.append(m[:WINDOW])
        genre.append(pipe.resolve_genre(r.text, r.genre)[1])
        frames.append(n)
    dev = pipe.device
    noise = Noise.seeded([int(r.seed) for r in requests], dev)  # each clip's draws as when it is sampled alone
    x_T = noise.draw((len(requests), WINDOW, NUM_CHANNELS), dev)
    x = pipe.denoise(x_T, torch.stack(music).to(dev), torch.cat(genre).to(dev), steps, guidance, eta, noise,
                     sampler=sampler)
    raw = pipe.normalizer.unnormalize(x).to("cpu", torch.float32)
    return [canonical_rot6d(raw[i:i + 1, :n])[0].clone() for i, n in enumerate(frames)]
