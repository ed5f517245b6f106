"""Uncertainty weighting (Kendall, Gal and Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for
Scene Geometry and Semantics", CVPR 2018, Eq. 7 and 10). With learnable log-variances ``s_i = log σ_i²`` the
objective is ``Σ_i ½ exp(−s_i) L_i + ½ s_i`` (LibMTL's form and initialisation ``s = −0.5``): the weights are
``w_i = ½ exp(−s_i)`` and the ``s_i`` are trained with the model by the user's optimiser."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._aggregator import Properties
from ._loss_weighting import LossWeighting
from ._state import LazyTaskParameter


class UncertaintyWeighting(LazyTaskParameter, LossWeighting):
    """Uncertainty weighting: learnable log-variances ``s``, weights ``½ exp(−s)``, regulariser ``½ Σ s``.

    Args:
        num_tasks: K. Give it so that ``method.parameters()`` exists before the optimiser is built; without it
            the parameter is created on the first call (then build the optimiser after one step, or add it).
        init: the initial log-variance (−0.5, as LibMTL).

    Train ``s`` with the model: ``torch.optim.Adam([*model.parameters(), *method.parameters()])``.
    """

    name = "uw"
    task_parameter = "log_var"
    properties = Properties(stateful=True, learnable=True, needs=frozenset({"losses"}))

    def __init__(self, num_tasks: int | None = None, init: float = -0.5) -> None:
        super().__init__()
        if num_tasks is not None and (isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1):
            raise ValueError(f"num_tasks must be an integer >= 1 or None, got {num_tasks!r}")
        if not (isinstance(init, (int, float)) and math.isfinite(init)):
            raise ValueError(f"init must be a finite number, got {init!r}")
        self.init = float(init)
        self.log_var: nn.Parameter | None
        self.register_parameter("log_var", None)
        if num_tasks is not None:
            self._materialise(num_tasks)

    def _materialise(self, K: int, like: Tensor | None = None) -> None:
        value = torch.full((K,), self.init) if like is None else like.detach().clone()
        self.log_var = nn.Parameter(value.float())

    def loss_weights(self, losses: Tensor) -> Tensor:
        K = losses.shape[0]
        if self.log_var is None:
            self._materialise(K)
        assert self.log_var is not None
        if self.log_var.shape[0] != K:
            raise ValueError(f"uw has {self.log_var.shape[0]} log-variances but got {K} losses")
        w = 0.5 * torch.exp(-self.log_var.to(losses.device))
        self.diagnostics = {"log_var": self.log_var.detach().cpu().clone(), "weights": w.detach().cpu()}
        return w

    def regularizer(self) -> Tensor | None:
        return None if self.log_var is None else 0.5 * self.log_var.sum()

    def reset(self) -> None:
        """Back to the initial log-variances (in place, so an optimiser keeps holding the parameter)."""
        if self.log_var is not None:
            with torch.no_grad():
                self.log_var.fill_(self.init)

    def __repr__(self) -> str:
        K = None if self.log_var is None else self.log_var.shape[0]
        return f"UncertaintyWeighting(num_tasks={K}, init={self.init})"
