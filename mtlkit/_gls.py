"""Geometric Loss Strategy (Chennupati, Sistu, Yogamani and Rawashdeh, "MultiNet++: Multi-Stream Feature
Aggregation and Geometric Loss Strategy for Multi-Task Learning", CVPR Workshops 2019, Sec. 3): the objective is the
geometric mean of the losses, ``(Π_i L_i)^{1/K}``. Its gradient w.r.t. ``L_i`` is ``(Π_j L_j)^{1/K} / (K L_i)``:
those are the weights of one backward of ``Σ w_i L_i`` (whose value is the geometric mean itself), formed in log
space as ``exp(mean_j log L_j) / (K L_i)``.

LibMTL 1.1.5's ``GLS`` backpropagates the same objective (the update agrees to float64 rounding,
``references/libmtl/methods/gls.json``); the weights it *returns* (``L_i / (K Π_j L_j)``) are not that objective's
gradient and are not used by its update.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._aggregator import Properties, input_checks_enabled
from ._loss_weighting import LossWeighting


def require_positive(losses: Tensor, who: str) -> None:
    """ValueError when a loss is not positive (with input checks on: one host sync)."""
    if input_checks_enabled() and not bool((losses > 0).all()):
        raise ValueError(f"{who} needs positive losses (it takes their logarithm), got {losses.tolist()}")


class GLS(LossWeighting):
    """Geometric loss strategy: one backward of the geometric mean of the losses (weights ``ḡ / (K L_i)``)."""

    name = "gls"
    properties = Properties(needs=frozenset({"losses"}))

    def loss_weights(self, losses: Tensor) -> Tensor:
        require_positive(losses, "gls")
        geometric_mean = torch.exp(torch.log(losses).mean())
        w = geometric_mean / (losses.shape[0] * losses)
        self.diagnostics = {"weights": w, "geometric_mean": geometric_mean}
        return w

    def __repr__(self) -> str:
        return "GLS()"
