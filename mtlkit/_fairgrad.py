"""FairGrad (Ban & Ji, "Fair Resource Allocation in Multi-Task Learning", ICML 2024, Eq. 4 and Algorithm 1).

FairGrad picks the update ``d = Jᵀw`` that maximises the α-fair utility ``Σ_i u(g_iᵀd)`` of the tasks' gains,
``u(x) = x^{1−α}/(1−α)`` (``log x`` for α = 1), in a ball. Its optimality condition (Eq. 4) is

    (G w)_i = w_i^{−1/α}   for every task,

which for α = 1 is Nash-MTL's ``w_i (Gw)_i = 1`` (Navon et al. 2022) and as α → ∞ the minimax-fair limit. The
authors (and torchjd) solve it with scipy's ``least_squares`` from the uniform weights; mtlkit solves it exactly
as the minimiser of the strictly convex

    f(w) = ½ wᵀGw − Σ_i h(w_i),   h'(w) = w^{−1/α}   (h = log for α = 1, w^{1−1/α}/(1−1/α) otherwise),

by a Newton method in multiplicative steps ``w ← w∘(1 + t u)`` with a backtracking line search on f (no scipy).
The stopping test is scale-free: ``max_i |1 − w_i^{1/α}(Gw)_i| ≤ tol``.

The solution exists when no convex combination of the gradients vanishes (as for Nash-MTL). Otherwise — a zero
gradient, opposite gradients, more tasks than the rank can separate — f is unbounded below (α ≥ 1) or has no
minimiser (α < 1); mtlkit then solves with ``G + ε diag(G)`` and reports ``regularised``. A task whose gradient is
exactly zero gets the weight of its ridge alone, ``(ε tr(G)/K)^{−α/(α+1)}`` (any value gives the same update).
α = 0 is the mean (torchjd's convention: linear scalarisation with uniform weights).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._aggregator import Properties, Weighting
from ._modo import square_numpy


def _utility(w: np.ndarray, alpha: float) -> float:
    """``Σ h(w_i)`` (−inf outside w > 0)."""
    if not (w > 0.0).all():
        return -math.inf
    if alpha == 1.0:
        return float(np.log(w).sum())
    p = 1.0 - 1.0 / alpha
    return float((w**p).sum() / p)


def _objective(G: np.ndarray, w: np.ndarray, alpha: float) -> float:
    return 0.5 * float(w @ G @ w) - _utility(w, alpha)


def _ray_start(G: np.ndarray, alpha: float) -> np.ndarray | None:
    """``t/√diag(G)`` with t minimising f on that ray (w̄ = 1/‖g_i‖ treats every scale alike); None when
    ``w̄ᵀGw̄ ≈ 0`` (the normalised gradients cancel: no bounded minimiser along the ray)."""
    wbar = 1.0 / np.sqrt(G.diagonal())
    q = float(wbar @ G @ wbar)
    if not q > 1e-12 * G.shape[0]:
        return None
    p = 1.0 - 1.0 / alpha
    t = (float((wbar**p).sum()) / q) ** (alpha / (alpha + 1.0))
    return wbar * t  # type: ignore[no-any-return]


def fairgrad_newton(
    G: np.ndarray, alpha: float, max_iter: int, tol: float, cap: float = math.inf
) -> tuple[np.ndarray, float, int, bool]:
    """Newton's method on f from the ray start. Returns (w, residual, iterations, converged).

    With ``q = w^{1−1/α}`` and ``r = 1 − w^{1/α}∘(Gw)``, the Newton step in relative coordinates ``δw = w∘u`` is
    ``(Q^{-½} D G D Q^{-½} + I/α) ũ = √q∘r``, ``u = ũ/√q`` (D = diag w): the matrix is well conditioned whatever
    the scale of the rows. Not converged: ``max_iter`` reached, the iterates run past ``cap`` (f unbounded), or
    the line search stalled.
    """
    start = _ray_start(G, alpha)
    if start is None:
        return np.ones(G.shape[0]), math.inf, 0, False
    w = start
    f = _objective(G, w, alpha)
    inv = 1.0 / alpha
    eye = np.eye(G.shape[0])
    residual = math.inf
    last = math.inf  # Newton decrement of the previous full step (inf after a damped one)
    for it in range(max_iter + 1):
        Gw = G @ w
        r = 1.0 - w**inv * Gw
        residual = float(np.abs(r).max())
        if residual <= tol:
            return w, residual, it, True
        if it == max_iter:
            break
        q = w ** (1.0 - inv)
        sq = np.sqrt(q)
        M = np.multiply.outer(w / sq, w / sq) * G + inv * eye
        try:
            u = np.linalg.solve(M, sq * r) / sq
        except np.linalg.LinAlgError:
            return w, residual, it, False
        slope = -float((sq * r) @ (sq * u))  # derivative of f along w∘u: −λ², λ the Newton decrement
        lam = math.sqrt(max(-slope, 0.0))
        if residual < 1e-4 and lam > 0.5 * last:  # near the solution λ at least halves: rounding-noise floor
            return w, residual, it, True
        t = 1.0
        neg = u.min()
        if neg <= -1.0:
            t = 0.99 / -neg
        while True:  # near the solution (λ < 0.25) full steps, as for Nash-MTL's self-concordant f
            trial = w * (1.0 + t * u)
            f_trial = _objective(G, trial, alpha)
            if lam < 0.25 or f_trial <= f + 1e-4 * t * slope or t < 1e-12:
                break
            t *= 0.5
        if t < 1e-12 and not f_trial < f:
            return w, residual, it, False  # no decrease at machine precision: stalled
        w, f = trial, f_trial
        last = lam if t == 1.0 and lam < 0.25 else math.inf
        if not float(w.max()) <= cap:
            return w, residual, it + 1, False
    return w, residual, max_iter, False


def fairgrad_weights(
    G: np.ndarray, alpha: float, max_iter: int, tol: float, regularization: float
) -> tuple[np.ndarray, dict[str, Any]]:
    """The FairGrad weights for a symmetric float64 G and the diagnostics (see :class:`FairGrad`)."""
    K = G.shape[0]
    info: dict[str, Any] = {"iterations": 0, "residual": 0.0, "regularised": False, "converged": True}
    if alpha == 0.0:
        return np.full(K, 1.0 / K), info
    diag = G.diagonal()
    live = diag > 0.0
    w = np.zeros(K)
    if not live.any():
        info["regularised"] = True
        return np.ones(K), info
    ridge = regularization * float(diag.sum()) / K
    w[~live] = ridge ** (-alpha / (alpha + 1.0))  # (ε tr/K) w = w^{−1/α}
    Gl = G[np.ix_(live, live)]
    scale = float(diag[live].max())
    cap = 10.0 / math.sqrt(regularization) * scale ** (-alpha / (alpha + 1.0)) * max(1.0, K) ** 2
    sol, residual, iterations, converged = fairgrad_newton(Gl, alpha, max_iter, tol, cap)
    if not converged:  # no bounded solution: solve the ridge-regularised system
        eps = regularization + max(0.0, -2.0 * float(np.linalg.eigvalsh(Gl / np.sqrt(np.multiply.outer(
            diag[live], diag[live])))[0]))
        sol, residual, more, converged = fairgrad_newton(Gl + eps * np.diag(diag[live]), alpha, max_iter, tol)
        iterations += more
        info["regularised"] = True
    if not (np.isfinite(sol).all() and (sol > 0.0).all()):  # cannot happen for a PSD Gramian; stay finite
        sol = np.full(int(live.sum()), 1.0)
    w[live] = sol
    info.update(iterations=iterations, residual=residual, converged=converged,
                regularised=info["regularised"] or not live.all())
    return w, info


class FairGrad(Weighting):
    """FairGrad: α-fair weights, ``(Gw)_i = w_i^{−1/α}`` (α = 1: Nash-MTL's bargaining solution).

    Args:
        alpha: the fairness parameter α ≥ 0 (torchjd requires it; 1.0 is the authors' default). 0 gives the
            mean; larger values favour the worst-off task more.
        max_norm: scale the update down to this norm when longer (the authors' code clips the shared gradient
            to 1.0 after multiplying it by K; torchjd does not clip). ``None`` (default): no clipping.
        max_iter: Newton iterations per solve.
        tol: stopping tolerance on ``max_i |1 − w_i^{1/α}(Gw)_i|``.
        regularization: relative ridge ε used when no solution exists (see the module docstring).

    ``diagnostics``: ``iterations``, ``residual``, ``converged``, ``regularised``, ``clip`` and ``update_norm``.
    """

    name = "fairgrad"
    properties = Properties(
        non_conflicting=True, permutation_invariant=True, stateful=False, randomised=False,
        needs=frozenset({"gramian"}),
    )

    def __init__(
        self,
        alpha: float = 1.0,
        max_norm: float | None = None,
        max_iter: int = 100,
        tol: float = 1e-10,
        regularization: float = 1e-10,
    ) -> None:
        super().__init__()
        if isinstance(alpha, bool) or not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha must be a non-negative number, got {alpha!r}")
        if max_norm is not None and not (isinstance(max_norm, (int, float)) and math.isfinite(max_norm)
                                         and max_norm > 0):
            raise ValueError(f"max_norm must be a positive number or None, got {max_norm!r}")
        if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
        if not (isinstance(tol, (int, float)) and 0 < tol < 1):
            raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
        if not (isinstance(regularization, (int, float)) and 1e-14 <= regularization < 1):
            raise ValueError(f"regularization must be a number in [1e-14, 1), got {regularization!r}")
        self.alpha = float(alpha)
        self.max_norm = None if max_norm is None else float(max_norm)
        self.max_iter, self.tol, self.regularization = max_iter, float(tol), float(regularization)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        Gn = square_numpy(G, "Gramian", symmetrise=True)
        w, info = fairgrad_weights(Gn, self.alpha, self.max_iter, self.tol, self.regularization)
        norm = math.sqrt(max(float(w @ Gn @ w), 0.0))
        clip = 1.0 if self.max_norm is None or norm <= self.max_norm else self.max_norm / norm
        info.update(clip=clip, update_norm=norm * clip)
        self.diagnostics = info
        out = torch.from_numpy(w * clip)
        return out if G.device.type == "cpu" else out.to(G.device)

    def __repr__(self) -> str:
        extra = "" if self.max_norm is None else f", max_norm={self.max_norm:g}"
        return f"FairGrad(alpha={self.alpha:g}{extra})"
