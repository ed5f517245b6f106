"""MoDo (Chen, Fernando, Ying and Chen, "Three-Way Trade-Off in Multi-Objective Learning: Optimization,
Generalization and Conflict-Avoidance", NeurIPS 2023 / JMLR 2024, Algorithm 1, Eq. 2.9a).

MoDo keeps task weights λ on the simplex and moves them one projected stochastic-gradient step per call on
``½‖Jᵀλ‖² + ½ρ‖λ‖²``:

    λ ← Π_Δ(λ − γ (A λ + ρ λ)),

where ``A = J_1 J_2ᵀ`` is the cross-Gramian of two **independent** mini-batches (an unbiased estimate of the
Gramian of the full gradients; Eq. 2.9a). The update is ``Jᵀλ`` with the new λ (Eq. 2.9b), from the same
batches or a third one.

mtlkit's API aggregates one Jacobian: ``MoDo()(J)`` uses ``A = JJᵀ`` (one batch, as MoDo's "single sample"
variant; the paper's guarantee needs two). For the two-batch algorithm call :meth:`MoDo.weights` with the
cross-Gramian, which need not be symmetric and is not symmetrised (torchjd's ``MoDoWeighting(J_1 J_2ᵀ)``)::

    lam = modo.weights(J1 @ J2.T)              # then backward Σ λ_i L_i of the batch the update uses

The order of operations and the defaults (γ = 0.1, ρ = 0.1, λ₀ = 1/K, the weights returned after the step)
are torchjd 0.18's ``MoDoWeighting``; the projection onto the simplex is the exact sort-based one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._aggregator import Properties, Weighting, input_checks_enabled


def project_simplex(y: np.ndarray) -> np.ndarray:
    """Euclidean projection of ``y`` onto the probability simplex (sort-based, exact; computed on ``y − max y``,
    the same projection, so that entries of any size keep the 1 of the constraint)."""
    y = y - y.max()
    u = np.sort(y)[::-1]
    css = np.cumsum(u) - 1.0
    k = np.arange(1, y.size + 1)
    rho = int(np.flatnonzero(u - css / k > 0.0)[-1])  # u_1 − css_1 = 1 > 0: never empty
    return np.maximum(y - css[rho] / (rho + 1), 0.0)  # type: ignore[no-any-return]


def square_numpy(A: Tensor, what: str = "matrix", symmetrise: bool = False) -> np.ndarray:
    """A (K, K) floating-point tensor as a float64 numpy array, validated as :func:`mtlkit.check_gramian` does (the
    finiteness check in numpy: a few µs less for a small K), symmetrised or not (a cross-Gramian ``J_1J_2ᵀ``)."""
    if not isinstance(A, Tensor):
        raise TypeError(f"expected the {what} as a torch.Tensor, got {type(A).__name__}")
    if A.dim() != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise ValueError(f"expected a square (K, K) {what} with K >= 1, got shape {tuple(A.shape)}")
    if not A.is_floating_point():
        raise TypeError(f"expected a floating-point {what}, got {A.dtype}")
    out = A.detach().to("cpu", torch.float64).numpy()
    if input_checks_enabled() and not np.isfinite(out).all():
        raise ValueError(f"the {what} contains NaN or Inf (a task gradient is not finite)")
    return 0.5 * (out + out.T) if symmetrise else out


def check_rate(value: object, name: str, positive: bool = True) -> float:
    """A finite number, > 0 (``positive``) or ≥ 0."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (value > 0 if positive else value >= 0):  # type: ignore[operator]
        raise ValueError(f"{name} must be a {'positive' if positive else 'non-negative'} number, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def load_vector(state: dict[str, Any], key: str, who: str) -> np.ndarray | None:
    """``state[key]`` as a finite 1-D float64 numpy array (None when absent)."""
    value = state.get(key)
    if value is None:
        return None
    arr = torch.as_tensor(value).detach().to("cpu", torch.float64).numpy().copy()
    if arr.ndim != 1 or not np.isfinite(arr).all():
        raise ValueError(f"{who} state[{key!r}] must be a finite 1-D tensor")
    return arr


class MoDo(Weighting):
    """MoDo: one projected gradient step per call on the simplex weights, ``λ ← Π_Δ(λ − γ(Aλ + ρλ))``.

    Args:
        gamma: the step size γ of the weights (0.1, torchjd's).
        rho: the ℓ2 regularisation ρ of the weights (0.1, torchjd's).

    State: λ (starts at 1/K, and again when the number of tasks changes). ``weights(A)`` accepts a
    cross-Gramian ``A = J_1 J_2ᵀ`` of two independent batches (not symmetrised). ``diagnostics``: ``lambda``.
    """

    name = "modo"
    properties = Properties(
        non_conflicting=False, permutation_invariant=True, stateful=True, randomised=False,
        needs=frozenset({"gramian"}),
    )

    def __init__(self, gamma: float = 0.1, rho: float = 0.1) -> None:
        super().__init__()
        self.gamma = check_rate(gamma, "gamma")
        self.rho = check_rate(rho, "rho", positive=False)
        self.reset()

    def reset(self) -> None:
        """Forget λ (the next call starts from 1/K)."""
        self._lambda: np.ndarray | None = None

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        A = square_numpy(G, "Gramian")
        K = A.shape[0]
        lam = self._lambda if self._lambda is not None and self._lambda.shape[0] == K else np.full(K, 1.0 / K)
        lam = project_simplex(lam - self.gamma * (A @ lam + self.rho * lam))
        self._lambda = lam
        self.diagnostics = {"lambda": torch.from_numpy(lam.copy())}
        out = torch.from_numpy(lam.copy())
        return out if G.device.type == "cpu" else out.to(G.device)

    def get_extra_state(self) -> dict[str, Any]:
        """``{"lambda": λ}`` (float64) after the first call, ``{}`` before."""
        return {} if self._lambda is None else {"lambda": torch.from_numpy(self._lambda.copy())}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if set(state) - {"lambda"}:
            raise ValueError(f"unexpected keys in the MoDo state: {sorted(set(state) - {'lambda'})}")
        self._lambda = load_vector(state, "lambda", "MoDo")

    def __repr__(self) -> str:
        return f"MoDo(gamma={self.gamma:g}, rho={self.rho:g})"
