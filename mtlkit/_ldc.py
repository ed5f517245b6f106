"""LDC-MTL (Xiao, Dong, Zou and Ji, "LDC-MTL: Balancing Multi-Task Learning through Scalable Loss Discrepancy
Control", arXiv:2502.08585, 2025, Sec. 3): loss weights ``σ`` from a learnable router, trained with the model on
the penalised bilevel objective

    f = Σ_i σ_i l_i + λ Σ_{i<K} |σ_i l_i − σ_{i+1} l_{i+1}|,

whose first term is the lower-level weighted loss and whose penalty, the upper-level loss discrepancy between
neighbouring tasks, pulls the weighted losses ``σ_i l_i`` together (the single-loop first-order algorithm: one
gradient step of ``f`` on the model and the router). ``l`` are the pre-normalised losses: ``L_i / (L_i^0 / min_j
L_j^0)`` (``normalization="ratio"``, the authors' NYUv2 script, the default), ``log(L_i / L_i^0)`` (``"log"``, their
QM9 script) or ``L_i`` (``"none"``, their CelebA script), ``L^0`` the first call's losses.

The authors' router is a small network on the shared features ending in a softmax; a loss-based method sees no
features, so the router here is a softmax of free logits (``router``, initialised to 0: equal weights), trained by
the user's optimiser like uncertainty weighting's log-variances. Their NYUv2 script also clamps the three weights
to [0.2, 0.8]; that bound is specific to its three tasks and is not applied.

One backward gives both gradients of ``f``: the loss weights are ``w_i = ∂f/∂L_i`` at the current losses (constants
of the backward of ``Σ w_i L_i``, as for every loss-based method, so that under ``torch.distributed`` every rank
differentiates ``f`` at the ranks' mean losses) and the regulariser is ``f`` at those (detached) losses, whose
gradient reaches the router. The authors' objective lives inside their training scripts (no function to call), so
mtlkit's is checked against these equations (``tests/mtlkit/test_methods_loss_and_libmtl.py``), not their code.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ._aggregator import Properties
from ._dbmtl import check_rate
from ._gls import require_positive
from ._imtl_l import check_num_tasks
from ._loss_weighting import LossWeighting
from ._state import LazyTaskParameter

NORMALIZATIONS = ("ratio", "log", "none")


class LDCMTL(LazyTaskParameter, LossWeighting):
    """LDC-MTL: router weights ``softmax(θ)`` on pre-normalised losses, plus λ × the neighbouring-task discrepancy.

    Args:
        num_tasks: K. Give it so that ``method.parameters()`` exists before the optimiser is built.
        lamb: the penalty λ (0.05, the authors' NYUv2 and QM9 value).
        normalization: ``"ratio"`` (default), ``"log"`` or ``"none"`` (see the module docs).
    """

    name = "ldc_mtl"
    task_parameter = "router"
    properties = Properties(permutation_invariant=False, stateful=True, learnable=True, needs=frozenset({"losses"}))

    def __init__(self, num_tasks: int | None = None, lamb: float = 0.05, normalization: str = "ratio") -> None:
        super().__init__()
        check_num_tasks(num_tasks)
        self.lamb = check_rate(lamb, "lamb")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}")
        self.normalization = normalization
        self.router: nn.Parameter | None
        self.register_parameter("router", None)
        if num_tasks is not None:
            self._materialise(num_tasks)
        self._initial: Tensor | None = None
        self._last: Tensor | None = None  # the losses of the last loss_weights call (for the regulariser)

    def _materialise(self, K: int, like: Tensor | None = None) -> None:
        value = torch.zeros(K) if like is None else like.detach().clone()
        self.router = nn.Parameter(value.float())

    def _normalised(self, losses: Tensor) -> Tensor:
        """The pre-normalised losses ``l`` (differentiable in ``losses``)."""
        assert self._initial is not None
        initial = self._initial.to(losses.device, losses.dtype)
        if self.normalization == "ratio":
            return losses / (initial / initial.min())
        if self.normalization == "log":
            return torch.log(losses / initial)
        return losses

    def _penalised(self, losses: Tensor) -> Tensor:
        assert self.router is not None
        sigma = torch.softmax(self.router.to(losses.device, losses.dtype), dim=0)
        weighted = sigma * self._normalised(losses)
        return weighted.sum() + self.lamb * (weighted[:-1] - weighted[1:]).abs().sum()

    def loss_weights(self, losses: Tensor) -> Tensor:
        require_positive(losses, "ldc_mtl")
        K = losses.shape[0]
        if self.router is None:
            self._materialise(K)
        assert self.router is not None
        if self.router.shape[0] != K:
            raise ValueError(f"ldc_mtl has {self.router.shape[0]} router logits but got {K} losses")
        if self._initial is None or self._initial.shape[0] != K:
            self._initial = losses.detach().clone()
        with torch.enable_grad():
            leaf = losses.detach().double().requires_grad_(True)
            (w,) = torch.autograd.grad(self._penalised(leaf), leaf)
        self._last = losses.detach()
        self.diagnostics = {"weights": w, "router_weights": torch.softmax(self.router.detach().double(), dim=0)}
        return w

    def regularizer(self) -> Tensor | None:
        """``f`` at the last weighted (detached) losses: its gradient is the router's."""
        return None if self._last is None else self._penalised(self._last)

    def reset(self) -> None:
        """Router back to equal weights (in place) and ``L^0`` forgotten."""
        if self.router is not None:
            with torch.no_grad():
                self.router.zero_()
        self._initial = self._last = None

    def get_extra_state(self) -> dict[str, Any]:
        return {} if self._initial is None else {"initial": self._initial.clone()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self._initial = None if state.get("initial") is None else torch.as_tensor(state["initial"]).double().clone()

    def __repr__(self) -> str:
        K = None if self.router is None else self.router.shape[0]
        return f"LDCMTL(num_tasks={K}, lamb={self.lamb}, normalization={self.normalization!r})"
