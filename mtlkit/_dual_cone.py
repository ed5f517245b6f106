"""Projections onto the dual cone of the rows of J, from the Gramian alone (UPGrad and DualProj).

For a weight vector ``u`` the projection of ``Jᵀu`` onto the dual cone ``{d : Jd ≥ 0}`` is ``Jᵀv`` with ``v`` the
solution of the quadratic program (Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", 2024,
Proposition 1)

    min_v  vᵀ A v   subject to   v ≥ u,

where ``A`` is the Gramian. torchjd 0.18 (``QuadprogProjector``) first normalises and regularises it,

    A = G / tr(G) + reg_eps · I        (A = reg_eps · I when tr(G) < norm_eps),

and solves one QP per vector with quadprog (Goldfarb–Idnani, float64). mtlkit solves the same programs, in
float64 numpy, as the linear complementarity problem they are equivalent to: with ``v = u + x``,

    x ≥ 0,   y = A x + A u ≥ 0,   xᵀy = 0.

The solver is block principal pivoting (Júdice & Pires 1994; Kim & Park 2011, "Fast Nonnegative Matrix
Factorization: An Active-Set-Like Method and Comparisons", with its finite-termination safeguard): guess the set F
of positive ``x_j``, solve ``A_FF x_F = −(Au)_F``, move every index whose ``x_j < 0`` (in F) or ``y_j < 0``
(outside F) to the other side, and repeat; when an exchange does not reduce the number of infeasible indices three
times in a row, only the largest infeasible index is moved (Murty's rule, finite for positive definite A). All
right-hand sides (K of them for UPGrad) are solved together, one batched LAPACK call per iteration; the first guess
is the set of conflicting tasks (``(Au)_j < 0``), so 1–3 iterations are typical. It is an exact method: the result
is the QP's solution to rounding, like quadprog's.

Numerics: the problem is solved on ``S⁻¹AS⁻¹`` (unit diagonal, ``S = diag(A)^½``), in which every task counts
alike whatever its gradient's scale; an index is infeasible when ``x_j`` or ``y_j`` is below ``−tol`` times the
problem's scale (``tol = 1e-10``), and the returned ``v = u + max(x, 0)`` satisfies ``v ≥ u`` exactly. Tasks with
a zero gradient and no regularisation (``A_jj = 0``) keep ``v_j = u_j``. A singular Gramian with ``reg_eps = 0``
gets a floor of ``1e-10`` on the scaled diagonal (so every sub-system is solvable); the floor moves ``g_j·d`` by
at most ``1e-10 ‖g_j‖ Σ|v_i|‖g_i‖``. Pivoting can oscillate on ill-conditioned, rank-deficient problems: the
right-hand sides not solved after 12 iterations are finished by the primal active-set method (Lawson–Hanson:
monotone, one index in or out per iteration), from the pivoting's last iterate clipped to x ≥ 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._aggregator import Properties, Weighting, check_gramian_shape, input_checks_enabled

try:  # the gufunc behind np.linalg.solve, without its Python-side checks (as in _nash)
    from numpy.linalg._umath_linalg import solve as _linsolve
except ImportError:  # pragma: no cover - private numpy module
    _linsolve = np.linalg.solve  # type: ignore[misc, assignment]

TOL = 1e-10  # an index is infeasible below −TOL × the problem's scale
FLOOR = 1e-10  # smallest regularisation on the unit-diagonal problem (only reached with reg_eps ≈ 0)
_BACKUP_AFTER = 3  # exchanges without progress before Murty's single-index rule
_BPP_ITERATIONS = 12  # then the primal active-set method finishes the rows not yet solved


def normalised(G: np.ndarray, norm_eps: float, reg_eps: float) -> tuple[np.ndarray, float]:
    """torchjd's ``regularize(normalize(G, norm_eps), reg_eps)``: ``G / tr(G) + reg_eps I`` (``reg_eps I`` when
    ``tr(G) < norm_eps``, or when tr(G) = 0 where torchjd divides by zero). Returns (A, tr(G))."""
    K = G.shape[0]
    trace = float(np.trace(G))
    A = G / trace if trace >= norm_eps and trace > 0.0 else np.zeros((K, K))
    if reg_eps:
        A = A + reg_eps * np.eye(K)
    return A, trace


def _masked_solve(M: np.ndarray, F: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """For every row f of F (n, m) bool and q of Q: x with ``M_ff x_f = −q_f`` and ``x = 0`` off f, in one
    batched LAPACK call. The systems are packed to the largest ``|f|`` (indices of f first, padded with identity
    rows) when m > 16, or kept at size m with identity rows off f when packing would not pay."""
    n, m = F.shape
    counts = F.sum(axis=1)
    f = int(counts.max())
    if m <= 16 or 4 * f > 3 * m:  # small systems: the gathers would cost more than they save
        sub = np.where(F[:, :, None] & F[:, None, :], M, 0.0)
        sub.reshape(n, m * m)[:, :: m + 1] += ~F
        return _linsolve(sub, np.where(F, -Q, 0.0)[..., None])[..., 0]  # type: ignore[no-any-return]
    order = np.argsort(~F, axis=1, kind="stable")[:, :f]  # the indices in f first, in increasing order
    valid = np.arange(f) < counts[:, None]
    sub = np.where(valid[:, :, None] & valid[:, None, :], M[order[:, :, None], order[:, None, :]], 0.0)
    sub.reshape(n, f * f)[:, :: f + 1] += ~valid
    sol = _linsolve(sub, np.where(valid, -np.take_along_axis(Q, order, axis=1), 0.0)[..., None])[..., 0]
    X = np.zeros((n, m))
    np.put_along_axis(X, order, np.where(valid, sol, 0.0), axis=1)
    return X


def _lcp_bpp(M: np.ndarray, Q: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Block principal pivoting for ``x ≥ 0, y = Mx + q ≥ 0, xᵀy = 0`` for every row q of Q (n, m); M (m, m)
    symmetric positive definite. Returns (X (n, m), converged (n,) bool, iterations)."""
    n, m = Q.shape
    scale = np.abs(Q).max(axis=1, keepdims=True) * tol
    F = -scale > Q  # first guess: the constraints violated at x = 0 (conflicting tasks)
    X = np.zeros((n, m))
    done = np.ones(n, dtype=bool)
    todo = np.flatnonzero(F.any(axis=1))
    if not todo.size:
        return X, done, 0
    done[todo] = False
    Ft, Qt, st = F[todo], Q[todo], scale[todo]
    ninf = budget = None
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        Xt = _masked_solve(M, Ft, Qt)
        V = np.where(Ft, Xt, Xt @ M + Qt) < -np.maximum(st, tol * np.abs(Xt).max(axis=1, keepdims=True))
        X[todo] = Xt
        nv = V.sum(axis=1)
        ok = nv == 0
        if ok.all():
            done[todo] = True
            break
        done[todo[ok]] = True
        if ninf is None:  # after the first iteration (usually the last): the safeguard's counters
            ninf, budget = np.full(n, m + 1), np.full(n, _BACKUP_AFTER)
        better = nv < ninf[todo]
        ninf[todo] = np.where(better, nv, ninf[todo])
        budget[todo] = np.where(better, _BACKUP_AFTER, budget[todo] - 1)  # type: ignore[index]
        single = ~better & (budget[todo] < 0)  # type: ignore[index]
        if single.any():  # Murty's rule: flip only the largest infeasible index
            rows = np.flatnonzero(single)
            last = m - 1 - np.argmax(V[rows, ::-1], axis=1)
            V[rows] = False
            V[rows, last] = True
        keep = ~ok
        todo, Ft, Qt, st = todo[keep], (Ft ^ V)[keep], Qt[keep], st[keep]
    return X, done, iterations


