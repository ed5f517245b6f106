"""Dynamic Weight Average (Liu, Johns and Davison, "End-to-End Multi-Task Learning with Attention", CVPR 2019,
Eq. 7): ``w_k = K exp(r_k / T) / Σ_i exp(r_i / T)`` with ``r_k = L̄_k(p−1) / L̄_k(p−2)``, the ratio of task k's
mean loss over the last two periods (epochs in the paper and LibMTL; ``period`` calls here), weights 1 for the
first two periods."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ._aggregator import Properties
from ._loss_weighting import LossWeighting


class DWA(LossWeighting):
    """Dynamic Weight Average: tasks whose loss fell least over the last period get more weight.

    Args:
        temperature: T (2.0, the paper's and LibMTL's).
        period: calls per period. LibMTL uses epochs: pass the number of steps per epoch to reproduce it (its
            epoch loss is the mean of the epoch's batch losses, as here). 1 (default) updates every step.

    A call with a different number of tasks than the history's starts the history afresh.
    """

    name = "dwa"
    properties = Properties(stateful=True, needs=frozenset({"losses"}))

    def __init__(self, temperature: float = 2.0, period: int = 1) -> None:
        super().__init__()
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        if isinstance(period, bool) or not isinstance(period, int) or period < 1:
            raise ValueError(f"period must be an integer >= 1, got {period!r}")
        self.temperature = float(temperature)
        self.period = period
        self.reset()

    def reset(self) -> None:
        """Forget the loss history."""
        self._sum: Tensor | None = None  # losses summed over the current period
        self._count = 0
        self._history: list[Tensor] = []  # mean losses of the last two complete periods, oldest first

    def loss_weights(self, losses: Tensor) -> Tensor:
        K = losses.shape[0]
        tracked = self._sum if self._sum is not None else self._history[0] if self._history else None
        if tracked is not None and tracked.shape[0] != K:  # another set of tasks: start its history afresh
            self.reset()
        if len(self._history) == 2:
            ratio = self._history[1] / self._history[0].clamp_min(torch.finfo(torch.float64).tiny)
            w = K * torch.softmax(ratio.to(losses.device) / self.temperature, dim=0)
        else:
            w = torch.ones(K, dtype=torch.float64, device=losses.device)
        self._sum = losses.detach().double() + (0.0 if self._sum is None else self._sum.to(losses.device))
        self._count += 1
        if self._count == self.period:
            self._history = [*self._history, self._sum / self._count][-2:]
            self._sum, self._count = None, 0
        self.diagnostics = {"weights": w.detach(), "periods_seen": len(self._history)}
        return w

    def get_extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"count": self._count, "periods": len(self._history)}
        if self._sum is not None:
            state["sum"] = self._sum.clone()
        for i, h in enumerate(self._history):
            state[f"mean_{i}"] = h.clone()
        return state

    def set_extra_state(self, state: dict[str, Any]) -> None:
        count, periods = int(state.get("count", 0)), int(state.get("periods", 0))
        if not 0 <= count < self.period or not 0 <= periods <= 2:
            raise ValueError(f"bad DWA state: count={count} (period {self.period}), periods={periods}")
        self.reset()
        self._count = count
        self._sum = None if state.get("sum") is None else torch.as_tensor(state["sum"], dtype=torch.float64).clone()
        self._history = [torch.as_tensor(state[f"mean_{i}"], dtype=torch.float64).clone() for i in range(periods)]

    def __repr__(self) -> str:
        return f"DWA(temperature={self.temperature}, period={self.period})"
