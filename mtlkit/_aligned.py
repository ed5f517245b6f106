"""Aligned-MTL (Senushkin et al., "Independent Component Alignment for Multi-Task Learning", CVPR 2023).

Eigendecompose the Gramian ``G = V Λ Vᵀ`` (eigenvalues below a relative tolerance are dropped) and take
``B = σ · V Λ^{-½} Vᵀ``: the rows of ``BJ`` are orthogonal with equal norm σ (``(BJ)(BJ)ᵀ = BGB = σ² I`` on the
retained subspace), i.e. the task gradients are aligned into a well-conditioned system. The weights are
``α = B w`` with ``w`` the task importance (ones for ``reduction="sum"``, as the original code; ``1/K`` for
``"mean"``, as torchjd), and the update is ``Jᵀα``.

``σ`` is picked by ``scale_mode`` from the singular values ``s = √λ`` of J: ``"min"`` (the smallest retained
one, the paper's choice), ``"median"`` (the lower median, as ``torch.median`` in the original code) or
``"rmse"`` (their root mean square ``√mean(λ)``).

On the CPU the eigendecomposition runs in numpy; on other devices in torch (``_torch_solvers.alignment_torch``),
where mtlkit reads nothing back on the host; ``torch.linalg.eigh`` itself synchronises once on CUDA (torch checks
cuSOLVER's error flag on the host).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from ._aggregator import Properties, Weighting, check_gramian
from ._nash import _gramian_numpy
from ._torch_solvers import Solver, alignment_torch, check_solver, use_torch

ScaleMode = Literal["min", "median", "rmse"]
SCALE_MODES = ("min", "median", "rmse")
REDUCTIONS = ("sum", "mean")
_EPS32 = float(torch.finfo(torch.float32).eps)


def alignment_matrix(
    G: np.ndarray, scale_mode: str = "min", rtol: float | None = None
) -> tuple[np.ndarray, float, np.ndarray]:
    """``B = σ V Λ^{-½} Vᵀ`` over the eigenvalues of G above ``rtol · λ_max``; returns (B, σ, retained λ ascending).

    ``rtol=None`` is ``K · eps(float32)``. An all-zero G gives ``B = 0``.
    """
    K = G.shape[0]
    lam, V = np.linalg.eigh(G)  # ascending
    rtol = K * _EPS32 if rtol is None else rtol
    keep = lam > rtol * lam[-1] if lam[-1] > 0 else np.zeros(K, dtype=bool)
    lam, V = lam[keep], V[:, keep]
    if lam.size == 0:
        return np.zeros((K, K)), 0.0, lam
    if scale_mode == "min":
        scale = math.sqrt(lam[0])
    elif scale_mode == "median":
        scale = math.sqrt(lam[(lam.size - 1) // 2])  # lower median, as torch.median
    else:
        scale = math.sqrt(float(lam.mean()))
    B = (V * (scale / np.sqrt(lam))) @ V.T
    return B, scale, lam


class AlignedMTL(Weighting):
    """Aligned-MTL: weights ``σ V Λ^{-½} Vᵀ w`` that give the task gradients orthogonal components of equal size σ.

    Args:
        scale_mode: ``"min"`` (default), ``"median"`` or ``"rmse"`` of the retained singular values.
        reduction: ``"sum"`` (default, the original code: ``w = 1``) or ``"mean"`` (torchjd: ``w = 1/K``);
            the two updates differ by exactly a factor K.
        rtol: eigenvalues ``λ ≤ rtol · λ_max`` are dropped (default ``K · eps(float32)``, the original's
            threshold; the Gramian usually comes from float32 gradients).
        solver: ``"auto"`` (numpy for a CPU Gramian, torch on its device otherwise), ``"numpy"`` or ``"torch"``.

    ``diagnostics``: ``rank`` (eigenvalues kept), ``scale`` (σ), ``singular_values`` (retained, descending) and
    ``condition`` (s_max / s_min of the retained ones). On the torch path they are tensors on G's device and
    ``singular_values`` has K entries, the dropped ones 0 (a length that depends on the data would need a sync);
    ``condition`` is NaN when nothing is retained.
    """

    name = "aligned"
    properties = Properties(
        non_conflicting=False, permutation_invariant=True, stateful=False, randomised=False,
        needs=frozenset({"gramian"}),
    )

    def __init__(
        self, scale_mode: ScaleMode = "min", reduction: str = "sum", rtol: float | None = None, solver: Solver = "auto"
    ) -> None:
        super().__init__()
        if scale_mode not in SCALE_MODES:
            raise ValueError(f"scale_mode must be one of {', '.join(SCALE_MODES)}; got {scale_mode!r}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be 'sum' (original Aligned-MTL) or 'mean' (torchjd); got {reduction!r}")
        if rtol is not None and not (isinstance(rtol, (int, float)) and 0 <= rtol < 1):
            raise ValueError(f"rtol must be a number in [0, 1) or None, got {rtol!r}")
        self.scale_mode = scale_mode
        self.reduction = reduction
        self.rtol = None if rtol is None else float(rtol)
        self.solver = check_solver(solver)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        if use_torch(self.solver, G):
            return self._weights_torch(G)
        Gn = _gramian_numpy(G)
        K = Gn.shape[0]
        B, scale, lam = alignment_matrix(Gn, self.scale_mode, self.rtol)
        alpha = B.sum(axis=1) if self.reduction == "sum" else B.sum(axis=1) / K  # B w with w = 1 or 1/K
        s = np.sqrt(lam[::-1])
        self.diagnostics = {
            "rank": int(lam.size),
            "scale": scale,
            "singular_values": torch.from_numpy(s.copy()),
            "condition": float(s[0] / s[-1]) if s.size else None,
        }
        out = torch.from_numpy(alpha)
        return out if G.device.type == "cpu" else out.to(G.device)

    def _weights_torch(self, G: Tensor) -> Tensor:
        """:meth:`weights` on G's device (``alignment_torch``): no host read-back by mtlkit."""
        G = check_gramian(G.detach())
        alpha, scale, lam, rank = alignment_torch(G, self.scale_mode, self.rtol)
        s = lam.flip(0).sqrt()  # descending, dropped ones 0
        smallest = s.gather(0, (rank - 1).clamp(min=0).reshape(1)).squeeze(0)
        self.diagnostics = {
            "rank": rank,
            "scale": scale,
            "singular_values": s,
            "condition": torch.where(rank > 0, s[0] / smallest, torch.nan),
        }
        return alpha if self.reduction == "sum" else alpha / G.shape[0]

    def __repr__(self) -> str:
        extra = "" if self.solver == "auto" else f", solver={self.solver!r}"
        return f"AlignedMTL(scale_mode={self.scale_mode!r}, reduction={self.reduction!r}{extra})"
