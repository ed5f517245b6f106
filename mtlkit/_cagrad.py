"""CAGrad (Liu et al., "Conflict-Averse Gradient Descent for Multi-task Learning", NeurIPS 2021, Eq. 2–3 and
Algorithm 1), solved exactly on the Gramian by a homotopy instead of an iterative solver.

CAGrad moves along the update ``d`` that maximises the worst task's gain inside a ball around the mean
gradient ``g_0 = Jᵀ1/K`` (Eq. 2):

    max_d  min_i g_iᵀd    subject to  ‖d − g_0‖ ≤ s,   s = c ‖g_0‖.

Its dual (Eq. 3) is ``min_{w ∈ Δ} g_wᵀg_0 + s ‖g_w‖`` with ``g_w = Jᵀw``, and the update is
``d = g_0 + (s/‖g_w‖) g_w``, i.e. the weights ``1/K + v`` with ``v = s w/‖g_w‖ ≥ 0``. The KKT conditions in ``v``
read, with ``b = G1/K`` (``b_i = g_iᵀg_0``) and the worst gain ``μ``:

    (b + Gv)_i = μ where v_i > 0,   (b + Gv)_i ≥ μ elsewhere,   vᵀGv = s².

For a fixed μ the first two are the projection of ``g_0`` onto ``{d : Jd ≥ μ1}``, whose distance ``r(μ)`` to
``g_0`` grows with μ; CAGrad is the point where ``r(μ) = s``. On a fixed active set S the projection is affine
in μ (``v_S = a μ − c`` with ``G_SS a = 1``, ``G_SS c = b_S``) and ``r(μ)²`` is a quadratic, so a homotopy from
``μ = min_i b_i`` (``v = 0``) that adds a task when its gain falls to μ and drops one when its ``v_i`` reaches 0
(the breakpoints of a parametric QP, as in LARS) ends after a few K×K solves at the exact root of
``r(μ) = s``. Before it, up to three guesses of the final active set (all tasks, then those with ``v_i > 0`` plus
those whose gain fell below μ) are tried: when the end point on a guess meets every KKT condition it is the
answer, in one or two K×K solves. Both run in correlation coordinates (``D^{-½} G D^{-½}``, ``D = diag G``)
with a relative ridge of 1e-12 on the diagonal, so rows of any scale are handled alike and dependent rows
(duplicates, K > P) give well-posed systems; the answer is exact for ``G + 10⁻¹² diag(G)``.

The conventions are torchjd 0.18's ``CAGrad`` (the reference): the problem is solved on the Gramian divided by its
trace, and when ``‖g_w‖`` of that normalised problem is below ``norm_eps`` (a Pareto-stationary point: a convex
combination of the gradients nearly vanishes) the weights are zero. torchjd also returns zero weights when the
trace ``‖J‖_F²`` itself is below ``norm_eps`` (an absolute threshold: gradients of norm ~1e-2 get no update);
mtlkit keeps the update scale-equivariant by default and reproduces that with ``trace_eps=1e-4``. The authors'
code and LibMTL divide the update by ``1 + c²`` (``rescale=1``, LibMTL's default) or ``1 + c`` (``rescale=2``);
torchjd does not (``rescale=0``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._aggregator import Properties, Weighting
from ._modo import square_numpy

_RIDGE = 1e-12  # relative to each task's squared norm (correlation coordinates)
RESCALES = (0, 1, 2)


try:  # the gufunc behind np.linalg.solve, without its Python-side checks (a third of a homotopy step)
    from numpy.linalg._umath_linalg import solve as _linsolve
except ImportError:  # pragma: no cover - private numpy module
    _linsolve = np.linalg.solve  # type: ignore[misc, assignment]


def _on_active_set(
    C: np.ndarray, bh: np.ndarray, e: np.ndarray, s: float, active: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray]:
    """The end point of the path if S = ``active`` were the final active set: (u, μ, slack ``b̂ + Cu − μe``)."""
    idx = np.flatnonzero(active)
    sol = _linsolve(C[idx[:, None], idx], np.stack([e[idx], bh[idx]], axis=1))
    a, c = sol[:, 0], sol[:, 1]
    ea, ec, bc = float(e[idx] @ a), float(e[idx] @ c), float(bh[idx] @ c)
    mu = (ec + math.sqrt(max(ec * ec - ea * (bc - s * s), 0.0))) / ea
    u = np.zeros(C.shape[0])
    u[idx] = a * mu - c
    return u, mu, bh + C @ u - mu * e


def guess_active_set(
    C: np.ndarray, bh: np.ndarray, e: np.ndarray, s: float, tries: int = 3
) -> tuple[tuple[np.ndarray, float] | None, int]:
    """A shortcut to :func:`cagrad_homotopy`'s answer: guess the final active set (every task, then the tasks with
    ``u_i > 0`` plus those whose gain fell below μ, as a primal-dual active-set method) and return ((u, μ), solves)
    when the end point on it meets every KKT condition (then it is the solution: the problem is convex), else
    (None, solves). One K×K solve per guess; the first or second is usually right."""
    active = np.ones(C.shape[0], dtype=bool)
    for k in range(1, tries + 1):
        u, mu, slack = _on_active_set(C, bh, e, s, active)
        scale = float(np.abs(u).max())
        tol = 1e-12 * max(1.0, abs(mu)) * float(e.max())
        negative = active & (u < -1e-12 * scale)
        below = ~active & (slack < -tol)
        if not negative.any() and not below.any():
            return (np.maximum(u, 0.0), mu), k
        active = (active & ~negative) | below
        if not active.any():
            return None, k
    return None, tries


def cagrad_homotopy(
    C: np.ndarray, bh: np.ndarray, e: np.ndarray, s: float, cap: float | None = None
) -> tuple[np.ndarray, float, dict[str, Any]]:
    """The KKT point ``u ≥ 0`` of CAGrad's dual in correlation coordinates.

    With ``C`` the (ridged) correlation matrix, ``b̂ = D^{-½}b`` and ``e = D^{-½}1``: ``b̂ + Cu ≥ μe`` with
    equality where ``u_i > 0`` and ``uᵀCu = s²``, μ as large as possible. ``cap``: μ may not exceed it (a zero
    gradient's constraint ``0 ≥ μ``); reaching it returns ``info["capped"] = True``.

    Each step solves ``C_SS [a c] = [e_S b̂_S]`` (on the piece, ``u_S = aμ − c``), then moves μ to the first event:
    ``r(μ)² = (aμ − c)ᵀC_SS(aμ − c) = s²`` (done), some ``u_i`` reaching 0 (drop i) or some slack
    ``b̂_j + (Cu)_j − μe_j`` reaching 0 (add j). Returns (u, μ, info) with ``info = {"steps", "active",
    "capped", "converged"}``.
    """
    n = C.shape[0]
    u = np.zeros(n)
    gains = bh / e  # b_i: the gains at u = 0
    mu = float(gains.min())
    active = np.zeros(n, dtype=bool)
    active[int(np.argmin(gains))] = True
    last_dropped = -1
    info: dict[str, Any] = {"steps": 0, "capped": False, "converged": False}
    if cap is not None and mu >= cap:
        info.update(capped=True, converged=True, active=[])
        return u, mu, info
    rhs = np.stack([e, bh], axis=1)
    direction = np.zeros(n)
    for step in range(4 * n + 50):
        info["steps"] = step + 1
        idx = np.flatnonzero(active)
        sol = _linsolve(C[idx[:, None], idx], rhs[idx])
        a, c = sol[:, 0], sol[:, 1]
        ea, ec, bc = float(rhs[idx, 0] @ a), float(rhs[idx, 0] @ c), float(rhs[idx, 1] @ c)
        disc = max(ec * ec - ea * (bc - s * s), 0.0)
        best = (ec + math.sqrt(disc)) / ea  # r(μ)² = s² on this piece
        event, who = "done", -1
        if cap is not None and cap < best:
            best, event = cap, "cap"
        shrinking = (a < 0.0) & (idx != last_dropped)  # u_i = a_i μ − c_i reaches 0
        if shrinking.any():
            at = c[shrinking] / a[shrinking]
            k = int(np.argmin(at))
            if at[k] < best:
                best, event, who = max(float(at[k]), mu), "drop", int(idx[shrinking][k])
        u[:] = 0.0
        u[idx] = a * mu - c
        direction[:] = 0.0
        direction[idx] = a
        slack = bh + C @ u - mu * e  # ≥ 0 off S (rounding aside)
        slope = C @ direction - e
        falling = (slope < -1e-14 * e) & ~active
        if last_dropped >= 0:
            falling[last_dropped] = False
        if falling.any():
            at = mu + np.maximum(slack[falling], 0.0) / -slope[falling]
            k = int(np.argmin(at))
            if at[k] < best:
                best, event, who = float(at[k]), "add", int(np.flatnonzero(falling)[k])
        mu = max(best, mu)
        u[:] = 0.0
        u[idx] = np.maximum(a * mu - c, 0.0)
        if event in ("done", "cap"):
            info.update(capped=event == "cap", converged=True)
            break
        if event == "drop":
            active[who] = False
            last_dropped = who
            if not active.any():  # cannot happen for a PSD C (u stays on the path); restart from the worst gain
                active[int(np.argmin(bh + C @ u - mu * e))] = True
        else:
            active[who] = True
            last_dropped = -1
    info["active"] = np.flatnonzero(active).tolist()
    return u, mu, info


def cagrad_weights(
    G: np.ndarray, c: float, norm_eps: float, trace_eps: float = 0.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """CAGrad's weights ``1/K + v`` (torchjd's conventions, before any rescale) for a symmetric float64 G; zero when
    ``tr G < trace_eps`` or ``tr G = 0``."""
    K = G.shape[0]
    trace = float(np.trace(G))
    info: dict[str, Any] = {"steps": 0, "active": [], "pareto_stationary": False, "worst_gain": 0.0,
                            "radius": 0.0, "gw_norm": 0.0, "converged": True}
    if not (trace >= trace_eps and trace > 0.0):
        info["pareto_stationary"] = True
        return np.zeros(K), info
    Gn = G / trace
    b = Gn.sum(axis=1) / K  # g_iᵀg_0
    s = c * math.sqrt(max(float(b.sum()) / K, 0.0))  # c ‖g_0‖
    info["radius"] = s
    diag = np.maximum(Gn.diagonal(), 0.0)
    live = diag > 0.0
    v = np.zeros(K)
    if s == 0.0:  # c = 0 or g_0 = 0: the dual is the LP min bᵀw, w on the lowest gains
        w = (b <= b.min() + 1e-12 * np.abs(b).max()).astype(float)
        w /= w.sum()
        info["worst_gain"] = float(b.min())
    else:
        r = 1.0 / np.sqrt(diag[live])
        Cm = Gn[np.ix_(live, live)] * np.multiply.outer(r, r)
        Cm[np.diag_indices_from(Cm)] += _RIDGE
        guess, tries = guess_active_set(Cm, b[live] * r, r, s) if live.all() else (None, 0)
        if guess is not None:
            u, mu = guess
            more: dict[str, Any] = {"steps": tries, "converged": True, "capped": False,
                                    "active": np.flatnonzero(u > 0.0).tolist()}
        else:
            u, mu, more = cagrad_homotopy(Cm, b[live] * r, r, s, cap=0.0 if not live.all() else None)
            more["steps"] += tries
        info.update(steps=more["steps"], converged=more["converged"], worst_gain=mu,
                    active=np.flatnonzero(live)[more["active"]].tolist())
        if more["capped"]:  # a zero gradient bounds the worst gain by 0: g_w = 0 at the optimum
            w = (~live).astype(float) / float((~live).sum())
        else:
            v[live] = u * r
            w = v / v.sum()
    gw = math.sqrt(max(float(w @ Gn @ w), 0.0))
    info["gw_norm"] = gw
    if not gw >= norm_eps or (s > 0.0 and gw == 0.0):  # on the Pareto front: torchjd returns zero weights
        info["pareto_stationary"] = True
        return np.zeros(K), info
    return np.full(K, 1.0 / K) + v, info


class CAGrad(Weighting):
    """CAGrad: the update maximising the worst task's gain within a ball of radius c‖g_0‖ around the mean gradient.

    Args:
        c: the ball's radius relative to ‖g_0‖ (torchjd requires it; 0.5 is the authors' and LibMTL's default).
            ``c = 0`` is the mean gradient.
        norm_eps: torchjd's threshold (default 1e-4): a dual solution with ``‖g_w‖ < norm_eps ‖J‖_F``
            (Pareto-stationary) gives zero weights. 0 disables it (an exactly zero ``g_w`` still gives zero weights).
        trace_eps: zero weights when ``‖J‖_F² = tr G`` is below it (torchjd: ``trace_eps=1e-4``, its norm_eps).
            Default 0: the update scales with J whatever its size.
        rescale: 0 (default, torchjd: none), 1 (LibMTL's default and the authors' code: divide by ``1 + c²``) or
            2 (divide by ``1 + c``).

    ``diagnostics``: ``worst_gain`` (μ = min_i g_iᵀd of the normalised problem), ``radius`` (s), ``gw_norm``
    (‖g_w‖ of the normalised problem), ``active`` (the tasks with v_i > 0), ``steps`` (K×K solves: active-set
    guesses, then homotopy steps if they failed), ``pareto_stationary`` and ``converged``.
    """

    name = "cagrad"
    properties = Properties(
        non_conflicting=False, permutation_invariant=True, stateful=False, randomised=False,
        needs=frozenset({"gramian"}),
    )

    def __init__(self, c: float = 0.5, norm_eps: float = 1e-4, rescale: int = 0, trace_eps: float = 0.0) -> None:
        super().__init__()
        if isinstance(c, bool) or not (isinstance(c, (int, float)) and math.isfinite(c) and c >= 0):
            raise ValueError(f"c must be a non-negative number, got {c!r}")
        if isinstance(norm_eps, bool) or not (isinstance(norm_eps, (int, float)) and 0 <= norm_eps < 1):
            raise ValueError(f"norm_eps must be a number in [0, 1), got {norm_eps!r}")
        if isinstance(trace_eps, bool) or not (isinstance(trace_eps, (int, float)) and 0 <= trace_eps < math.inf):
            raise ValueError(f"trace_eps must be a non-negative number, got {trace_eps!r}")
        if rescale not in RESCALES or isinstance(rescale, bool):
            raise ValueError(f"rescale must be 0 (torchjd), 1 (1 + c², LibMTL) or 2 (1 + c); got {rescale!r}")
        self.c = float(c)
        self.norm_eps = float(norm_eps)
        self.rescale = int(rescale)
        self.trace_eps = float(trace_eps)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        Gn = square_numpy(G, "Gramian", symmetrise=True)
        w, self.diagnostics = cagrad_weights(Gn, self.c, self.norm_eps, self.trace_eps)
        if self.rescale:
            w = w / (1.0 + (self.c * self.c if self.rescale == 1 else self.c))
        out = torch.from_numpy(w)
        return out if G.device.type == "cpu" else out.to(G.device)

    def __repr__(self) -> str:
        extra = "" if self.norm_eps == 1e-4 else f", norm_eps={self.norm_eps:g}"
        extra += "" if self.rescale == 0 else f", rescale={self.rescale}"
        extra += "" if self.trace_eps == 0 else f", trace_eps={self.trace_eps:g}"
        return f"CAGrad(c={self.c:g}{extra})"
