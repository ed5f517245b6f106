"""PCD, Priority-Constrained Descent (Varam & AlHajri, "Not All Objectives Are Born Equal: Priority-Constrained
Descent for Hierarchical Multi-Objective Optimization", arXiv:2606.29521, 2026), matched to torchjd 0.18's ``PCD``.

The first task is the primary objective. With the normalised gradients ``g̃_i = s_i g_i`` (``s_i = 1/√(v̂_i + ε)``,
``v̂_i`` the bias-corrected exponential moving average of ``‖g_i‖²`` over the calls, decay β), PCD follows the
primary gradient as closely as possible while guaranteeing every secondary objective a fraction τ of the progress
its own normalised gradient would make:

    d̃ = argmin_d ½‖d − g̃_1‖²   subject to   g̃_jᵀd ≥ τ_j ‖g̃_j‖²,  j = 2…K,

and the update is ``d̃`` rescaled to ‖g_1‖. With ``d̃ = g̃_1 + Σ_j μ_j g̃_j`` (μ the KKT multipliers) every
quantity is an entry of the normalised Gramian, so the QP is solved on it, exactly, by the dual active-set method
of Goldfarb & Idnani (1983) in float64 numpy, step for step as torchjd's ``_solve_qp``.

Special cases (torchjd's): ``g_1 = 0`` gives a zero update; infeasible constraints (e.g. two opposite secondary
gradients) are dropped and the update is ``g_1``; a ``d̃`` that is zero up to rounding gives a zero update — mtlkit
judges "zero up to rounding" at float32's precision (``10·eps(float32)``; torchjd at the precision of its Gramian's
dtype), since the Gramian it receives is float64 whatever J's dtype. That ``precision`` also sets when a gradient
counts as a combination of the active ones (``max(1e-9, precision)``, torchjd's rule); for a float64 Jacobian,
``precision=10 * torch.finfo(torch.float64).eps`` gives torchjd's float64 behaviour. Non-finite input raises
(torchjd returns NaN) and leaves the moving average untouched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._aggregator import Properties, Weighting
from ._dual_cone import gramian_array, to_weights

_PRECISION = 10.0 * float(torch.finfo(torch.float32).eps)


def solve_pcd_qp(G: np.ndarray, taus: np.ndarray, tol: float = 1e-9, dependence_tol: float = 1e-9,
                 max_iters: int | None = None) -> tuple[np.ndarray, int, bool]:
    """torchjd's ``_solve_qp`` (Goldfarb–Idnani for an identity Hessian, on the Gramian) in numpy.

    Returns the weights ``[1, μ_2, …, μ_m]`` (``[1, 0, …]`` when infeasible), the iterations and feasibility.
    """
    m = G.shape[0]
    weights = np.zeros(m)
    weights[0] = 1.0
    if m == 1:
        return weights, 0, True
    if max_iters is None:
        max_iters = 10 * m
    Gs = G[1:, 1:]
    b = taus * Gs.diagonal() - G[1:, 0]  # b_j > 0 iff g_1 violates constraint j
    mu = np.zeros(m - 1)
    atol = tol * max(float(G.diagonal().max()), np.finfo(float).tiny)
    active: list[int] = []
    n_iters = 0
    while n_iters < max_iters:
        slacks = Gs @ mu - b
        slacks[active] = 0.0
        p = int(np.argmin(slacks))
        if slacks[p] >= -atol:
            break
        slack_p = float(slacks[p])
        while n_iters < max_iters:
            n_iters += 1
            if active:
                r = np.linalg.solve(Gs[np.ix_(active, active)], Gs[active, p])
                z_sq_norm = float(Gs[p, p] - Gs[p, active] @ r)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratios = np.where(r > 0.0, mu[active] / r, np.inf)
                k = int(np.argmin(ratios))
                partial_step = float(ratios[k])
            else:
                r = np.zeros(0)
                z_sq_norm = float(Gs[p, p])
                k = -1
                partial_step = math.inf
            full_step = -slack_p / z_sq_norm if z_sq_norm > dependence_tol * Gs[p, p] else math.inf
            step = min(partial_step, full_step)
            if step == math.inf:
                return weights, n_iters, False  # infeasible constraints
            mu[active] -= step * r
            mu[p] += step
            if full_step <= partial_step:
                active.append(p)
                break
            mu[active[k]] = 0.0
            del active[k]
            slack_p = float(Gs[p] @ mu - b[p])
    weights[1:] = np.maximum(mu, 0.0)
    return weights, n_iters, True


class PCD(Weighting):
    """Priority-Constrained Descent: stay close to the primary (first) task's gradient while guaranteeing each
    secondary task a fraction τ of its own normalised progress.

    Args:
        tau: τ in [0, 1], one for all secondary tasks or one per secondary task (K − 1 numbers); default 0.02.
        beta: decay of the moving average of the squared gradient norms, in [0, 1) (default 0.999).
        eps: added to the moving average before the inverse square root (default 1e-8).
        precision: the relative precision of the Gramian (default ``10·eps(float32)``: gradients in float32).

    Stateful: the moving average and the step count are in ``state_dict()``; they restart when K changes and on
    :meth:`reset`. ``diagnostics``: ``multipliers`` (μ), ``iterations``, ``feasible`` and ``scales`` (s).
    Not symmetric in the tasks: the first loss is the primary objective.
    """

    name = "pcd"
    properties = Properties(
        non_conflicting=False, permutation_invariant=False, stateful=True, randomised=False,
        needs=frozenset({"gramian"}),
    )

    def __init__(self, tau: float | Sequence[float] | Tensor = 0.02, beta: float = 0.999, eps: float = 1e-8,
                 precision: float = _PRECISION) -> None:
        super().__init__()
        if isinstance(tau, Tensor):
            if tau.dim() != 1:
                raise ValueError(f"tau must be a number or a vector (1-D), got shape {tuple(tau.shape)}")
            tau = tau.tolist()
        taus = [float(t) for t in tau] if isinstance(tau, (list, tuple)) else [float(tau)]  # type: ignore[arg-type]
        if not taus or not all(0.0 <= t <= 1.0 for t in taus):
            raise ValueError(f"tau must be in [0, 1], got {tau!r}")
        if not 0.0 <= float(beta) < 1.0:
            raise ValueError(f"beta must be in [0, 1), got {beta!r}")
        if not float(eps) >= 0.0:
            raise ValueError(f"eps must be >= 0, got {eps!r}")
        self.tau: float | list[float] = taus if isinstance(tau, (list, tuple)) else taus[0]
        self.beta = float(beta)
        self.eps = float(eps)
        if isinstance(precision, bool) or not isinstance(precision, (int, float)) or not 0.0 < precision < 1.0:
            raise ValueError(f"precision must be a number in (0, 1), got {precision!r}")
        self.precision = float(precision)
        self.reset()

    def reset(self) -> None:
        """Forget the moving average of the squared gradient norms."""
        self._ema: np.ndarray | None = None
        self._steps = 0

    def _taus(self, K: int) -> np.ndarray:
        if isinstance(self.tau, list):
            if len(self.tau) != K - 1:
                raise ValueError(f"pcd: tau has {len(self.tau)} entries but there are {K - 1} secondary tasks")
            return np.asarray(self.tau, dtype=float)
        return np.full(K - 1, self.tau)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        Gn = gramian_array(G)
        K = Gn.shape[0]
        taus = self._taus(K)
        sq_norms = Gn.diagonal().copy()
        if self._ema is None or self._ema.shape[0] != K:
            self._ema, self._steps = np.zeros(K), 0
        self._ema = self.beta * self._ema + (1.0 - self.beta) * sq_norms
        self._steps += 1
        debiased = self._ema / (1.0 - self.beta**self._steps)
        denominators = np.sqrt(debiased + self.eps)
        with np.errstate(divide="ignore"):
            scales = np.where(denominators > 0.0, 1.0 / denominators, 0.0)
        weights = np.zeros(K)
        info: dict[str, Any] = {"multipliers": [], "iterations": 0, "feasible": True, "scales": scales.tolist()}
        if sq_norms[0] > 0.0:
            normalised = Gn * np.multiply.outer(scales, scales)
            w, iterations, feasible = solve_pcd_qp(normalised, taus, dependence_tol=max(1e-9, self.precision))
            info.update(multipliers=w[1:].tolist(), iterations=iterations, feasible=feasible)
            direction_sq_norm = float(w @ normalised @ w)
            magnitude = float(np.abs(w) @ np.sqrt(np.clip(normalised.diagonal(), 0.0, None))) ** 2
            if direction_sq_norm > self.precision * magnitude:
                weights = w * scales * math.sqrt(sq_norms[0] / direction_sq_norm)
        self.diagnostics = info
        return to_weights(weights, G)

    def get_extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"steps": self._steps}
        if self._ema is not None:
            state["sq_norm_ema"] = torch.from_numpy(self._ema.copy())
        return state

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.reset()
        self._steps = int(state.get("steps", 0))
        if state.get("sq_norm_ema") is not None:
            self._ema = torch.as_tensor(state["sq_norm_ema"], dtype=torch.float64).cpu().numpy().copy()

    def __repr__(self) -> str:
        extra = "" if self.precision == _PRECISION else f", precision={self.precision:g}"
        return f"PCD(tau={self.tau!r}, beta={self.beta!r}, eps={self.eps!r}{extra})"
