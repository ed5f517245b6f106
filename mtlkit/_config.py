"""ConFIG (Liu et al., "ConFIG: Towards Conflict-free Training of Physics Informed Neural Networks", arXiv:2408.11104,
2024, Equation 2), matched to torchjd 0.18's ``ConFIG``.

With the unit task gradients ``U = N⁻¹J`` (``N = diag ‖g_i‖``; zero gradients give zero rows) and the preference
``w`` (default all ones), the direction is ``d = U⁺w`` (the pseudo-inverse's minimum-norm solution of
``U d = w``: equal projections ``w_i`` on every unit gradient) and the update is ``(Σ_i g_i·d̂) d̂``, ``d̂ = d/‖d‖``.

The Gramian suffices: ``U⁺ = Uᵀ(UUᵀ)⁺`` and ``UUᵀ = C = N⁻¹GN⁻¹`` is the cosine matrix, so ``d = Jᵀa`` with
``a = N⁻¹C⁺w``, ``‖d‖² = aᵀGa``, ``Σ_i g_i·d = 1ᵀGa``, and the weights are ``a · 1ᵀGa / ‖d‖²`` (torchjd clamps
``‖d‖`` at 1e-12 when normalising; so does mtlkit). ``C⁺`` comes from the eigendecomposition of the K×K ``C``.

The one thing a Gramian cannot reproduce is the pseudo-inverse's cutoff where it keeps tiny singular values:
``torch.linalg.pinv`` (torchjd, and the authors' code) drops the singular values of U below
``rtol·σ_max`` with ``rtol = max(K, P)·eps(J's dtype)``, which depends on P and on J's dtype. Hence:

- ``weights(G)`` (what :func:`mtlkit.backward` uses, on every backend) drops the eigenvalues of C below
  ``rcond²·λ_max``; ``rcond=None`` uses ``√(K·eps(float32))`` (with C formed from float32 gradients, smaller
  eigenvalues are rounding noise). Pass ``rcond=max(K, P)·eps(dtype)`` to reproduce torchjd's cutoff.
- ``method(J)`` knows P and the dtype: ``rcond=None`` is torch's ``max(K, P)·eps(J's dtype)`` (float32's for
  float16/bfloat16, which are computed in float32). The result comes from the Gramian when the retained
  spectrum is resolvable there (smallest retained ``λ/λ_max`` at least 1e-8 for a
  float64 J, 1e-3 otherwise), else with ``torch.linalg.pinv`` on the unit gradients as torchjd does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._aggregator import Properties, Weighting, check_finite_update, check_jacobian, gramian
from ._dual_cone import check_pref_vector, gramian_array, to_weights

_EPS32 = float(torch.finfo(torch.float32).eps)
_RESOLVABLE = {torch.float64: 1e-8}  # smallest λ/λ_max the Gramian resolves well (other dtypes: 1e-3)


def config_weights(G: np.ndarray, pref: np.ndarray, rcond: float) -> tuple[np.ndarray, dict[str, Any]]:
    """ConFIG's weights from the Gramian with the singular-value cutoff ``rcond`` (relative to σ_max of U)."""
    K = G.shape[0]
    norms = np.sqrt(np.clip(G.diagonal(), 0.0, None))
    active = norms > 0.0
    info = {"rank": 0, "smallest_ratio": math.nan, "direction_norm": 0.0}
    a = np.zeros(K)
    if not active.any():
        return a, info
    n = norms[active]
    C = (G if active.all() else G[np.ix_(active, active)]) / np.multiply.outer(n, n)
    lam, V = np.linalg.eigh(C)
    keep = lam > max(rcond * rcond * lam[-1], 0.0)
    Vk = V[:, keep]
    c = Vk @ ((Vk.T @ pref[active]) / lam[keep])  # C⁺ w
    a[active] = c / n
    Ga = G @ a
    d2 = max(float(a @ Ga), 0.0)
    length = float(Ga.sum())
    norm = max(math.sqrt(d2), 1e-12)  # torch.nn.functional.normalize's eps
    info = {"rank": int(keep.sum()), "smallest_ratio": float(lam[keep][0] / lam[-1]) if keep.any() else math.nan,
            "direction_norm": math.sqrt(d2)}
    return a * (length / (norm * norm)), info


