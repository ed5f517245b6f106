"""Sync-free torch weight solvers: the ``solver`` option shared by the Gramian methods, Aligned-MTL's and PCGrad's
torch paths. (Nash-MTL's is in ``_nash_torch``.)

``solver="auto"`` (the default) solves in numpy when the Gramian is on the CPU (tuned for a few tasks: a handful
of µs per call) and in torch on its own device otherwise; ``"numpy"`` and ``"torch"`` force one. The torch paths
contain no data-dependent Python control flow and never read a device value on the host (no ``.item()``,
``bool()``, boolean indexing, ``.cpu()``), so on a GPU they queue kernels and return; their diagnostics are
device tensors. Running them on "meta" tensors, which have no data, proves it (``tests/mtlkit/test_on_device.py``).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Solver = Literal["auto", "numpy", "torch"]
SOLVERS = ("auto", "numpy", "torch")
_EPS32 = float(torch.finfo(torch.float32).eps)


def check_solver(solver: object) -> str:
    """``solver`` if it is one of :data:`SOLVERS` (ValueError otherwise)."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(map(repr, SOLVERS))}; got {solver!r}")
    return str(solver)


def use_torch(solver: str, G: object) -> bool:
    """Whether ``solver`` runs the torch path for the Gramian ``G``: ``"torch"``, or ``"auto"`` off the CPU."""
    return solver == "torch" or (solver == "auto" and isinstance(G, Tensor) and not G.is_cpu)


# --- Aligned-MTL ------------------------------------------------------------------------------------------------


def alignment_torch(
    G: Tensor, scale_mode: str = "min", rtol: float | None = None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``B 1`` with ``B = σ V Λ^{-½} Vᵀ`` over the eigenvalues of G above ``rtol · λ_max`` (as
    :func:`mtlkit._aligned.alignment_matrix`), sync-free: the retained set is a ``torch.where`` mask (it is a
    suffix of the ascending eigenvalues), σ a gather at an index computed on the device.

    Returns (B 1, σ, λ ascending with the dropped ones set to 0, rank). An all-zero G gives zeros.
    """
    K = G.shape[0]
    lam, V = torch.linalg.eigh(G)  # ascending
    rtol = K * _EPS32 if rtol is None else rtol
    top = lam[-1]
    keep = (lam > rtol * top) & (top > 0.0)
    rank = keep.sum()
    kept = torch.where(keep, lam, 0.0)
    first = (K - rank).clamp(max=K - 1)  # index of the smallest retained eigenvalue
    if scale_mode == "min":
        sigma2 = lam.gather(0, first.reshape(1)).squeeze(0)
    elif scale_mode == "median":  # lower median of the retained ones, as torch.median
        sigma2 = lam.gather(0, (first + (rank - 1).clamp(min=0) // 2).reshape(1)).squeeze(0)
    else:
        sigma2 = kept.sum() / rank.clamp(min=1)
    sigma = torch.where(rank > 0, sigma2.clamp(min=0.0).sqrt(), 0.0)
    inv_sqrt = torch.where(keep, torch.rsqrt(torch.where(keep, lam, 1.0)), 0.0)
    b = V @ (sigma * inv_sqrt * V.sum(0))  # V diag(σ/√λ) Vᵀ 1
    return b, sigma, kept, rank


# --- PCGrad -------------------------------------------------------------------------------------------------------


def draw_orders_torch(K: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """(K, K−1) int64 visiting orders on ``device``, the same draw as :func:`mtlkit._pcgrad.draw_orders`:
    keys ``torch.rand(K, K)`` from ``generator`` (on its device; copied to ``device`` if that differs), the
    diagonal set to 2 so task i sorts last in its own row, a stable argsort."""
    keys = torch.rand(K, K, generator=generator, device=generator.device).to(device)
    keys = torch.where(torch.eye(K, dtype=torch.bool, device=device), 2.0, keys.double())
    return torch.argsort(keys, dim=1, stable=True)[:, : K - 1]


def pcgrad_torch(G: Tensor, orders: Tensor) -> tuple[Tensor, Tensor]:
    """PCGrad's coefficients ``c`` (K, K) and the number of projections (a 0-d tensor), as
    :func:`mtlkit._pcgrad.pcgrad_coefficients`: K−1 vectorised steps, projections masked by ``torch.where``."""
    K = G.shape[0]
    coef = torch.eye(K, dtype=G.dtype, device=G.device)
    diag = G.diagonal()
    safe = torch.where(diag > 0.0, diag, 1.0)
    projections = torch.zeros((), dtype=torch.int64, device=G.device)
    for t in range(orders.shape[1]):
        js = orders[:, t]
        inner = (coef * G.index_select(1, js).T).sum(1)  # g_i'·g_{js[i]} for every i
        conflict = (inner < 0.0) & (diag[js] > 0.0)
        delta = torch.where(conflict, inner / safe[js], 0.0)
        coef = coef.scatter_add(1, js.unsqueeze(1), -delta.unsqueeze(1))
        projections = projections + conflict.sum()
    return coef, projections
