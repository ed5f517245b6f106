"""The mean of the task gradients (torchjd's ``Mean``): weights ``1/K``, ``update = (1/K) Σ_i g_i``."""

from __future__ import annotations

import torch
from torch import Tensor

from ._aggregator import Properties, Weighting, check_finite_update, check_gramian, check_jacobian


class Mean(Weighting):
    """The mean of the task gradients: every weight ``1/K``."""

    name = "mean"
    properties = Properties(non_conflicting=False, permutation_invariant=True, needs=frozenset({"gramian"}))

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        K = check_gramian(G).shape[0]
        return torch.full((K,), 1.0 / K, dtype=torch.float64, device=G.device)

    def constant_weights(self, K: int, like: Tensor) -> Tensor | None:
        """``1/K`` each (float64, on ``like``'s device): constant, so :func:`~mtlkit.backward` takes one backward."""
        return torch.full((K,), 1.0 / K, dtype=torch.float64, device=like.device)

    def forward(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        # no Gramian needed: the weights do not depend on it (the same as ``Linear`` with weights 1/K)
        check_jacobian(J)
        return check_finite_update(torch.full((J.shape[0],), 1.0 / J.shape[0], dtype=J.dtype, device=J.device) @ J)

    def __repr__(self) -> str:
        return "Mean()"
