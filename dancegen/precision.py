"""Mixed precision, for sampling and training alike: the denoiser's autocast (bf16 or fp16) and, for fp16
training, a gradient scaler that mtlkit understands (``mtlkit.backward(grad_scale=)``: the aggregator sees unscaled
per-task gradients, ``.grad`` holds the scaled update, an overflow skips the step with the aggregator's state
untouched). torch is imported only when something is run, so the names are cheap to import."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from .errors import DancegenError

if TYPE_CHECKING:
    import torch
    from torch import Tensor

#: ``fp32``, or ``bf16`` / ``fp16`` autocast of the denoiser.
PRECISIONS = ("fp32", "bf16", "fp16")


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else one DancegenError line."""
    if precision not in PRECISIONS:
        raise DancegenError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    return precision


def autocast(precision: str, device_type: str) -> AbstractContextManager[Any]:
    """The denoiser's autocast context for ``precision`` on ``device_type`` (none under fp32)."""
    import torch

    if check_precision(precision) == "fp32":
        return nullcontext()
    return torch.autocast(device_type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


class Precision:
    """A training run's ``precision`` on ``device_type`` (``cuda``; ``cpu`` works too, slowly, and is what the
    tests use). fp16 gets a :class:`torch.amp.GradScaler`; fp32 and bf16 need none."""

    def __init__(self, precision: str, device_type: str) -> None:
        import torch

        self.name, self.device_type = check_precision(precision), device_type
        self.scaler = torch.amp.GradScaler(device_type) if precision == "fp16" else None

    def autocast(self) -> AbstractContextManager[Any]:
        """The forward pass's autocast context (none under fp32)."""
        return autocast(self.name, self.device_type)

    def grad_scale(self, device: str | torch.device) -> Tensor | None:
        """The loss scale s for ``mtlkit.backward(grad_scale=s)`` (a device tensor: no synchronisation), or None."""
        import torch

        if self.scaler is None:
            return None
        return self.scaler.scale(torch.ones((), device=device))

    def step(self, optimizer: torch.optim.Optimizer, clip: Callable[[], Tensor]) -> tuple[Tensor, bool]:
        """Unscale the gradients, ``clip()`` them (returns the norm), step the optimiser unless they overflowed and
        update the scale. Returns the norm and whether the optimiser stepped (without a scaler: always, and without
        waiting for the device)."""
        import torch

        if self.scaler is None:
            norm = clip()
            optimizer.step()
            return norm, True
        self.scaler.unscale_(optimizer)
        norm = clip()
        self.scaler.step(optimizer)  # skips the step on inf/NaN gradients (it reads the flag: one synchronisation)
        self.scaler.update()
        return norm, bool(torch.isfinite(norm))

    def state_dict(self) -> dict[str, Any]:
        """The scaler's state (the current scale and its growth tracker) for checkpoints; empty without one."""
        return {} if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


__all__ = ["PRECISIONS", "Precision", "autocast", "check_precision"]
