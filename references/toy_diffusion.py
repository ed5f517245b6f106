"""What the solver reference scripts (references/dpm_solver/, references/unipc/) share: dancegen's cosine betas and
timesteps recomputed without dancegen, the fixed toy x0-predictor, and the seeded start (x_T, phase).

Needs only numpy and torch, so the scripts run in a separate environment with diffusers."""

from __future__ import annotations

import math

import numpy as np
import torch

T = 1000
SHAPE = (2, 6, 5)


def cosine_betas(T: int = T, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """dancegen.diffusion.DiffusionScheduler's betas (float64)."""
    u = np.arange(T + 1, dtype=np.float64) / T
    f = np.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    f = f / f[0]
    return np.minimum(1 - f[1:] / f[:-1], max_beta)


def our_timesteps(n: int, T: int = T) -> list[int]:
    """DiffusionScheduler.set_timesteps(n): round(k·T/n) − 1 for k = n … 1."""
    return [round(k * T / n) - 1 for k in range(n, 0, -1)]


def toy_x0(x: torch.Tensor, t: int, phase: torch.Tensor) -> torch.Tensor:
    """A fixed, smooth, non-trivial x0-predictor in (−1, 1) (so clamping to [−1, 1] never acts)."""
    u = t / T
    return torch.tanh(0.8 * x / math.sqrt(1.0 + 3.0 * u) + 0.3 * torch.cos(phase + 4.0 * u))


def start() -> tuple[torch.Tensor, torch.Tensor, torch.Generator]:
    """The seeded x_T (SHAPE, float64), the toy predictor's phase (SHAPE[1:]) and the generator, which goes on to
    draw any per-step noise."""
    g = torch.Generator().manual_seed(0)
    x_T = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    phase = torch.rand(SHAPE[1:], generator=g, dtype=torch.float64) * 2 * math.pi
    return x_T, phase, g
