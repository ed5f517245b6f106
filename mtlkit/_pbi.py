"""Penalty-Boundary Intersection scalarization (Zhang and Li, "MOEA/D: A Multiobjective Evolutionary Algorithm Based
on Decomposition", IEEE TEVC 2007, the PBI approach of Sec. II): with the preference direction ``λ̂ = λ / ‖λ‖``
and the reference (ideal) point ``z``,

    g_pbi(L) = d₁ + θ d₂,   d₁ = |(L − z)·λ̂|,   d₂ = ‖L − z − d₁ λ̂‖,

``d₁`` the distance travelled along the preference line and ``d₂`` the distance from it. The loss weights of one
backward of ``Σ w_i L_i`` are its gradient w.r.t. the losses, ``w = σ λ̂ + θ (v − σ (v·λ̂) λ̂) / d₂`` with
``v = L − z − d₁ λ̂`` and ``σ = sign((L − z)·λ̂)`` (``+1`` at 0; the θ term is 0 when ``d₂ = 0``, the subgradient
of the norm at the line). The weights can be negative: the penalty pulls the losses back onto the preference line.

Defaults: ``θ = 5`` (MOEA/D's experiments; pymoo's ``PBI`` default), ``λ = 1`` (equal preference) and ``z = 0``
(losses are non-negative). The value agrees with pymoo 0.6.2's ``PBI`` decomposition whenever ``(L − z)·λ ≥ 0``
(pymoo leaves the sign of ``d₁``), and the weights with its central differences (``references/pymoo/``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ._aggregator import Properties
from ._dbmtl import check_rate
from ._loss_weighting import LossWeighting
from ._stch import check_vector, sized


def pbi_value_and_weights(losses: Tensor, preference: Tensor, ideal: Tensor, theta: float) -> tuple[Tensor, Tensor]:
    """``g_pbi(L)`` and its gradient w.r.t. L (float64)."""
    direction = preference / torch.linalg.vector_norm(preference)
    r = losses - ideal
    along = r @ direction
    sign = torch.where(along >= 0, 1.0, -1.0).to(r.dtype)
    d1 = along.abs()
    v = r - d1 * direction
    d2 = torch.linalg.vector_norm(v)
    normal = (v - sign * (v @ direction) * direction) / torch.where(d2 > 0, d2, 1.0)
    weights = sign * direction + theta * torch.where(d2 > 0, normal, torch.zeros_like(normal))
    return d1 + theta * d2, weights


class PBI(LossWeighting):
    """Penalty-boundary intersection ``d₁ + θ d₂`` of the losses w.r.t. a preference line.

    Args:
        theta: the penalty θ (5.0).
        preference: the preference ``λ`` (K positive numbers; default 1).
        ideal: the reference point ``z`` (K numbers; default 0).

    ``diagnostics``: ``weights``, ``value`` (``g_pbi``). A preference is tied to task positions, hence the
    declared (not) permutation-invariance; with the defaults the method is permutation-invariant.
    """

    name = "pbi"
    properties = Properties(permutation_invariant=False, needs=frozenset({"losses"}))

    def __init__(self, theta: float = 5.0, preference: Sequence[float] | None = None,
                 ideal: Sequence[float] | None = None) -> None:
        super().__init__()
        self.theta = check_rate(theta, "theta")
        self.preference = check_vector(preference, "preference", positive=True)
        self.ideal = check_vector(ideal, "ideal")

    def loss_weights(self, losses: Tensor) -> Tensor:
        K = losses.shape[0]
        preference = sized(self.preference, K, "preference", losses)
        ideal = sized(self.ideal, K, "ideal", losses)
        value, w = pbi_value_and_weights(
            losses, torch.ones_like(losses) if preference is None else preference,
            torch.zeros_like(losses) if ideal is None else ideal, self.theta)
        self.diagnostics = {"weights": w, "value": value}
        return w

    def __repr__(self) -> str:
        return f"PBI(theta={self.theta}, preference={self.preference}, ideal={self.ideal})"
