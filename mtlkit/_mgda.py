"""MGDA (Désidéri, "Multiple-gradient descent algorithm (MGDA) for multiobjective optimization", 2012; Sener &
Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018), matched to torchjd 0.18.

The update is the minimum-norm point of the convex hull of the task gradients, ``Jᵀα`` with
``α = argmin αᵀGα`` over the simplex, found as torchjd (and Sener & Koltun's Algorithm 2) does: Frank–Wolfe
from ``α = 1/K``; each iteration moves towards the vertex ``e_t`` with ``t = argmin (Gα)_t`` by the exact line
search ``γ`` (clipped to [0, 1]) and stops once ``γ < epsilon`` or after ``max_iters`` iterations (defaults
1e-3 and 100, torchjd's). The iterations run in float64 numpy on the Gramian (µs each).

Frank–Wolfe stopped this way is approximate (the exact minimum-norm point would give ``g_i·update ≥ ‖update‖²``
for every task), so the method is not declared non-conflicting.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from ._aggregator import Properties, Weighting
from ._dual_cone import gramian_array, to_weights


def frank_wolfe(G: np.ndarray, epsilon: float, max_iters: int) -> tuple[np.ndarray, int, float]:
    """torchjd's ``MGDAWeighting.forward`` in numpy: returns (α, iterations, last γ).

    torchjd recomputes ``Gα`` and ``αᵀGα`` each iteration; here they are updated along the step
    (``Gα ← (1−γ)Gα + γG_t``, ``αᵀGα ← (1−γ)²αᵀGα + 2γ(1−γ)(Gα)_t + γ²G_tt``), the same numbers to rounding
    (they are recomputed every 25 iterations so that rounding cannot build up) at a third of the cost.
    """
    K = G.shape[0]
    alpha = np.full(K, 1.0 / K)
    diag = G.diagonal().tolist()
    Ga = G @ alpha
    b = float(alpha @ Ga)
    gamma, it = 1.0, 0
    for it in range(1, max_iters + 1):
        if it % 25 == 0:
            Ga = G @ alpha
            b = float(alpha @ Ga)
        t = int(Ga.argmin())
        a = float(Ga[t])
        c = diag[t]
        if c <= a:
            gamma = 1.0
        elif b <= a:
            gamma = 0.0
        else:
            gamma = (b - a) / (b + c - 2.0 * a)
        keep = 1.0 - gamma
        alpha *= keep
        alpha[t] += gamma
        Ga *= keep
        Ga += gamma * G[t]
        b = keep * keep * b + 2.0 * gamma * keep * a + gamma * gamma * c
        if gamma < epsilon:
            break
    return alpha, it, gamma


class MGDA(Weighting):
    """MGDA: the minimum-norm convex combination of the task gradients (Frank–Wolfe, torchjd's stopping rule).

    Args:
        epsilon: stop once the Frank–Wolfe step ``γ`` is below it (default 1e-3, torchjd's).
        max_iters: at most this many iterations (default 100, torchjd's).

    ``diagnostics``: ``iterations`` and ``gamma`` (the last step).
    """

    name = "mgda"
    properties = Properties(
        non_conflicting=False, permutation_invariant=True, stateful=False, randomised=False,
        needs=frozenset({"gramian"}),
    )

    def __init__(self, epsilon: float = 1e-3, max_iters: int = 100) -> None:
        super().__init__()
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
            raise ValueError(f"epsilon must be a positive number, got {epsilon!r}")
        if isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters < 1:
            raise ValueError(f"max_iters must be a positive integer, got {max_iters!r}")
        self.epsilon = float(epsilon)
        self.max_iters = max_iters

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        alpha, iterations, gamma = frank_wolfe(gramian_array(G), self.epsilon, self.max_iters)
        self.diagnostics = {"iterations": iterations, "gamma": gamma}
        return to_weights(alpha, G)

    def __repr__(self) -> str:
        return f"MGDA(epsilon={self.epsilon:g}, max_iters={self.max_iters})"
