"""IMTL-G, the gradient half of Impartial Multi-Task Learning (Liu et al., "Towards Impartial Multi-task
Learning", ICLR 2021, Eq. 8–9 and Theorem 1).

IMTL-G picks the update ``g = Σ α_i g_i`` with ``Σ α_i = 1`` whose projections onto the unit task gradients
``u_i = g_i / ‖g_i‖`` are all equal: ``g·u_1 = g·u_i``. The paper's closed form, with the rows ``D_i = g_1 − g_i``
and ``U_i = u_1 − u_i`` (i = 2…K), is ``α_{2:K} = g_1 Uᵀ (D Uᵀ)⁻¹`` and ``α_1 = 1 − Σ_{i≥2} α_i``.

Every entry there is an inner product, so it needs only the Gramian ``G = J Jᵀ``. The conditions read
symmetrically in the tasks: ``G α = c n`` (``(Gα)_i = g·g_i = c n_i``, ``n_i = √G_ii``) and ``1ᵀα = 1``. With
the cosine matrix ``C = N⁻¹ G N⁻¹`` (``N = diag(n)``, entries in [−1, 1], so any scale of J is harmless) and
``β = N α`` this is ``C β = c 1``, whence

    α = N⁻¹ C⁻¹ 1 / (1ᵀ N⁻¹ C⁻¹ 1),    equal projection c = 1 / (1ᵀ N⁻¹ C⁻¹ 1).

That form is what :class:`IMTLG` computes (no reference task, hence exactly permutation-invariant; working on C
rather than G keeps rows of very different norms exact). Degenerate cases: tasks with a zero gradient have no
direction and get weight 0; when ``1`` is not in the range of ``C`` (more tasks than dimensions, opposite
gradients) no update with equal non-zero projections exists: the only solution is ``c = 0``, a zero update,
returned with weights in the null space of G that still sum to 1. ``c`` can be negative (then the update
conflicts with every task equally), so the method is not declared non-conflicting.

Eigenvalues of C below ``rcond · λ_max`` count as zero. The default follows the precision the Gramian was
formed in: ``K · eps`` of the Jacobian's dtype when called on J (float64 Jacobians are solved to float64
precision), ``K · eps(float32)`` when :meth:`IMTLG.weights` is given a Gramian alone (it usually comes from
float32 gradients, whose rounding leaves eigenvalues of C up to ~K·1e-7 that are noise).

On the CPU the K×K work runs in numpy; on other devices in torch (:func:`imtl_weights_torch`), where the
degenerate cases are ``torch.where`` masks and nothing is read back on the host (``torch.linalg.eigh`` itself
synchronises once on CUDA, to check cuSOLVER's error flag).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._aggregator import Properties, Weighting, check_gramian, gramian
from ._modo import square_numpy
from ._torch_solvers import Solver, check_solver, use_torch

_EPS32 = float(torch.finfo(torch.float32).eps)


def default_rcond(K: int, dtype: torch.dtype = torch.float32) -> float:
    """``K · eps`` of the precision a Gramian of ``dtype`` gradients is formed in (float32 for 16-bit types)."""
    compute = dtype if dtype in (torch.float32, torch.float64) else torch.float32
    return K * float(torch.finfo(compute).eps)


def imtl_weights_numpy(G: np.ndarray, rcond: float) -> tuple[np.ndarray, dict[str, Any]]:
    """α = N⁻¹ C⁺ 1 / (1ᵀ N⁻¹ C⁺ 1) for a symmetric float64 G, and the diagnostics (see :class:`IMTLG`)."""
    K = G.shape[0]
    alpha = np.zeros(K)
    norms = np.sqrt(np.clip(G.diagonal(), 0.0, None))
    active = norms > 0.0
    n_active = int(active.sum())
    info = {"zero_tasks": K - n_active, "degenerate": False, "projection": 0.0, "rank": 0}
    if not n_active:
        return alpha, info
    n = norms if n_active == K else norms[active]
    C = (G if n_active == K else G[np.ix_(active, active)]) / np.multiply.outer(n, n)
    lam, V = np.linalg.eigh(C)
    if lam[0] > rcond * lam[-1]:  # full rank (the usual case): 1 is in the range of C
        a = (V @ (V.sum(axis=0) / lam)) / n
        total = float(a.sum())
        if abs(total) > 1e-12 * float(np.abs(a).sum()):
            alpha[active] = a / total
            info.update(projection=1.0 / total, rank=n_active)
            return alpha, info
    keep = lam > rcond * lam[-1]
    coef = V.sum(axis=0)  # Vᵀ1
    off_range = math.sqrt(float(coef[~keep] @ coef[~keep]) / n_active)  # how far 1 lies from range(C)
    a = (V[:, keep] @ (coef[keep] / lam[keep])) / n  # N⁻¹ C⁺ 1
    total = float(a.sum())
    if off_range <= math.sqrt(rcond) and abs(total) > 1e-12 * float(np.abs(a).sum()):
        alpha[active] = a / total
        info["projection"] = 1.0 / total  # g·u_i
    else:  # only c = 0 solves Gα = c n: the zero update, with null-space weights summing to 1
        null = V[:, ~keep]
        z = null.T @ (1.0 / n)
        if float(z @ z) > 0.0:
            alpha[active] = (null @ z) / float(z @ z) / n
        info["degenerate"] = True
    info["rank"] = int(keep.sum())
    return alpha, info


def imtl_weights_torch(G: Tensor, rcond: float) -> tuple[Tensor, dict[str, Tensor]]:
    """α = N⁻¹ C⁺ 1 / (1ᵀ N⁻¹ C⁺ 1) on G's device with no host sync (:func:`imtl_weights_numpy`, masked):
    zero-gradient tasks are zero rows/columns of C (eigenvalue 0, dropped) with weight 0, and the c = 0 case
    takes the null-space weights. Returns α and the diagnostics as tensors."""
    K = G.shape[0]
    norms = G.diagonal().clamp(min=0.0).sqrt()
    active = norms > 0.0
    one = active.to(G.dtype)  # 1 on the tasks with a gradient, 0 elsewhere
    n_active = active.sum()
    n = torch.where(active, norms, 1.0)
    C = torch.where(active[:, None] & active[None, :], G / (n[:, None] * n[None, :]), 0.0)
    lam, V = torch.linalg.eigh(C)
    keep = lam > rcond * lam[-1]
    coef = V.T @ one  # Vᵀ1; its null-space part is 1's distance from range(C) (zero rows add nothing: 1 is 0 there)
    off_range = (torch.where(keep, 0.0, coef * coef).sum() / n_active.clamp(min=1)).sqrt()
    a = (V @ torch.where(keep, coef / torch.where(keep, lam, 1.0), 0.0)) / n * one  # N⁻¹ C⁺ 1
    total = a.sum()
    regular = (off_range <= math.sqrt(rcond)) & (total.abs() > 1e-12 * a.abs().sum())
    z = torch.where(keep, 0.0, V.T @ (one / n))  # c = 0: null-space weights summing to 1
    zz = (z * z).sum()
    null = (V @ z) / torch.where(zz > 0.0, zz, 1.0) / n * one
    some = n_active > 0
    alpha = torch.where(some, torch.where(regular, a / torch.where(regular, total, 1.0), null), 0.0)
    info = {
        "zero_tasks": K - n_active,
        "degenerate": some & ~regular,
        "projection": torch.where(some & regular, 1.0 / total, 0.0),
        "rank": torch.where(some, keep.sum(), 0),
    }
    return alpha, info


class IMTLG(Weighting):
    """IMTL-G: the update's projections onto every unit task gradient are equal, weights sum to 1.

    Args:
        rcond: eigenvalues of the cosine matrix below ``rcond · λ_max`` count as zero (rows dependent to that
            precision are treated as dependent). ``None`` (default): ``K · eps`` of the Jacobian's dtype on a
            call with J, ``K · eps(float32)`` for :meth:`weights` on a Gramian alone.
        solver: ``"auto"`` (numpy for a CPU Gramian, torch on its device otherwise), ``"numpy"`` or ``"torch"``;
            on the torch path ``diagnostics`` are device tensors.

    ``diagnostics``: ``zero_tasks``, ``degenerate`` (the c = 0 case), ``projection`` (c = g·u_i) and ``rank``.
    """

    name = "imtl"
    properties = Properties(non_conflicting=False, permutation_invariant=True, needs=frozenset({"gramian"}))

    def __init__(self, rcond: float | None = None, solver: Solver = "auto") -> None:
        super().__init__()
        if rcond is not None and not (isinstance(rcond, (int, float)) and 0 < rcond < 1):
            raise ValueError(f"rcond must be a number in (0, 1) or None, got {rcond!r}")
        self.rcond = None if rcond is None else float(rcond)
        self.solver = check_solver(solver)

    def _solve(self, G: Tensor, rcond: float) -> Tensor:
        if use_torch(self.solver, G):
            alpha, self.diagnostics = imtl_weights_torch(check_gramian(G.detach()), rcond)
            return alpha
        alpha, self.diagnostics = imtl_weights_numpy(square_numpy(G, "Gramian", symmetrise=True), rcond)
        out = torch.from_numpy(alpha)
        return out if G.device.type == "cpu" else out.to(G.device)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        K = G.shape[0] if isinstance(G, Tensor) and G.dim() == 2 else 1
        return self._solve(G, self.rcond if self.rcond is not None else default_rcond(K))

    def forward(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        G = gramian(J)
        rcond = self.rcond if self.rcond is not None else default_rcond(J.shape[0], J.dtype)
        return self._solve(G, rcond).to(dtype=J.dtype, device=J.device) @ J

    def __repr__(self) -> str:
        options = [] if self.rcond is None else [f"rcond={self.rcond:g}"]
        options += [] if self.solver == "auto" else [f"solver={self.solver!r}"]
        return f"IMTLG({', '.join(options)})"
