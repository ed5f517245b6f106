"""Base classes: a :class:`Weighting` maps the K×K Gramian to K weights; an :class:`Aggregator` maps the K×P
Jacobian to one (P,) update. Gramian-based aggregators are a weighting plus the combination ``Jᵀw``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

NEEDS = frozenset({"gramian", "jacobian", "losses"})


@dataclass(frozen=True)
class Properties:
    """What an aggregator declares about itself; the contract suite checks every claim.

    Attributes:
        non_conflicting: ``J @ update >= -tol`` element-wise for every input.
        permutation_invariant: permuting the rows of J leaves the update unchanged.
        stateful: keeps state between calls (saved by ``state_dict``).
        randomised: draws random numbers (from the ``generator`` it is given).
        needs: the inputs it reads, a subset of {"gramian", "jacobian", "losses"}. ``{"gramian"}`` means it can
            run on the gramian and representation backends.
    """

    non_conflicting: bool = False
    permutation_invariant: bool = True
    stateful: bool = False
    randomised: bool = False
    needs: frozenset[str] = field(default_factory=lambda: frozenset({"gramian"}))

    def __post_init__(self) -> None:
        unknown = set(self.needs) - NEEDS
        if unknown or not self.needs:
            raise ValueError(f"needs must be a non-empty subset of {sorted(NEEDS)}, got {sorted(self.needs)}")

    @property
    def gramian_based(self) -> bool:
        """True when the aggregator needs only the Gramian (and possibly the losses)."""
        return "jacobian" not in self.needs

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view."""
        return {
            "non_conflicting": self.non_conflicting,
            "permutation_invariant": self.permutation_invariant,
            "stateful": self.stateful,
            "randomised": self.randomised,
            "needs": sorted(self.needs),
        }


def gramian(J: Tensor) -> Tensor:
    """``G = J Jᵀ`` in float64 (computed in J's dtype, then cast: the K×P product is the costly part)."""
    if J.dim() != 2:
        raise ValueError(f"expected a (K, P) Jacobian, got shape {tuple(J.shape)}")
    return (J @ J.T).double()


class Aggregator(ABC):
    """Maps a (K, P) Jacobian to a (P,) update of the same dtype and device.

    Subclasses set ``name`` and ``properties``. After each call ``diagnostics`` holds what the method reports
    (solver iterations, residual, whether G was regularised, ...).
    """

    name: ClassVar[str] = ""
    properties: ClassVar[Properties] = Properties()

    def __init__(self) -> None:
        self.diagnostics: dict[str, Any] = {}

    @abstractmethod
    def __call__(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        """Aggregate the rows of ``J`` (K, P) into one update (P,)."""

    def state_dict(self) -> dict[str, Any]:
        """Solver state (warm starts, step counters, running statistics); empty for stateless methods."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        if state:
            raise ValueError(f"{type(self).__name__} is stateless but got state keys {sorted(state)}")

    def reset(self) -> None:
        """Forget any state (stateless methods: nothing to do)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Weighting(Aggregator):
    """A Gramian-based aggregator: ``update = Jᵀ weights(J Jᵀ)``.

    Subclasses implement :meth:`weights` on a float64 (K, K) Gramian and return float64 (K,) weights.
    """

    @abstractmethod
    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        """Weights (K,) for the Gramian ``G`` (K, K): float64 on G's device."""

    def __call__(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        if J.dim() != 2:
            raise ValueError(f"expected a (K, P) Jacobian, got shape {tuple(J.shape)}")
        w = self.weights(gramian(J), losses)
        return w.to(dtype=J.dtype, device=J.device) @ J


def check_gramian(G: Tensor) -> Tensor:
    """Validate a (K, K) Gramian and return it as float64 (symmetrised)."""
    if G.dim() != 2 or G.shape[0] != G.shape[1] or G.shape[0] == 0:
        raise ValueError(f"expected a square (K, K) Gramian with K >= 1, got shape {tuple(G.shape)}")
    if not torch.isfinite(G).all():
        raise ValueError("the Gramian contains NaN or Inf (a task gradient is not finite)")
    G = G.double()
    return 0.5 * (G + G.T)
