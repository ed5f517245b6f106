"""MoCo (Fernando, Shen, Liu, Chaudhury, Murugesan and Chen, "Mitigating Gradient Bias in Multi-objective Learning:
A Provably Convergent Approach", ICLR 2023, Algorithm 1), as in LibMTL's ``MoCo`` (main branch, written
from the authors' code; not in 1.1.5).

A tracking variable ``Y`` (K×P) follows the task gradients and the weights ``λ`` descend ``½‖Yᵀλ‖²``:

    Y ← Y − β_t (Y − H),                 β_t = β / t^{β_σ},
    λ ← P(λ − γ_t (Y Yᵀ + ρ I) λ),        γ_t = γ / t^{γ_σ},
    update = Yᵀ λ,

from ``Y = 0``, ``λ = 1/K``. ``H`` are the task gradients; LibMTL rescales each to the norm of its loss,
``h_i = g_i / (‖g_i‖ + 10⁻⁸) · L_i`` (``normalize=True``, the default) and projects with a softmax (``projection=
"softmax"``); the paper uses the raw gradients and the Euclidean projection onto the simplex
(``normalize=False, projection="simplex"``). ``Y`` tracks gradient vectors across steps, so MoCo needs the Jacobian
(a K×P buffer in J's dtype, at least float32); it cannot run on the Gramian or representation backends. Defaults
are LibMTL's: ``β = 0.5``, ``β_σ = 0.5``, ``γ = 0.1``, ``γ_σ = 0.5``, ``ρ = 0``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ._aggregator import Aggregator, Properties, check_finite_update, check_jacobian
from ._dbmtl import check_rate, work_dtype
from ._loss_weighting import check_losses

PROJECTIONS = ("softmax", "simplex")


def project_simplex(v: Tensor) -> Tensor:
    """The Euclidean projection of ``v`` (K,) onto the probability simplex (sort-based, exact; ``v`` is shifted to
    a maximum of 0 first, which leaves the projection unchanged and keeps the first sorted entry in the support)."""
    v = v - v.max()
    u, _ = torch.sort(v, descending=True)
    css = torch.cumsum(u, dim=0) - 1.0
    k = torch.arange(1, v.shape[0] + 1, dtype=v.dtype, device=v.device)
    rho = int((u - css / k > 0).nonzero().max())
    return torch.clamp(v - css[rho] / (rho + 1), min=0.0)


class MoCo(Aggregator):
    """MoCo: tracked task gradients ``Y`` combined by weights ``λ`` that descend ``½‖Yᵀλ‖²``.

    Args:
        beta: the tracking rate β (0.5).
        beta_sigma: the decay exponent of β (0.5).
        gamma: the weights' step γ (0.1).
        gamma_sigma: the decay exponent of γ (0.5).
        rho: the ℓ2 regularisation ρ of the weights' step (0).
        normalize: rescale each task gradient to its loss's norm (True, LibMTL) or use it as is (the paper).
        projection: ``"softmax"`` (LibMTL) or ``"simplex"`` (the paper's Euclidean projection).

    ``diagnostics``: ``lambda`` (the weights λ of Y's rows) and ``step``. A call with another shape of J than
    ``Y``'s starts afresh.
    """

    name = "moco"
    properties = Properties(stateful=True, needs=frozenset({"jacobian", "losses"}))

    def __init__(self, beta: float = 0.5, beta_sigma: float = 0.5, gamma: float = 0.1, gamma_sigma: float = 0.5,
                 rho: float = 0.0, normalize: bool = True, projection: str = "softmax") -> None:
        super().__init__()
        self.beta, self.beta_sigma = check_rate(beta, "beta"), check_rate(beta_sigma, "beta_sigma")
        self.gamma, self.gamma_sigma = check_rate(gamma, "gamma"), check_rate(gamma_sigma, "gamma_sigma")
        self.rho = check_rate(rho, "rho")
        if projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {', '.join(PROJECTIONS)}, got {projection!r}")
        self.normalize, self.projection = bool(normalize), projection
        self.reset()

    def reset(self) -> None:
        """Forget ``Y`` and ``λ``."""
        self._step = 0
        self._y: Tensor | None = None
        self._lambda: Tensor | None = None

    def _targets(self, J: Tensor, L: Tensor, dtype: torch.dtype) -> Tensor:
        """The gradients Y tracks: ``g_i / (‖g_i‖ + 1e-8) · L_i`` (LibMTL) or ``g_i``."""
        H = J.to(dtype)
        if not self.normalize:
            return H
        norms = torch.linalg.vector_norm(H, dim=1, dtype=torch.float64)
        return H * (L / (norms + 1e-8)).to(dtype)[:, None]  # type: ignore[no-any-return]

    def forward(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        check_jacobian(J)
        K = J.shape[0]
        L = check_losses(losses, K, "moco").to(J.device)
        dtype = work_dtype(J)
        H = self._targets(J, L, dtype)
        if self._y is not None and self._y.shape != H.shape:
            self.reset()
        self._step += 1
        y = torch.zeros_like(H) if self._y is None else self._y.to(H.device, dtype)
        y = y - (self.beta / self._step**self.beta_sigma) * (y - H)
        lam = (torch.full((K,), 1.0 / K, dtype=torch.float64, device=J.device) if self._lambda is None
               else self._lambda.to(J.device))
        A = (y @ y.T).double() + self.rho * torch.eye(K, dtype=torch.float64, device=J.device)
        step = lam - (self.gamma / self._step**self.gamma_sigma) * (A @ lam)
        lam = torch.softmax(step, dim=0) if self.projection == "softmax" else project_simplex(step)
        self._y, self._lambda = y, lam
        self.diagnostics = {"lambda": lam, "step": self._step}
        return check_finite_update((lam.to(dtype) @ y).to(J.dtype))

    def get_extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"step": self._step}
        if self._y is not None and self._lambda is not None:
            state["y"], state["lambda"] = self._y.clone(), self._lambda.clone()
        return state

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.reset()
        self._step = int(state.get("step", 0))
        if state.get("y") is not None:
            self._y = torch.as_tensor(state["y"]).clone()
            self._lambda = torch.as_tensor(state["lambda"], dtype=torch.float64).clone()

    def __repr__(self) -> str:
        return (f"MoCo(beta={self.beta}, beta_sigma={self.beta_sigma}, gamma={self.gamma}, "
                f"gamma_sigma={self.gamma_sigma}, rho={self.rho}, normalize={self.normalize}, "
                f"projection={self.projection!r})")