def _lcp_active_set(M: np.ndarray, Q: np.ndarray, X: np.ndarray, tol: float, max_iter: int
                    ) -> tuple[np.ndarray, np.ndarray, int]:
    """The primal active-set method (Lawson–Hanson) for the same problems, all rows together, from the feasible
    points ``max(X, 0)``: each iteration solves on the free set F and either moves to that solution (then frees the
    most violated index, or stops) or steps back to the boundary and fixes the indices that reach 0. The
    objective decreases monotonically; the fallback of :func:`_lcp_bpp`. Returns (X, converged, iterations)."""
    n = Q.shape[0]
    X = np.maximum(X, 0.0)
    F = X > 0.0
    scale = np.abs(Q).max(axis=1) * tol
    done = np.zeros(n, dtype=bool)
    iterations = 0
    todo = np.arange(n)
    tiny = np.finfo(float).tiny
    while todo.size and iterations < max_iter:
        iterations += 1
        Ft, Xt, Qt = F[todo], X[todo], Q[todo]
        Z = _masked_solve(M, Ft, Qt) if Ft.any() else np.zeros_like(Xt)
        blocked = Ft & (Z <= 0.0)
        inside = ~blocked.any(axis=1)
        # the free-set solution is feasible: move there, then free the most violated fixed index (or stop)
        Y = Z @ M + Qt
        s = np.maximum(scale[todo], tol * np.abs(Z).max(axis=1))
        viol = np.where(Ft, 0.0, Y)
        j = np.argmin(viol, axis=1)
        rows = np.arange(todo.size)
        free_one = inside & (viol[rows, j] < -s)
        optimal = inside & ~free_one
        # otherwise: step from X towards Z until the first free index reaches 0, and fix it
        ratio = np.where(blocked, Xt / np.maximum(Xt - Z, tiny), np.inf)
        alpha = np.where(inside, 1.0, np.minimum(ratio.min(axis=1), 1.0))[:, None]
        Xn = Xt + alpha * (Z - Xt)
        hit = blocked & (ratio <= alpha) | (Ft & (Xn <= 0.0))
        Fn = np.where(inside[:, None], Ft, Ft & ~hit)
        Fn[rows[free_one], j[free_one]] = True
        Xn = np.where(Fn | inside[:, None], np.maximum(Xn, 0.0), 0.0)
        X[todo], F[todo] = Xn, Fn
        done[todo[optimal]] = True
        todo = todo[~optimal]
    return X, done, iterations


