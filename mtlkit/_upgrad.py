"""UPGrad (Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", 2024), matched to torchjd 0.18.

Each task gradient, weighted by the preference ``u_i`` (default ``1/K``), is projected onto the dual cone of all
the task gradients, ``{d : g_j·d ≥ 0 ∀j}``, and the projections are summed: ``update = Σ_i π(u_i g_i)``. With
``π(Jᵀ u_i e_i) = Jᵀ v⁽ⁱ⁾`` the weights are ``Σ_i v⁽ⁱ⁾``, each ``v⁽ⁱ⁾`` the solution of
``min vᵀAv s.t. v ≥ u_i e_i`` on torchjd's normalised, regularised Gramian ``A = G/tr(G) + reg_eps·I``
(``mtlkit._dual_cone``: all K programs solved together, exactly, in float64 numpy).

Without regularisation (``reg_eps = 0``) the update never conflicts with a task (``g_j·update ≥ 0``). With
torchjd's default ``reg_eps = 1e-4`` it is the exact dual-cone projection for the Gramian of ``[J/√tr G, √reg_eps·I]``
and may conflict slightly: ``g_j·update ≥ −reg_eps·tr(G)·w_j`` (equality on the constraints that are active).
"""

from __future__ import annotations

from torch import Tensor

from ._dual_cone import DualConeWeighting, to_weights


class UPGrad(DualConeWeighting):
    """UPGrad: project every (preference-weighted) task gradient onto the dual cone of all of them, then sum.

    Args:
        pref_vector: the preference ``u`` (K numbers), default ``1/K`` each (torchjd's default).
        norm_eps: the Gramian is normalised by its trace, unless ``tr(G) < norm_eps`` (then it is taken as 0;
            torchjd's absolute threshold, default 1e-4).
        reg_eps: ``reg_eps·I`` is added to the normalised Gramian (default 1e-4, torchjd's). 0 gives the exact,
            non-conflicting projection (a floor of 1e-10 on the unit-diagonal problem keeps it solvable when the
            gradients are linearly dependent).

    ``diagnostics``: ``iterations`` (solver iterations, all K programs together), ``moved`` (per program, the
    number of tasks j with ``v_j > u_j``: their constraint ``g_j·d ≥ 0`` is active), ``fallback`` (programs
    finished by the active-set method), ``converged``, ``trace`` (tr G), ``normalised`` and ``regularised``.

    Reading the K×K Gramian of a CUDA Jacobian back to the host is one synchronisation per call (torchjd makes
    the same one).
    """

    name = "upgrad"
    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        V = self._project(G, each=True)  # row i: the projection of u_i e_i
        return to_weights(V.sum(axis=0), G)
