"""CoV-Weighting (Groenendijk, Karaoglu, Gevers and Mensink, "Multi-Loss Weighting with Coefficient of Variations",
WACV 2021, Sec. 3), as in the authors' ``CoVWeightingLoss`` (github.com/rickgroen/cov-weighting).

Each loss is tracked relative to its running mean, the loss ratio ``l_i = L_i / μ_{L_i}`` (the first loss at the
first step), and a task's weight is the coefficient of variation of its ratio, ``c_i = σ_{l_i} / μ_{l_i}``,
normalised: ``w = c / Σ c``. Tasks whose loss still moves relative to its history get more weight. The weights are
``1/K`` for the first two steps (no variance yet). Running means and the variance follow Welford's algorithm, the
means with the factor ``1 − 1/t`` (``mean="full"``, the authors' default) or a constant decay (``mean="decay"``,
``decay``); ``σ = √(S/t + 10⁻⁸)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ._aggregator import Properties
from ._dbmtl import check_rate
from ._gls import require_positive
from ._loss_weighting import LossWeighting

MEANS = ("full", "decay")


class CoVWeighting(LossWeighting):
    """CoV-Weighting: weights proportional to the coefficient of variation of each loss ratio.

    Args:
        mean: ``"full"`` (running means over every step, the default) or ``"decay"`` (a constant factor).
        decay: the factor of ``mean="decay"`` (1.0, the authors' default value of ``mean_decay_param``).
    """

    name = "cov"
    properties = Properties(stateful=True, needs=frozenset({"losses"}))

    def __init__(self, mean: str = "full", decay: float = 1.0) -> None:
        super().__init__()
        if mean not in MEANS:
            raise ValueError(f"mean must be one of {', '.join(MEANS)}, got {mean!r}")
        self.mean = mean
        self.decay = check_rate(decay, "decay")
        self.reset()

    def reset(self) -> None:
        """Forget the running statistics."""
        self._t = -1
        self._stats: dict[str, Tensor] = {}

    def loss_weights(self, losses: Tensor) -> Tensor:
        require_positive(losses, "cov")
        K = losses.shape[0]
        if self._stats and self._stats["mean_L"].shape[0] != K:
            self.reset()
        s = {key: value.to(losses.device) for key, value in self._stats.items()}
        self._t += 1
        t = self._t
        ratio = losses / (losses if t == 0 else s["mean_L"])
        if t <= 1:
            w = torch.full((K,), 1.0 / K, dtype=torch.float64, device=losses.device)
        else:
            cv = s["std_l"] / s["mean_l"]
            w = cv / cv.sum()
        factor = 0.0 if t == 0 else self.decay if self.mean == "decay" else 1.0 - 1.0 / (t + 1)
        zero = torch.zeros_like(losses)
        mean_l = factor * s.get("mean_l", zero) + (1.0 - factor) * ratio
        S_l = s.get("S_l", zero) + (ratio - s.get("mean_l", zero)) * (ratio - mean_l)
        self._stats = {"mean_l": mean_l, "S_l": S_l, "std_l": torch.sqrt(S_l / (t + 1) + 1e-8),
                       "mean_L": factor * s.get("mean_L", zero) + (1.0 - factor) * losses}
        self.diagnostics = {"weights": w, "loss_ratios": ratio}
        return w

    def get_extra_state(self) -> dict[str, Any]:
        return {"t": self._t, **{key: value.clone() for key, value in self._stats.items()}}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.reset()
        self._t = int(state.get("t", -1))
        self._stats = {key: torch.as_tensor(state[key], dtype=torch.float64).clone()
                       for key in ("mean_l", "S_l", "std_l", "mean_L") if state.get(key) is not None}

    def __repr__(self) -> str:
        return f"CoVWeighting(mean={self.mean!r}, decay={self.decay})"
