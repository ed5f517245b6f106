"""Loss-based weightings: methods that map the K losses (and their own state or parameters) to K weights without
any per-task gradient. :func:`mtlkit.backward` runs ONE backward of the objective ``Σ w_i L_i`` (plus the method's
regulariser, e.g. uncertainty weighting's ``Σ s_i / 2``), about the cost of ``sum(losses).backward()``."""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import Tensor

from ._aggregator import Properties, Weighting, check_finite_update, check_gramian, check_jacobian, input_checks_enabled


def check_losses(losses: Tensor | None, K: int, who: str) -> Tensor:
    """The (K,) loss vector as detached float64 (ValueError when missing, mis-shaped or non-finite)."""
    if losses is None:
        raise ValueError(f"{who} weights the losses: pass losses=(K,) tensor")
    if not isinstance(losses, Tensor) or losses.shape != (K,):
        shape = tuple(losses.shape) if isinstance(losses, Tensor) else type(losses).__name__
        raise ValueError(f"{who}: expected losses of shape ({K},), got {shape}")
    if not losses.is_floating_point():
        raise TypeError(f"{who}: expected floating-point losses, got {losses.dtype}")
    if input_checks_enabled() and not bool(torch.isfinite(losses).all()):
        raise ValueError(f"{who}: a loss is NaN or Inf")
    return losses.detach().double()


class LossWeighting(Weighting):
    """Weights from the losses alone: ``update = Jᵀw`` when called on a Jacobian, one backward of
    :meth:`objective` under :func:`mtlkit.backward`.

    Subclasses implement :meth:`loss_weights` (and :meth:`regularizer` when the objective has a term of its own).
    The weights depend on the losses' values only (they are constants of the backward, as in the reference
    implementations); they may depend differentiably on the method's own parameters.
    """

    properties = Properties(needs=frozenset({"losses"}))

    @abstractmethod
    def loss_weights(self, losses: Tensor) -> Tensor:
        """Weights (K,) for the detached float64 losses (K,); one call per step (it may update state)."""

    def regularizer(self) -> Tensor | None:
        """A scalar added to the objective (a term of the method's own parameters), or None."""
        return None

    def objective(self, losses: Tensor, weights: Tensor) -> Tensor:
        """``Σ w_i L_i`` (+ :meth:`regularizer`): what :func:`mtlkit.backward` differentiates."""
        total = (weights.to(losses.dtype) * losses).sum()
        reg = self.regularizer()
        return total if reg is None else total + reg.to(total.dtype)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        G = check_gramian(G)
        w = self.loss_weights(check_losses(losses, G.shape[0], self.name or type(self).__name__))
        return w.detach().to(dtype=torch.float64, device=G.device)

    def forward(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        check_jacobian(J)
        w = self.loss_weights(check_losses(losses, J.shape[0], self.name or type(self).__name__))
        return check_finite_update(w.detach().to(dtype=J.dtype, device=J.device) @ J)
