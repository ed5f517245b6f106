"""Linear scalarisation: fixed task weights, ``update = Jᵀw``. The plain sum (all ones, the default) and the
mean (1/K) are special cases; GCDance's no-MTL baseline uses EDGE's weights [0.636, 2.964, 0.646, 10.942].

The weights depend on neither the gradients nor the losses (:meth:`Linear.constant_weights`), so
:func:`mtlkit.backward` with ``backend="auto"`` runs ONE backward of ``Σ w_i L_i`` instead of K per-task
gradients (an explicit backend keeps the per-task path and its diagnostics)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ._aggregator import Properties, Weighting, check_finite_update, check_gramian, check_jacobian


class Linear(Weighting):
    """Fixed weights (default: all ones, the plain sum of task gradients)."""

    name = "linear"
    properties = Properties(permutation_invariant=False, needs=frozenset({"gramian"}))
    _fixed: Tensor  # the buffer (set only when ``fixed`` is)

    def __init__(self, weights: Sequence[float] | None = None) -> None:
        super().__init__()
        if weights is not None:
            weights = [float(w) for w in weights]
            if not weights or not all(torch.isfinite(torch.tensor(weights))):
                raise ValueError(f"weights must be a non-empty list of finite numbers, got {weights}")
        self.fixed = weights
        # a (non-persistent) buffer: ``method.to(device)`` moves it, so no host→device copy per call
        self.register_buffer("_fixed", None if weights is None else torch.tensor(weights, dtype=torch.float64),
                             persistent=False)

    def _fixed_on(self, K: int, like: Tensor) -> Tensor:
        if len(self.fixed) != K:  # type: ignore[arg-type]
            raise ValueError(f"linear aggregator has {len(self.fixed)} weights but got {K} tasks")  # type: ignore[arg-type]
        return self._fixed.to(dtype=like.dtype, device=like.device)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        G = check_gramian(G)
        K = G.shape[0]
        if self.fixed is None:
            return torch.ones(K, dtype=G.dtype, device=G.device)
        return self._fixed_on(K, G)

    def constant_weights(self, K: int, like: Tensor) -> Tensor | None:
        """The K weights (float64, on ``like``'s device), which depend on neither the gradients nor the losses;
        None for a subclass that overrides :meth:`weights` (its weights may then depend on them)."""
        if type(self).weights is not Linear.weights:
            return None
        if self.fixed is None:
            return torch.ones(K, dtype=torch.float64, device=like.device)
        self._fixed_on(K, like)  # checks the count
        return self._fixed.to(dtype=torch.float64, device=like.device)

    def forward(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        # No Gramian needed: Jᵀw directly (the lower bound of every method); non-finite J gives a non-finite update.
        check_jacobian(J)
        if self.fixed is None:
            return check_finite_update(J.sum(dim=0))
        return check_finite_update(self._fixed_on(J.shape[0], J) @ J)

    def __repr__(self) -> str:
        return f"Linear(weights={self.fixed})" if self.fixed is not None else "Linear()"
