"""EPO search (Mahapatra & Rajan, "Multi-Task Learning with User Preferences: Gradient Descent with Controlled
Ascent in Pareto Optimization", ICML 2020, Section 3, Eq. 3–13): "Exact Pareto Optimal" search towards the
Pareto-optimal point whose losses are proportional to a user preference.

With preference ``r > 0`` (K,) and losses ``l > 0``, EPO measures how far the weighted losses ``r∘l`` are from
the preference ray by the non-uniformity ``μ = KL(l̂ ‖ 1/K)`` of ``l̂ = r∘l / Σ r∘l`` (Eq. 4), and the direction
that reduces it by the adjustment ``a = r∘(log(K l̂) − μ)`` (Eq. 8). The weights α ∈ Δ (update ``Jᵀα``) solve a
linear program on the Gramian ``G = JJᵀ`` (Eq. 11–13), in one of two modes:

- *balance* (``μ > eps``): maximise ``αᵀGa`` (descent along the balancing direction ``Jᵀa``) subject to
  ``(Gα)_j ≥ (Ga)_j`` for the tasks with ``(Ga)_j ≤ 0`` and ``(Gα)_j ≥ 0`` for the tasks of largest ``r_j l_j``
  (no constraint for the other tasks with ``(Ga)_j > 0``; all tasks get ``(Gα)_j ≥ 0`` when none has);
- *descent* (``μ ≤ eps``, on the preference ray): maximise ``1ᵀGα`` subject to ``(Gα)_j ≥ 0`` for every task and
  ``αᵀGa ≥ min(max_j (Ga)_j, 0)`` (dropped with ``relax=True``).

If the LP is infeasible the weights are ``r/Σr`` (the authors' fallback, linear scalarisation). Everything is
scale-free in G, so the LPs are solved on ``G / max|G|`` by an exact simplex method (``_lp``; the authors use
cvxpy with GLPK).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mtlkit import Properties, Weighting, check_gramian

from ._lp import linprog_max

_TINY = float(np.finfo(np.float64).tiny)


def adjustments(losses: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """(r∘l, non-uniformity μ, adjustment a) of Eq. 4 and 8 (zero weighted losses count as the tiniest float)."""
    K = losses.size
    rl = r * losses
    total = float(rl.sum())
    l_hat = np.maximum(rl / total, _TINY) if total > 0.0 else np.full(K, 1.0 / K)
    positive = l_hat[l_hat > np.finfo(np.float64).eps]
    mu = float((positive * np.log(positive * K)).sum())
    return rl, mu, r * (np.log(l_hat * K) - mu)


def epo_lp(
    G: np.ndarray, losses: np.ndarray, r: np.ndarray, eps: float, relax: bool
) -> tuple[np.ndarray, dict[str, Any]]:
    """EPO's weights (on the simplex) for a symmetric G, and what happened (mode, μ, the LP's value)."""
    K = G.shape[0]
    rl, mu, a = adjustments(losses, r)
    top = float(np.abs(G).max())
    C = G / top if top > 0.0 else G
    Ca = C @ a
    ones = np.ones((1, K))
    if mu > eps:
        mode, objective = "balance", Ca
        rhs = Ca.copy()
        helped = Ca > 0.0
        if helped.any():
            rhs[helped] = -np.inf
            rhs[rl == rl.max()] = 0.0
        else:
            rhs[:] = 0.0
        bounded = np.isfinite(rhs)
        A_ub, b_ub = -C[bounded], -rhs[bounded]
    else:
        mode, objective = "descent", C.sum(axis=0)
        A_ub, b_ub = -C, np.zeros(K)
        if not relax:
            A_ub = np.vstack([A_ub, -Ca[None, :]])
            b_ub = np.append(b_ub, -min(float(Ca.max()), 0.0))
    alpha = linprog_max(objective, A_ub, b_ub, ones, np.ones(1))
    if alpha is None:
        mode, alpha = "fallback", r / r.sum()
    else:
        alpha = alpha / alpha.sum()
    return alpha, {"mode": mode, "non_uniformity": mu, "gamma": float(objective @ alpha) * top}


class EPO(Weighting):
    """EPO search: LP weights that first balance the weighted losses onto the preference ray, then descend along it.

    Args:
        preference: r (K,) positive, the wanted ratios of the losses (normalised to sum to 1); None: uniform.
        eps: the non-uniformity μ below which the losses count as on the ray (1e-4, the authors' default).
        relax: in the descent mode drop the constraint that keeps the balancing gain (the authors' option).

    Needs the losses: ``agg(J, losses)``, ``agg.weights(G, losses)``; they must be non-negative.
    ``diagnostics``: ``mode`` (``"balance"``, ``"descent"`` or ``"fallback"``), ``non_uniformity`` (μ) and
    ``gamma`` (the LP's optimal value).
    """

    name = "epo"
    properties = Properties(
        non_conflicting=False, permutation_invariant=False, stateful=False, randomised=False,
        needs=frozenset({"gramian", "losses"}),
    )

    def __init__(self, preference: Sequence[float] | Tensor | None = None, eps: float = 1e-4,
                 relax: bool = False) -> None:
        super().__init__()
        self.preference = None
        if preference is not None:
            pref = torch.as_tensor(preference, dtype=torch.float64).detach().cpu().numpy().copy()
            if pref.ndim != 1 or pref.size == 0 or not (np.isfinite(pref).all() and (pref > 0).all()):
                raise ValueError("preference must be a non-empty 1-D sequence of positive numbers")
            self.preference = pref / pref.sum()
        if isinstance(eps, bool) or not (isinstance(eps, (int, float)) and 0 <= eps < 1):
            raise ValueError(f"eps must be a number in [0, 1), got {eps!r}")
        self.eps, self.relax = float(eps), bool(relax)

    def _losses(self, losses: Tensor | None, K: int) -> np.ndarray:
        if losses is None:
            raise ValueError("EPO needs the losses: call it as agg(J, losses) or agg.weights(G, losses)")
        if not isinstance(losses, Tensor) or losses.shape != (K,) or not losses.is_floating_point():
            raise ValueError(f"EPO: expected floating-point losses of shape ({K},)")
        out = losses.detach().to("cpu", torch.float64).numpy()
        if not (np.isfinite(out).all() and (out >= 0.0).all()):
            raise ValueError("EPO: the losses must be finite and non-negative")
        return out

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        Gn = check_gramian(G.detach()).cpu().numpy()
        K = Gn.shape[0]
        r = np.full(K, 1.0 / K) if self.preference is None else self.preference
        if r.size != K:
            raise ValueError(f"preference has {r.size} entries for {K} tasks")
        alpha, self.diagnostics = epo_lp(Gn, self._losses(losses, K), r, self.eps, self.relax)
        out = torch.from_numpy(alpha)
        return out if G.device.type == "cpu" else out.to(G.device)

    def __repr__(self) -> str:
        options = [] if self.preference is None else [f"preference={self.preference.tolist()}"]
        options += [] if self.eps == 1e-4 else [f"eps={self.eps:g}"]
        options += [] if not self.relax else ["relax=True"]
        return f"EPO({', '.join(options)})"
