"""Improvable Gap Balancing, IGBv1 (Dai, Fei and Lu, "Improvable Gap Balancing for Multi-Task Learning", UAI 2023),
with the scale-invariant log losses it is trained on.

The improvable gap of task i is estimated by its loss relative to a base loss ``L_i^b`` (the mean loss of an early
epoch): tasks further from their optimum get more weight, ``v = K softmax(L / L^b)``, applied to the log losses,
``Σ_i v_i log L_i``. Before the base loss is known the weights are 1 (plain ``Σ log L_i``). The loss weights of one
backward of ``Σ w_i L_i`` are the gradient of that objective, ``w_i = v_i / L_i``.

As in the authors' code (``ImprovableGapBalancing_v1`` of github.com/YanqiDai/IGB4MTL) the base loss is the mean
loss of epoch ``base_epoch`` (1, counting from 0: the second epoch), set at its end; epochs are ``period`` calls
here (1 by default; pass the steps per epoch to reproduce the authors' runs). ``base_losses`` given explicitly is
used from the first call. IGBv2 (the same paper's reinforcement-learning weights) is not implemented.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ._aggregator import Properties
from ._gls import require_positive
from ._loss_weighting import LossWeighting
from ._state import restore_tensors, tensors_state
from ._stch import check_vector, sized


class IGB(LossWeighting):
    """IGBv1: weights ``K softmax(L / L^b)`` on the log losses (``w_i = v_i / L_i`` on the losses).

    Args:
        base_epoch: the epoch whose mean losses are ``L^b`` (1, the authors' default).
        period: calls per epoch (1).
        base_losses: ``L^b`` itself (K positive numbers): no waiting for it.
    """

    name = "igb"
    properties = Properties(stateful=True, needs=frozenset({"losses"}))

    def __init__(self, base_epoch: int = 1, period: int = 1, base_losses: Sequence[float] | None = None) -> None:
        super().__init__()
        for key, value, low in (("base_epoch", base_epoch, 0), ("period", period, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{key} must be an integer >= {low}, got {value!r}")
        self.base_epoch, self.period = base_epoch, period
        self.base_losses = check_vector(base_losses, "base_losses", positive=True)
        self.reset()

    def reset(self) -> None:
        """Forget the base losses measured and the call count."""
        self._calls = 0
        self._sum: Tensor | None = None
        self._base: Tensor | None = None

    def _base_point(self, L: Tensor) -> Tensor | None:
        fixed = sized(self.base_losses, L.shape[0], "base_losses", L)
        if fixed is not None:
            return fixed
        if self._base is not None and self._base.shape != L.shape:
            self.reset()
        return None if self._base is None else self._base.to(L.device)

    def _record(self, L: Tensor) -> None:
        """Count this call; average the base epoch's losses into ``L^b`` (set at the epoch's end)."""
        if self.base_losses is not None or self._base is not None:
            return
        epoch = self._calls // self.period
        self._calls += 1
        if epoch == self.base_epoch:
            self._sum = L.clone() if self._sum is None else self._sum.to(L.device) + L
            if self._calls == (self.base_epoch + 1) * self.period:
                self._base, self._sum = self._sum / self.period, None

    def loss_weights(self, losses: Tensor) -> Tensor:
        require_positive(losses, "igb")
        base = self._base_point(losses)
        K = losses.shape[0]
        v = torch.ones_like(losses) if base is None else K * torch.softmax(losses / base, dim=0)
        self._record(losses)
        w = v / losses
        self.diagnostics = {"weights": w, "log_loss_weights": v, "base_set": base is not None}
        return w

    def get_extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"calls": self._calls}
        return state | tensors_state(self, ("sum", "base"))

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.reset()
        self._calls = int(state.get("calls", 0))
        restore_tensors(self, state, ("sum", "base"))

    def __repr__(self) -> str:
        return f"IGB(base_epoch={self.base_epoch}, period={self.period}, base_losses={self.base_losses})"