class ConFIG(Weighting):
    """ConFIG: the direction with equal (or preference-weighted) projections on every unit task gradient, scaled
    to the sum of the gradients' projections on it.

    Args:
        pref_vector: the projections asked of the unit gradients (K numbers); default all ones (torchjd's).
        rcond: singular values of the unit-gradient matrix below ``rcond·σ_max`` are dropped. None: see the module
            docs (torch.linalg.pinv's ``max(K, P)·eps(dtype)`` when J is given, ``√(K·eps(float32))`` from the
            Gramian alone).

    ``diagnostics``: ``rank`` (singular values kept), ``smallest_ratio`` (smallest kept ``σ²/σ_max²``),
    ``direction_norm`` (‖U⁺w‖) and ``path`` (``"gramian"`` or ``"pinv"``).
    """

    name = "config"
    properties = Properties(
        non_conflicting=False, permutation_invariant=True, stateful=False, randomised=False,
        needs=frozenset({"gramian"}),
    )

    def __init__(self, pref_vector: Sequence[float] | Tensor | None = None, rcond: float | None = None) -> None:
        super().__init__()
        self.pref_vector = check_pref_vector(pref_vector)
        if rcond is not None and (isinstance(rcond, bool) or not isinstance(rcond, (int, float))
                                  or not 0.0 <= rcond < 1.0):
            raise ValueError(f"rcond must be a number in [0, 1) or None, got {rcond!r}")
        self.rcond = None if rcond is None else float(rcond)

    def _preference(self, K: int) -> np.ndarray:
        if self.pref_vector is None:
            return np.ones(K)
        if len(self.pref_vector) != K:
            raise ValueError(f"config: pref_vector has {len(self.pref_vector)} entries but got {K} tasks")
        return np.asarray(self.pref_vector, dtype=float)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        Gn = gramian_array(G)
        K = Gn.shape[0]
        rcond = self.rcond if self.rcond is not None else math.sqrt(K * _EPS32)
        w, info = config_weights(Gn, self._preference(K), rcond)
        self.diagnostics = {**info, "path": "gramian"}
        return to_weights(w, G)

    def forward(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        check_jacobian(J)
        K, P = J.shape
        Gn = gramian_array(gramian(J))
        pref = self._preference(K)
        work_dtype = J.dtype if J.dtype in (torch.float32, torch.float64) else torch.float32  # fp16/bf16: float32
        rcond = self.rcond if self.rcond is not None else max(K, P) * float(torch.finfo(work_dtype).eps)
        w, info = config_weights(Gn, pref, rcond)
        resolvable = _RESOLVABLE.get(J.dtype, 1e-3)
        if not info["smallest_ratio"] < resolvable:  # (NaN: nothing kept, a zero update either way)
            self.diagnostics = {**info, "path": "gramian"}
            return check_finite_update(to_weights(w, J).to(J.dtype) @ J)
        # torchjd's computation: the pseudo-inverse of the unit gradients, in J's precision
        work = J.to(work_dtype)
        units = torch.nan_to_num(work / work.norm(dim=1, keepdim=True), 0.0)
        pref_t = torch.as_tensor(pref, dtype=work.dtype, device=J.device)
        direction = torch.linalg.pinv(units, rtol=rcond) @ pref_t
        unit = torch.nn.functional.normalize(direction, dim=0)
        update = (work @ unit).sum() * unit
        self.diagnostics = {**info, "path": "pinv"}
        return check_finite_update(update.to(J.dtype))

    def __repr__(self) -> str:
        options = [] if self.pref_vector is None else [f"pref_vector={self.pref_vector}"]
        options += [] if self.rcond is None else [f"rcond={self.rcond:g}"]
        return f"ConFIG({', '.join(options)})"

