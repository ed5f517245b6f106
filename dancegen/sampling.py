"""What the denoising loop (:meth:`dancegen.pipeline.DancePipeline.denoise`) takes besides the model: where its
random draws come from (:class:`Noise`) and how a caller acts on x̂0 at every step (:class:`StepHook`); and what its
callers need of a pipeline (:class:`Denoising`, which :class:`~dancegen.pipeline.DancePipeline` is).

The loop is the same for a song's long-form windows (:mod:`dancegen.window_sampler`: joining the windows and
editing constraints act on x̂0 through the hook) and for batched evaluation clips (:mod:`dancegen.clip_batch`: one
generator per clip, so that a clip's draws do not depend on the clips it shares a batch with).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from .model import MotionNormalizer


class Noise:
    """The Gaussian draws of one sampling loop, in a fixed order.

    With one generator a draw fills the whole tensor from it (``torch.randn(shape, generator=g)``). With several,
    draw ``i`` along the first dimension comes from generator ``i`` (one per sample, each drawing its own slice in
    turn), so a sample's noise is the same whatever else shares its batch. A :class:`Noise` is what the scheduler's
    steps draw from (``scheduler.ddim_step(..., generator=noise)``): calling it gives noise shaped like its argument.
    """

    def __init__(self, generators: torch.Generator | Sequence[torch.Generator]) -> None:
        self.generators: list[torch.Generator] = (
            [generators] if isinstance(generators, torch.Generator) else list(generators))
        if not self.generators:
            raise ValueError("Noise needs at least one torch.Generator")

    @classmethod
    def seeded(cls, seeds: int | Sequence[int], device: str | torch.device = "cpu") -> Noise:
        """One generator on ``device`` seeded with ``seeds``, or one per seed (one per sample)."""
        if isinstance(seeds, int):
            return cls(torch.Generator(device=device).manual_seed(seeds))
        return cls([torch.Generator(device=device).manual_seed(int(s)) for s in seeds])

    def draw(self, shape: Sequence[int], device: str | torch.device, dtype: torch.dtype = torch.float32) -> Tensor:
        """Standard normal noise of ``shape`` (with several generators, ``shape[0]`` must be their number)."""
        shape = tuple(shape)
        if len(self.generators) == 1:
            return torch.randn(shape, generator=self.generators[0], device=device, dtype=dtype)
        if shape[0] != len(self.generators):
            raise ValueError(f"{len(self.generators)} generators cannot draw a batch of {shape[0]}")
        return torch.cat([torch.randn((1, *shape[1:]), generator=g, device=device, dtype=dtype)
                          for g in self.generators])

    def __call__(self, like: Tensor) -> Tensor:
        """Noise shaped like ``like`` (its device and dtype)."""
        return self.draw(like.shape, like.device, like.dtype)


@dataclass(frozen=True)
class StepEdit:
    """What a :class:`StepHook` returns: the x̂0 the step continues from and, optionally, known values (normalised,
    shaped like x) with a mask (broadcastable to x) that replace x_{t−1}'s entries after the step (drawn from
    q(known, t_prev), clean at the last step: replacement inpainting)."""

    x0: Tensor
    known: Tensor | None = None
    mask: Tensor | None = None


class StepHook(Protocol):
    """Called at every reverse step with the clipped x̂0 (shaped like x) and the step's ``t`` → ``t_prev``."""

    def __call__(self, x0: Tensor, t: int, t_prev: int) -> StepEdit: ...


class Denoising(Protocol):
    """What the long-form sampler needs of a pipeline: its device, its normaliser and its denoising loop
    (:meth:`DancePipeline.denoise <dancegen.pipeline.DancePipeline.denoise>`)."""

    normalizer: MotionNormalizer

    @property
    def device(self) -> torch.device: ...

    def denoise(self, x_T: Tensor, music: Tensor, genre: Tensor, steps: int, guidance: float, eta: float,
                noise: Noise, step_hook: StepHook | None = None, on_step: Callable[[], None] | None = None,
                sampler: str = "ddim") -> Tensor: ...