def project_weights(
    A: np.ndarray, U: np.ndarray, reg: float = 0.0, tol: float = TOL, max_iter: int | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """For every row u of U (n, K): the solution v of ``min vᵀAv s.t. v ≥ u`` (A symmetric PSD, float64; ``reg``
    is the part of A's diagonal that is regularisation, ``reg_eps``).

    Returns V (n, K) and diagnostics: ``iterations`` (pivoting plus active-set iterations, all rows together),
    ``moved`` (per row, how many ``v_j > u_j``: the tasks whose constraint ``g_j·d ≥ 0`` is active, the projection
    lying on it), ``fallback`` (rows finished by the active-set method), ``converged`` and ``floor`` (whether
    the 1e-10 floor was added to a nearly singular problem).
    """
    n = U.shape[0]
    d = A.diagonal()
    live = d > 0.0  # a zero diagonal entry (zero gradient, no regularisation) keeps v_j = u_j
    V = U.astype(float, copy=True)
    info: dict[str, Any] = {"iterations": 0, "fallback": 0, "converged": True, "floor": False,
                            "moved": np.zeros(n, dtype=np.int64)}
    if not live.any():
        return V, info
    idx = None if live.all() else np.flatnonzero(live)
    Al = A if idx is None else A[np.ix_(idx, idx)]
    s = np.sqrt(Al.diagonal())
    M = Al / np.multiply.outer(s, s)
    # λ_min(M) ≥ min_j reg / A_jj: below FLOOR, lift the diagonal to it (reg_eps ≈ 0 and dependent gradients)
    lift = np.maximum(FLOOR - reg / (s * s), 0.0)
    np.fill_diagonal(M, 1.0 + lift)
    info["floor"] = bool(lift.any())
    Us = (U if idx is None else U[:, idx]) * s  # scaled: x̃ = S x, ũ = S u, q̃ = M ũ
    Q = Us @ M
    limit = max_iter if max_iter is not None else 10 * s.size + 20
    X, converged, iterations = _lcp_bpp(M, Q, tol, min(limit, _BPP_ITERATIONS))
    info["iterations"] = iterations
    if not converged.all():  # rare: ill-conditioned problems where the pivoting oscillates
        rows = np.flatnonzero(~converged)
        X[rows], ok, more = _lcp_active_set(M, Q[rows], X[rows], tol, limit)
        info["iterations"] += more
        info["fallback"] = int(rows.size)
        info["converged"] = bool(ok.all())
    X = np.maximum(X, 0.0)
    if idx is None:
        V += X / s
    else:
        V[:, idx] += X / s
    info["moved"] = (X > 0.0).sum(axis=1)
    return V, info


def gramian_array(G: Tensor) -> np.ndarray:
    """:func:`mtlkit.check_gramian` in numpy (the same errors): a symmetric float64 array (K×K work in numpy
    costs µs; the same checks as torch ops cost tens of µs)."""
    check_gramian_shape(G)
    g = G.detach()
    g = (g if g.dtype == torch.float64 and g.device.type == "cpu" else g.to("cpu", torch.float64)).numpy()
    if input_checks_enabled() and not np.isfinite(g).all():
        raise ValueError("the Gramian contains NaN or Inf (a task gradient is not finite)")
    return 0.5 * (g + g.T)  # type: ignore[no-any-return]


def check_pref_vector(pref_vector: Sequence[float] | Tensor | None) -> list[float] | None:
    """A preference vector as a list of finite floats (None stays None: 1/K each)."""
    if pref_vector is None:
        return None
    if isinstance(pref_vector, Tensor):
        if pref_vector.dim() != 1:
            raise ValueError(f"pref_vector must be a vector (1-D), got shape {tuple(pref_vector.shape)}")
        pref_vector = pref_vector.tolist()
    values = [float(v) for v in pref_vector]
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"pref_vector must be a non-empty list of finite numbers, got {values}")
    return values


