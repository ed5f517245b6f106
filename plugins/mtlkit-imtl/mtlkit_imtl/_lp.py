"""A small dense linear-programming solver (two-phase simplex method, Bland's rule) for EPO's K-variable LPs.

``maximize cᵀx  subject to  A_ub x ≤ b_ub,  A_eq x = b_eq,  x ≥ 0``. Exact up to rounding (a vertex of the
feasible set), finite (Bland's rule cannot cycle), and fast enough for the tens of variables of a weighting.
"""

from __future__ import annotations

import numpy as np

_TOL = 1e-11


def _pivot(T: np.ndarray, basis: list[int], row: int, col: int) -> None:
    T[row] /= T[row, col]
    column = T[:, col].copy()
    column[row] = 0.0
    T -= np.multiply.outer(column, T[row])
    basis[row] = col


def _simplex(T: np.ndarray, basis: list[int], n_cols: int) -> bool:
    """Maximise the objective in T's last row (stored as −c: a negative entry can improve) over the first
    ``n_cols`` columns; returns False when unbounded."""
    m = T.shape[0] - 1
    for _ in range(50 * (m + n_cols) + 100):
        candidates = np.flatnonzero(T[-1, :n_cols] < -_TOL)
        if candidates.size == 0:
            return True
        col = int(candidates[0])  # Bland: the lowest index
        column = T[:m, col]
        positive = column > _TOL
        if not positive.any():
            return False
        ratios = np.full(m, np.inf)
        ratios[positive] = T[:m, -1][positive] / column[positive]
        best = ratios.min()
        ties = np.flatnonzero(ratios <= best + _TOL * max(1.0, abs(best)))
        row = int(min(ties, key=lambda r: basis[r]))  # Bland: the lowest basic index leaves
        _pivot(T, basis, row, col)
    return True  # pragma: no cover - Bland's rule terminates


def linprog_max(
    c: np.ndarray, A_ub: np.ndarray, b_ub: np.ndarray, A_eq: np.ndarray, b_eq: np.ndarray
) -> np.ndarray | None:
    """A maximiser x of the LP, or None when it is infeasible or unbounded."""
    n = c.size
    A = np.vstack([A_ub, A_eq]).astype(float)
    b = np.concatenate([b_ub, b_eq]).astype(float)
    m_ub, m = A_ub.shape[0], A.shape[0]
    slack = np.zeros((m, m_ub))
    slack[np.arange(m_ub), np.arange(m_ub)] = 1.0
    flip = b < 0.0
    A[flip], b[flip], slack[flip] = -A[flip], -b[flip], -slack[flip]
    needs_art = np.ones(m, dtype=bool)
    needs_art[:m_ub] = flip[:m_ub]  # an unflipped ≤ row starts with its slack in the basis
    arts = np.flatnonzero(needs_art)
    art = np.zeros((m, arts.size))
    art[arts, np.arange(arts.size)] = 1.0
    n_real = n + m_ub
    T = np.zeros((m + 1, n_real + arts.size + 1))
    T[:m, :n], T[:m, n:n_real], T[:m, n_real:-1], T[:m, -1] = A, slack, art, b
    basis = [n + i if not needs_art[i] else -1 for i in range(m)]
    for k, i in enumerate(arts):
        basis[i] = n_real + k
    # phase 1: maximise −Σ artificials (objective row = Σ of the artificial rows, negated)
    T[-1, :] = 0.0
    T[-1, n_real:-1] = 1.0
    for i in arts:
        T[-1] -= T[i]
    _simplex(T, basis, n_real + arts.size)
    if T[-1, -1] < -1e-9 * max(1.0, float(np.abs(b).max(initial=0.0))):
        return None  # infeasible
    for row in range(m):  # drive the remaining (zero) artificials out of the basis
        if basis[row] >= n_real:
            nonzero = np.flatnonzero(np.abs(T[row, :n_real]) > _TOL)
            if nonzero.size:
                _pivot(T, basis, row, int(nonzero[0]))
    keep = [r for r in range(m) if basis[r] < n_real]  # rows still on an artificial are redundant
    T = np.vstack([T[keep][:, [*range(n_real), T.shape[1] - 1]], np.zeros((1, n_real + 1))])
    basis = [basis[r] for r in keep]
    # phase 2: the objective row holds −c, expressed in the current basis
    T[-1, :n] = -c
    for row, var in enumerate(basis):
        if T[-1, var] != 0.0:
            T[-1] -= T[-1, var] * T[row]
    if not _simplex(T, basis, n_real):
        return None
    x = np.zeros(n_real)
    for row, var in enumerate(basis):
        x[var] = T[row, -1]
    return np.maximum(x[:n], 0.0)
