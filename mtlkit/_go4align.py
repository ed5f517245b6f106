"""GO4Align (Shen, Wang, Zhen, Snoek and Zhao, "GO4Align: Group Optimization for Multi-Task Alignment", NeurIPS 2024,
Sec. 3), the adaptive group risk minimisation of the authors' code (``GO4ALIGN`` in ``methods/cluster_methods.py``
of github.com/autumn9999/GO4Align).

Risk-guided indicators: a distribution ``p`` over the tasks (uniform at first) is updated multiplicatively from the
losses, ``p ← p ⊙ exp(−η L) / Σ(p ⊙ exp(−η L))``, and scaled by the inverse relative loss: ``γ_i = (Σ_j L_j / L_i)
p_i``. Dynamical group assignment: the K indicators are clustered into ``num_groups`` groups by k-means and every
task gets its group's centre (the mean indicator of the group) as its loss weight; one group gives every task the
mean indicator.

The authors cluster with ``kmeans_pytorch`` (Lloyd's algorithm from random initial centres). In one dimension the
optimal k-means partition is a split of the sorted indicators into contiguous groups, which is found here exactly
by dynamic programming (deterministic, no random initialisation); it is the partition Lloyd's algorithm converges to
when it finds the optimum. Defaults are the authors': ``num_groups = 1``, ``η = 10⁻⁴``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ._aggregator import Properties
from ._dbmtl import check_rate
from ._gls import require_positive
from ._loss_weighting import LossWeighting


def kmeans_1d(x: Tensor, groups: int) -> Tensor:
    """The optimal k-means labels (K,) of the values ``x`` in ``groups`` groups (fewer when K is smaller): contiguous
    groups of the sorted values minimising the within-group sum of squares, by dynamic programming (O(groups K²))."""
    K = x.shape[0]
    groups = min(groups, K)
    order = torch.argsort(x, stable=True)
    v = x[order].double().cpu().tolist()
    prefix, prefix_sq = [0.0], [0.0]
    for value in v:
        prefix.append(prefix[-1] + value)
        prefix_sq.append(prefix_sq[-1] + value * value)

    def cost(i: int, j: int) -> float:  # sum of squares of v[i:j] around its mean
        s = prefix[j] - prefix[i]
        return max(prefix_sq[j] - prefix_sq[i] - s * s / (j - i), 0.0)

    inf = float("inf")
    best = [[inf] * (K + 1) for _ in range(groups + 1)]
    split = [[0] * (K + 1) for _ in range(groups + 1)]
    best[0][0] = 0.0
    for g in range(1, groups + 1):
        for j in range(g, K + 1):
            for i in range(g - 1, j):
                c = best[g - 1][i] + cost(i, j)
                if c < best[g][j]:
                    best[g][j], split[g][j] = c, i
    labels = [0] * K
    j = K
    for g in range(groups, 0, -1):
        i = split[g][j]
        for position in range(i, j):
            labels[int(order[position])] = g - 1
        j = i
    return torch.tensor(labels, dtype=torch.int64, device=x.device)


class GO4Align(LossWeighting):
    """GO4Align: risk-guided indicators ``(Σ L / L_i) p_i``, clustered; each task weighted by its group's centre.

    Args:
        num_groups: the number of task groups (1, the authors' default).
        step_size: η of the multiplicative update of ``p`` (1e-4, the authors' ``robust_step_size``).

    ``diagnostics``: ``weights``, ``indicators`` (γ), ``groups`` (each task's group) and ``probs`` (p).
    """

    name = "go4align"
    properties = Properties(stateful=True, needs=frozenset({"losses"}))

    def __init__(self, num_groups: int = 1, step_size: float = 1e-4) -> None:
        super().__init__()
        if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
            raise ValueError(f"num_groups must be an integer >= 1, got {num_groups!r}")
        self.num_groups = num_groups
        self.step_size = check_rate(step_size, "step_size")
        self.reset()

    def reset(self) -> None:
        """Back to the uniform distribution ``p``."""
        self._probs: Tensor | None = None

    def loss_weights(self, losses: Tensor) -> Tensor:
        require_positive(losses, "go4align")
        K = losses.shape[0]
        probs = (torch.full((K,), 1.0 / K, dtype=torch.float64, device=losses.device)
                 if self._probs is None or self._probs.shape[0] != K else self._probs.to(losses.device))
        probs = probs * torch.exp(-self.step_size * losses)
        probs = probs / probs.sum()
        self._probs = probs
        indicators = losses.sum() / losses * probs
        if self.num_groups == 1:
            groups = torch.zeros(K, dtype=torch.int64, device=losses.device)
        else:
            groups = kmeans_1d(indicators, self.num_groups)
        sums = torch.zeros(K, dtype=torch.float64, device=losses.device).index_add_(0, groups, indicators)
        counts = torch.zeros(K, dtype=torch.float64, device=losses.device).index_add_(0, groups,
                                                                                      torch.ones_like(indicators))
        w = (sums / counts.clamp_min(1.0))[groups]
        self.diagnostics = {"weights": w, "indicators": indicators, "groups": groups, "probs": probs}
        return w

    def get_extra_state(self) -> dict[str, Any]:
        return {} if self._probs is None else {"probs": self._probs.clone()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.reset()
        if state.get("probs") is not None:
            self._probs = torch.as_tensor(state["probs"], dtype=torch.float64).clone()

    def __repr__(self) -> str:
        return f"GO4Align(num_groups={self.num_groups}, step_size={self.step_size})"