def _check_eps(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value >= 0.0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


class DualConeWeighting(Weighting):
    """Shared by UPGrad and DualProj: options, properties, the normalised Gramian, and the projections'
    diagnostics."""

    properties = Properties(
        non_conflicting=False, permutation_invariant=True, stateful=False, randomised=False,
        needs=frozenset({"gramian"}),
    )

    def __init__(self, pref_vector: Sequence[float] | Tensor | None = None, norm_eps: float = 1e-4,
                 reg_eps: float = 1e-4) -> None:
        super().__init__()
        self.pref_vector = check_pref_vector(pref_vector)
        self.norm_eps = _check_eps("norm_eps", norm_eps)
        self.reg_eps = _check_eps("reg_eps", reg_eps)

    def _preference(self, K: int) -> np.ndarray:
        if self.pref_vector is None:
            return np.full(K, 1.0 / K)
        if len(self.pref_vector) != K:
            raise ValueError(f"{self.name}: pref_vector has {len(self.pref_vector)} entries but got {K} tasks")
        return np.asarray(self.pref_vector, dtype=float)

    def _project(self, G: Tensor, each: bool) -> np.ndarray:
        """The projections of ``u_i e_i`` for every i (``each``, UPGrad's), or of u alone (one row, DualProj's)."""
        Gn = gramian_array(G)
        u = self._preference(Gn.shape[0])
        A, trace = normalised(Gn, self.norm_eps, self.reg_eps)
        V, info = project_weights(A, np.diag(u) if each else u[None, :], reg=self.reg_eps)
        self.diagnostics = {
            "iterations": info["iterations"],
            "fallback": info["fallback"],
            "converged": info["converged"],
            "moved": torch.from_numpy(info["moved"]),
            "trace": trace,
            "normalised": bool(trace >= self.norm_eps and trace > 0.0),
            "regularised": bool(self.reg_eps > 0.0 or info["floor"]),
        }
        return V

    def _options(self) -> str:
        options = [] if self.pref_vector is None else [f"pref_vector={self.pref_vector}"]
        options += [] if self.norm_eps == 1e-4 else [f"norm_eps={self.norm_eps:g}"]
        options += [] if self.reg_eps == 1e-4 else [f"reg_eps={self.reg_eps:g}"]
        return ", ".join(options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._options()})"


def to_weights(w: np.ndarray, G: Tensor) -> Tensor:
    """float64 numpy weights as a tensor on G's device."""
    out = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float64))
    return out if G.device.type == "cpu" else out.to(G.device)
