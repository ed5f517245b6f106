"""Per-channel normalisation of 319-D motion (the model and the diffusion work on normalised data).

``minmax`` (default, as EDGE/GCDance) maps each channel's training range to [−1, 1], which is what the sampler's
x̂0 clamp to [−1, 1] assumes; ``standard`` uses mean / std; ``none`` is the identity (the published GCDance code
feeds raw motion to the model — with the x̂0 clamp, root positions beyond ±1 m are then clamped while sampling,
which is why it is not the default). The four contact channels stay 0/1 (identity), so the
foot-contact threshold 0.95 means the same in both spaces. The affine maps are buffers: they travel in the
checkpoint's ``state_dict``.

Where unnormalisation happens: the model output x̂0 and the training target are normalised; ``L_S`` and ``L_V``
compare them as they are, while ``L_J`` and ``L_F`` (forward kinematics) first call :meth:`unnormalize` on both
(see :func:`dancegen.losses.task_losses`, argument ``normalizer``). Generated samples are unnormalised once, after
the last sampling step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..errors import DancegenError
from ..motion.layout import NUM_CHANNELS

CONTACT_CHANNELS = 4
_MODES = ("minmax", "standard", "none")


class MotionNormalizer(nn.Module):
    """x_norm = (x − shift) / scale per channel; contacts have shift 0, scale 1."""

    shift: Tensor
    scale: Tensor

    def __init__(self, channels: int = NUM_CHANNELS, mode: str = "minmax") -> None:
        super().__init__()
        if mode not in _MODES:
            raise DancegenError(f"unknown normalisation mode {mode!r}; choose one of: {', '.join(_MODES)}")
        self.mode = mode
        self.register_buffer("shift", torch.zeros(channels))
        self.register_buffer("scale", torch.ones(channels))

    @classmethod
    def fit(cls, windows: Tensor, mode: str = "minmax", eps: float = 1e-6) -> MotionNormalizer:
        """Fit on training windows (N, T, C) (or any (..., C)); channels with no spread keep scale 1."""
        if windows.ndim < 2 or windows.shape[-1] <= CONTACT_CHANNELS or windows.numel() == 0:
            raise DancegenError(f"normaliser needs non-empty (..., C) motion with C > 4, got {tuple(windows.shape)}")
        flat = windows.detach().reshape(-1, windows.shape[-1]).to(torch.float64)
        if not bool(torch.isfinite(flat).all()):
            raise DancegenError("normaliser: motion contains NaN or Inf")
        norm = cls(flat.shape[-1], mode)
        if mode == "none":  # identity: shift 0, scale 1 (the constructor's buffers)
            return norm
        if mode == "minmax":
            lo, hi = flat.min(dim=0).values, flat.max(dim=0).values
            shift, scale = (hi + lo) / 2, (hi - lo) / 2
        else:
            shift, scale = flat.mean(dim=0), flat.std(dim=0, unbiased=False)
        scale = torch.where(scale > eps, scale, torch.ones_like(scale))
        shift[:CONTACT_CHANNELS], scale[:CONTACT_CHANNELS] = 0.0, 1.0
        norm.shift.copy_(shift.float())
        norm.scale.copy_(scale.float())
        return norm

    def _check(self, x: Tensor) -> None:
        if x.shape[-1] != self.shift.shape[0]:
            raise DancegenError(f"motion has {x.shape[-1]} channels, the normaliser {self.shift.shape[0]}")

    def normalize(self, x: Tensor) -> Tensor:
        """Raw motion (..., C) → normalised (differentiable)."""
        self._check(x)
        return (x - self.shift.to(x)) / self.scale.to(x)

    def unnormalize(self, x: Tensor, clip: bool = False) -> Tensor:
        """Normalised (..., C) → raw motion; ``clip`` first clamps to [−1, 1] (the reference code's habit)."""
        self._check(x)
        if clip:
            x = x.clamp(-1.0, 1.0)
        return x * self.scale.to(x) + self.shift.to(x)

    def get_extra_state(self) -> dict[str, Any]:
        return {"mode": self.mode}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.mode = str(state.get("mode", "minmax"))

    def extra_repr(self) -> str:
        return f"channels={self.shift.shape[0]}, mode={self.mode!r}"
