"""IMTL-L, the loss half of Impartial Multi-Task Learning (Liu, Li, Kuang, Xue, Chen, Yang, Liao and Zhang,
"Towards Impartial Multi-task Learning", ICLR 2021): each task's loss is scaled by ``e^{s_i}`` with a
learnable ``s_i`` trained on the scaled loss minus ``s_i``, ``Σ_i e^{s_i} L_i − s_i``. Its gradient in ``s_i`` is
``e^{s_i} L_i − 1``, so the optimum makes every scaled loss 1 (``s_i = −log L_i``): the weights are ``w_i = e^{s_i}``
and the regulariser ``−Σ s_i``.

LibMTL's ``IMTL`` is the hybrid of the paper: the same scaled losses (``loss_scale`` initialised to 0, as here), whose
per-task gradients ``e^{s_i} g_i`` IMTL-G (mtlkit's ``imtl``) then combines for the shared parameters, while the
task heads get ``e^{s_i} ∇L_i`` and ``s`` gets ``e^{s_i} L_i − 1``. ``docs/mtlkit/loss-weighting.md`` shows that hybrid
built from ``imtl_l``'s scales and ``imtl``; ``tests/mtlkit/test_methods_loss_and_libmtl.py`` checks it against
LibMTL step by step.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._aggregator import Properties
from ._loss_weighting import LossWeighting
from ._state import LazyTaskParameter


def check_num_tasks(num_tasks: int | None) -> None:
    """ValueError unless ``num_tasks`` is None or an integer >= 1."""
    if num_tasks is not None and (isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1):
        raise ValueError(f"num_tasks must be an integer >= 1 or None, got {num_tasks!r}")


def check_finite_number(value: float, key: str) -> float:
    """``value`` as a float (ValueError unless it is a finite number)."""
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value)):
        raise ValueError(f"{key} must be a finite number, got {value!r}")
    return float(value)


class IMTLL(LazyTaskParameter, LossWeighting):
    """IMTL-L: learnable loss scales ``s``, weights ``e^{s}``, regulariser ``−Σ s``.

    Args:
        num_tasks: K. Give it so that ``method.parameters()`` exists before the optimiser is built; without it the
            parameter is created on the first call.
        init: the initial scale (0, as LibMTL: weights 1).

    Train ``s`` with the model: ``torch.optim.Adam([*model.parameters(), *method.parameters()])``.
    """

    name = "imtl_l"
    task_parameter = "loss_scale"
    properties = Properties(stateful=True, learnable=True, needs=frozenset({"losses"}))

    def __init__(self, num_tasks: int | None = None, init: float = 0.0) -> None:
        super().__init__()
        check_num_tasks(num_tasks)
        self.init = check_finite_number(init, "init")
        self.loss_scale: nn.Parameter | None
        self.register_parameter("loss_scale", None)
        if num_tasks is not None:
            self._materialise(num_tasks)

    def _materialise(self, K: int, like: Tensor | None = None) -> None:
        value = torch.full((K,), self.init) if like is None else like.detach().clone()
        self.loss_scale = nn.Parameter(value.float())

    def loss_weights(self, losses: Tensor) -> Tensor:
        K = losses.shape[0]
        if self.loss_scale is None:
            self._materialise(K)
        assert self.loss_scale is not None
        if self.loss_scale.shape[0] != K:
            raise ValueError(f"imtl_l has {self.loss_scale.shape[0]} loss scales but got {K} losses")
        w = torch.exp(self.loss_scale.to(losses.device))
        self.diagnostics = {"loss_scale": self.loss_scale.detach().clone(), "weights": w.detach()}
        return w

    def regularizer(self) -> Tensor | None:
        return None if self.loss_scale is None else -self.loss_scale.sum()

    def reset(self) -> None:
        """Back to the initial scales (in place, so an optimiser keeps holding the parameter)."""
        if self.loss_scale is not None:
            with torch.no_grad():
                self.loss_scale.fill_(self.init)

    def __repr__(self) -> str:
        K = None if self.loss_scale is None else self.loss_scale.shape[0]
        return f"IMTLL(num_tasks={K}, init={self.init})"
