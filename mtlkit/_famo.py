"""FAMO (Liu, Liang, Xu, Gong, Stone and Liu, "FAMO: Fast Adaptive Multitask Optimization", NeurIPS 2023).

Task logits ``ξ`` give ``z = softmax(ξ)``; with ``D_i = L_i − L_i^min + ε`` the step descends
``Σ_i z_i log D_i / c``, ``c = Σ_i z_i / D_i`` (Sec. 3.2), i.e. the loss weights are ``w_i = z_i / (c D_i)``. After
the optimiser step the logits move by one Adam step along ``−∇_ξ`` of ``zᵀδ``, ``δ_i = log D_i(before) −
log D_i(after)`` (Eq. 9 with the paper's decay γ as Adam's weight decay): tasks whose loss fell less gain weight.
That update needs the losses after the step: call :meth:`after_step` with the same batch's losses re-evaluated.
Defaults are the authors' (``gamma=0.01``, ``lr=0.025``, Adam β = (0.9, 0.999), ε = 1e-8).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ._aggregator import Properties
from ._loss_weighting import LossWeighting, check_losses
from ._state import restore_tensors, tensors_state

_BETAS, _ADAM_EPS, _LOSS_EPS = (0.9, 0.999), 1e-8, 1e-8


class FAMO(LossWeighting):
    """FAMO: loss weights ``softmax(ξ)_i / (c D_i)``; the logits ξ learn from each step's log-loss decrease.

    Args:
        gamma: decay of the logits (Adam weight decay; the authors' 0.01).
        lr: learning rate of the logits' own Adam (0.025).
        min_losses: the losses' lower bounds ``L^min`` (default 0), a sequence of K numbers.

    The original also clips the shared gradient to norm 1 in its ``backward``; that is the training recipe's
    clipping, not the weighting: clip in your loop if you want it.
    """

    name = "famo"
    properties = Properties(stateful=True, needs=frozenset({"losses"}))

    def __init__(self, gamma: float = 0.01, lr: float = 0.025, min_losses: list[float] | None = None) -> None:
        super().__init__()
        for key, value in (("gamma", gamma), ("lr", lr)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{key} must be a non-negative number, got {value!r}")
        self.gamma, self.lr = float(gamma), float(lr)
        self.min_losses = None if min_losses is None else [float(m) for m in min_losses]
        self.reset()

    def reset(self) -> None:
        """Logits back to 0 (equal weights), Adam state and the remembered losses cleared."""
        self._logits: Tensor | None = None
        self._m: Tensor | None = None
        self._v: Tensor | None = None
        self._steps = 0
        self._before: Tensor | None = None  # log D of the losses the last weights were computed from

    def _log_gap(self, losses: Tensor) -> Tensor:
        floor = 0.0 if self.min_losses is None else torch.tensor(self.min_losses, dtype=losses.dtype,
                                                                   device=losses.device)
        return (losses - floor + _LOSS_EPS).log()

    def loss_weights(self, losses: Tensor) -> Tensor:
        K = losses.shape[0]
        if self.min_losses is not None and len(self.min_losses) != K:
            raise ValueError(f"famo has {len(self.min_losses)} min_losses but got {K} losses")
        if self._logits is None or self._logits.shape[0] != K:
            self.reset()
            self._logits = torch.zeros(K, dtype=torch.float64, device=losses.device)
        z = torch.softmax(self._logits.to(losses.device), dim=0)
        log_gap = self._log_gap(losses)
        inv_gap = torch.exp(-log_gap)
        w = z * inv_gap / (z * inv_gap).sum()
        self._before = log_gap
        self.diagnostics = {"weights": w, "z": z}
        return w

    def after_step(self, losses: Tensor) -> None:
        """One Adam step of the logits from the decrease of ``log D`` that the optimiser step caused."""
        if self._before is None or self._logits is None:
            raise ValueError("famo.after_step() needs a weighted step first (mtlkit.backward with this method)")
        after = self._log_gap(check_losses(losses, self._logits.shape[0], "famo").to(self._before.device))
        delta = self._before - after
        z = torch.softmax(self._logits, dim=0)
        grad = z * (delta - (z * delta).sum())  # softmax Jacobian (symmetric) times δ
        grad = grad + self.gamma * self._logits  # Adam's (L2) weight decay
        self._steps += 1
        b1, b2 = _BETAS
        self._m = (1 - b1) * grad + (0.0 if self._m is None else b1 * self._m)
        self._v = (1 - b2) * grad * grad + (0.0 if self._v is None else b2 * self._v)
        denom = (self._v.sqrt() / math.sqrt(1 - b2**self._steps)) + _ADAM_EPS
        self._logits = self._logits - (self.lr / (1 - b1**self._steps)) * self._m / denom
        self._before = None

    def get_extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"steps": self._steps}
        return state | tensors_state(self, ("logits", "m", "v", "before"))

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.reset()
        self._steps = int(state.get("steps", 0))
        restore_tensors(self, state, ("logits", "m", "v", "before"))

    def __repr__(self) -> str:
        return f"FAMO(gamma={self.gamma}, lr={self.lr})"
