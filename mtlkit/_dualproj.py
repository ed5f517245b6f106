"""DualProj (Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", 2024; the projection of
Lopez-Paz & Ranzato's GEM, Equation 11), matched to torchjd 0.18.

The preference-weighted combination ``Jᵀu`` (default: the mean gradient) is projected onto the dual cone of the
task gradients: ``update = Jᵀv`` with ``v`` the solution of ``min vᵀAv s.t. v ≥ u`` on torchjd's normalised,
regularised Gramian ``A = G/tr(G) + reg_eps·I`` (``mtlkit._dual_cone``: exact, float64 numpy).

Non-conflicting with ``reg_eps = 0``; with torchjd's default 1e-4, ``g_j·update ≥ −reg_eps·tr(G)·w_j``.
"""

from __future__ import annotations

from torch import Tensor

from ._dual_cone import DualConeWeighting, to_weights


class DualProj(DualConeWeighting):
    """DualProj: the mean (or preference-weighted) gradient projected onto the dual cone of the task gradients.

    Args:
        pref_vector: the preference ``u`` (K numbers), default ``1/K`` each (torchjd's default).
        norm_eps: the Gramian is normalised by its trace, unless ``tr(G) < norm_eps`` (then taken as 0).
        reg_eps: ``reg_eps·I`` added to the normalised Gramian (default 1e-4, torchjd's; 0: exact projection).

    ``diagnostics`` as :class:`~mtlkit.UPGrad`'s (one program).
    """

    name = "dualproj"
    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        return to_weights(self._project(G, each=False)[0], G)
