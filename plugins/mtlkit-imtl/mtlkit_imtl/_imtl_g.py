"""IMTL-G, the gradient half of Impartial Multi-Task Learning (Liu et al., "Towards Impartial Multi-task
Learning", ICLR 2021).

IMTL-G picks the update ``g = Σ α_i g_i`` with ``Σ α_i = 1`` whose projections onto the unit task gradients
``u_i = g_i / ‖g_i‖`` are all equal: ``g·u_1 = g·u_i``. The paper's closed form, with the rows ``D_i = g_1 − g_i``
and ``U_i = u_1 − u_i`` (i = 2…K), is ``α_{2:K} = g_1 Uᵀ (D Uᵀ)⁻¹`` and ``α_1 = 1 − Σ_{i≥2} α_i``.

Every entry there is an inner product, so it needs only the Gramian ``G = J Jᵀ``: with ``n_i = √G_ii``,
``(g_1 Uᵀ)_j = G_11/n_1 − G_1j/n_j`` and ``(D Uᵀ)_ij = G_11/n_1 − G_1j/n_j − G_i1/n_1 + G_ij/n_j``. The same
conditions read symmetrically in the tasks: ``G α = c n`` (``(Gα)_i = g·g_i = c n_i``) and ``1ᵀα = 1``. With the
cosine matrix ``C = N⁻¹ G N⁻¹`` (``N = diag(n)``, entries in [−1, 1], so any scale of J is harmless) and
``β = N α`` this is ``C β = c 1``, whence

    α = N⁻¹ C⁻¹ 1 / (1ᵀ N⁻¹ C⁻¹ 1),    equal projection c = 1 / (1ᵀ N⁻¹ C⁻¹ 1).

That form is what :class:`IMTLG` computes (no reference task, hence exactly permutation-invariant), with two
degenerate cases handled: tasks with a zero gradient have no direction and get weight 0, and when ``1`` is not
in the range of ``C`` (more tasks than dimensions, or opposite gradients) no update with equal non-zero
projections exists: the only solution is ``c = 0``, a zero update, returned with weights in the null space of G
that still sum to 1. ``c`` can be negative (then the update conflicts with every task equally), so the method
is not declared non-conflicting.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from mtlkit import Properties, Weighting


def _gramian_numpy(G: Tensor) -> np.ndarray:
    """Validate a (K, K) Gramian; return it as a symmetric float64 numpy array."""
    if not isinstance(G, Tensor):
        raise TypeError(f"expected the Gramian as a torch.Tensor, got {type(G).__name__}")
    if G.dim() != 2 or G.shape[0] != G.shape[1] or G.shape[0] == 0:
        raise ValueError(f"expected a square (K, K) Gramian with K >= 1, got shape {tuple(G.shape)}")
    g = G.detach().to(device="cpu", dtype=torch.float64).numpy()
    if not np.isfinite(g).all():
        raise ValueError("the Gramian contains NaN or Inf (a task gradient is not finite)")
    return 0.5 * (g + g.T)


class IMTLG(Weighting):
    """IMTL-G: the update's projections onto every unit task gradient are equal, weights sum to 1."""

    name = "imtl"
    properties = Properties(non_conflicting=False, permutation_invariant=True, needs=frozenset({"gramian"}))

    def __init__(self, rcond: float = 1e-8) -> None:
        """``rcond``: eigenvalues of the cosine matrix below ``rcond · λ_max`` count as zero (rows dependent to
        that precision are treated as dependent)."""
        super().__init__()
        if not (isinstance(rcond, int | float) and 0 < rcond < 1):
            raise ValueError(f"rcond must be a number in (0, 1), got {rcond!r}")
        self.rcond = float(rcond)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        Gn = _gramian_numpy(G)  # K×K work in float64 numpy: µs, not dozens of tiny torch ops
        K = Gn.shape[0]
        alpha = np.zeros(K)
        norms = np.sqrt(np.clip(Gn.diagonal(), 0.0, None))
        active = norms > 0.0
        n_active = int(active.sum())
        info = {"zero_tasks": K - n_active, "degenerate": False, "projection": 0.0, "rank": 0}
        if n_active:
            n = norms if n_active == K else norms[active]
            C = (Gn if n_active == K else Gn[np.ix_(active, active)]) / np.multiply.outer(n, n)
            lam, V = np.linalg.eigh(C)
            keep = lam > self.rcond * lam[-1]
            coef = V.sum(axis=0)  # Vᵀ1
            off_range = math.sqrt(float(coef[~keep] @ coef[~keep]) / n_active)  # how far 1 lies from range(C)
            a = (V[:, keep] @ (coef[keep] / lam[keep])) / n  # N⁻¹ C⁺ 1
            total = float(a.sum())
            if off_range <= math.sqrt(self.rcond) and abs(total) > 1e-12 * float(np.abs(a).sum()):
                alpha[active] = a / total
                info["projection"] = 1.0 / total  # g·u_i
            else:  # only c = 0 solves Gα = c n: the zero update, with null-space weights summing to 1
                null = V[:, ~keep]
                z = null.T @ (1.0 / n)
                if float(z @ z) > 0.0:
                    alpha[active] = (null @ z) / float(z @ z) / n
                info["degenerate"] = True
            info["rank"] = int(keep.sum())
        self.diagnostics = info
        out = torch.from_numpy(alpha)
        return out if G.device.type == "cpu" else out.to(G.device)

    def __repr__(self) -> str:
        return f"IMTLG(rcond={self.rcond:g})" if self.rcond != 1e-8 else "IMTLG()"
