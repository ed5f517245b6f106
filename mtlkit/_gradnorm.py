"""GradNorm (Chen, Badrinarayanan, Lee and Rabinovich, "GradNorm: Gradient Normalization for Adaptive Loss Balancing
in Deep Multitask Networks", ICML 2018, Sec. 3).

Learnable task weights ``w_i`` are trained, next to the model, on the gradient loss

    L_grad = Σ_i | G_i − Ḡ · r_i^α |,    G_i = ‖∇ w_i L_i‖ = w_i ‖g_i‖,   Ḡ = mean_i G_i,
    r_i = L̃_i / mean_j L̃_j,             L̃_i = L_i / L_i(0),

with ``Ḡ r_i^α`` held constant: tasks that train slower than average (larger loss ratio) are pushed to
larger gradient norms. As in LibMTL 1.1.5 the weights are ``w = K softmax(p)`` of a parameter ``p``
(``loss_scale``, initialised to 1: weights 1), which keeps ``Σ w = K`` (the paper renormalises after every step
instead). Each call puts ``∂L_grad/∂p`` in ``p.grad`` and returns the current weights; the user's optimiser steps
``p`` with the model (LibMTL trains it with the model's optimiser too).

``‖g_i‖`` comes from the Gramian's diagonal: the norms of the task gradients over the parameters that
:func:`mtlkit.backward` differentiates. The paper uses the last shared layer's weights only; LibMTL uses all shared
parameters (``rep_grad=False``; its ``rep_grad=True`` uses the representation gradients summed over the batch).
``backend="representation"`` gives the norms of the gradients w.r.t. the representation instead.

``L_i(0)``: LibMTL uses plain summation (weights 1, ``p`` untouched) for the whole first epoch and the epoch's mean
losses as ``L(0)``. ``warmup`` is that epoch in calls (default 1: the first call is a plain sum and gives ``L(0)``;
pass the steps per epoch to reproduce LibMTL exactly; 0 takes the first call's losses as ``L(0)`` and starts at
once).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from ._aggregator import Properties, Weighting, check_gramian
from ._imtl_l import check_num_tasks
from ._loss_weighting import check_losses
from ._state import LazyTaskParameter, restore_tensors, tensors_state

_TINY = torch.finfo(torch.float64).tiny


class GradNorm(LazyTaskParameter, Weighting):
    """GradNorm: learnable weights ``K softmax(p)`` whose gradient norms are pulled towards ``Ḡ r_i^α``.

    Args:
        num_tasks: K. Give it so that ``method.parameters()`` exists before the optimiser is built.
        alpha: the restoring force α (1.5, LibMTL's default).
        warmup: calls of plain summation whose mean losses are ``L(0)`` (1; LibMTL: one epoch).

    ``diagnostics``: ``weights``, ``grad_loss`` (L_grad), ``target`` (``Ḡ r^α``) and ``warming_up``.
    """

    name = "gradnorm"
    task_parameter = "loss_scale"
    properties = Properties(stateful=True, learnable=True, needs=frozenset({"gramian", "losses"}))

    def __init__(self, num_tasks: int | None = None, alpha: float = 1.5, warmup: int = 1) -> None:
        super().__init__()
        check_num_tasks(num_tasks)
        if isinstance(alpha, bool) or not (isinstance(alpha, (int, float)) and math.isfinite(alpha)):
            raise ValueError(f"alpha must be a finite number, got {alpha!r}")
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ValueError(f"warmup must be an integer >= 0, got {warmup!r}")
        self.alpha, self.warmup = float(alpha), warmup
        self.loss_scale: nn.Parameter | None
        self.register_parameter("loss_scale", None)
        if num_tasks is not None:
            self._materialise(num_tasks)
        self._clear()

    def _materialise(self, K: int, like: Tensor | None = None) -> None:
        value = torch.ones(K) if like is None else like.detach().clone()
        self.loss_scale = nn.Parameter(value.float())

    def _clear(self) -> None:
        self._sum: Tensor | None = None  # losses summed over the warm-up calls
        self._count = 0
        self._initial: Tensor | None = None  # L(0)

    def _initial_losses(self, L: Tensor) -> Tensor | None:
        """L(0) once the warm-up is over (None while it lasts); records this call's losses during it."""
        if self._initial is not None and self._initial.shape != L.shape:
            self._clear()  # another set of tasks
        if self._initial is not None:
            return self._initial.to(L.device)
        if self.warmup == 0:
            self._initial = L.clone()
            return self._initial
        self._sum = L.clone() if self._sum is None else self._sum.to(L.device) + L
        self._count += 1
        if self._count == self.warmup:
            self._initial, self._sum, self._count = self._sum / self.warmup, None, 0
        return None

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        G = check_gramian(G)
        K = G.shape[0]
        L = check_losses(losses, K, "gradnorm").to(G.device)
        if self.loss_scale is None:
            self._materialise(K)
        assert self.loss_scale is not None
        if self.loss_scale.shape[0] != K:
            raise ValueError(f"gradnorm has {self.loss_scale.shape[0]} weights but got {K} tasks")
        initial = self._initial_losses(L)
        if initial is None:  # plain summation while L(0) is measured
            self.diagnostics = {"weights": torch.ones_like(L), "warming_up": True}
            return torch.ones_like(L)
        norms = G.diagonal().clamp_min(0.0).sqrt()
        ratio = L / initial.clamp_min(_TINY)
        r = ratio / ratio.mean().clamp_min(_TINY)
        with torch.enable_grad():
            p = self.loss_scale
            w = K * torch.softmax(p.to(G.device, torch.float64), dim=0)
            G_i = w * norms
            target = (G_i.mean() * r**self.alpha).detach()
            grad_loss = (G_i - target).abs().sum()
            (grad,) = torch.autograd.grad(grad_loss, p)
        p.grad = grad if p.grad is None else p.grad + grad
        self.diagnostics = {"weights": w.detach(), "grad_loss": grad_loss.detach(), "target": target,
                            "warming_up": False}
        return w.detach()

    def reset(self) -> None:
        """Weights back to 1 (in place, so an optimiser keeps holding the parameter) and L(0) forgotten."""
        if self.loss_scale is not None:
            with torch.no_grad():
                self.loss_scale.fill_(1.0)
        self._clear()

    def get_extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"count": self._count}
        return state | tensors_state(self, ("sum", "initial"))

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self._clear()
        self._count = int(state.get("count", 0))
        restore_tensors(self, state, ("sum", "initial"))

    def __repr__(self) -> str:
        K = None if self.loss_scale is None else self.loss_scale.shape[0]
        return f"GradNorm(num_tasks={K}, alpha={self.alpha}, warmup={self.warmup})"
