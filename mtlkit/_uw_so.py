"""Soft optimal uncertainty weighting, UW-SO (Kirchdorfer, Elich, Kutsche, Stuckenschmidt, Schott and Köhler,
"Analytical Uncertainty-Based Loss Weighting in Multi-Task Learning", GCPR 2024, Sec. 3).

Uncertainty weighting's objective ``Σ_i L_i / (2σ_i²) + log σ_i`` is minimised in closed form by ``σ_i² = L_i``:
the optimal weights are the inverse losses, ``1 / L_i`` (UW-O, ``softmax=False``). UW-SO tempers them with a
softmax, ``w = softmax((1 / L) / T)`` (the weights sum to 1). Both are computed from the current losses, with no
learnable parameter and no state; ``L_i + 10⁻⁸`` guards a zero loss, as in the authors' code (``UW_SO.py`` and
``UW_O.py`` of github.com/lukaskirchdorfer/MTL4PPM, whose defaults ``T = 1``, softmax on, are these).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._aggregator import Properties
from ._dbmtl import check_rate
from ._loss_weighting import LossWeighting

_EPS = 1e-8


class UWSO(LossWeighting):
    """UW-SO: weights ``softmax((1 / L) / T)``; with ``softmax=False``, UW-O's ``1 / L``.

    Args:
        temperature: T (1.0, the authors' default).
        softmax: temper the inverse losses with a softmax (True: UW-SO) or use them as they are (False: UW-O).
    """

    name = "uw_so"
    properties = Properties(needs=frozenset({"losses"}))

    def __init__(self, temperature: float = 1.0, softmax: bool = True) -> None:
        super().__init__()
        self.temperature = check_rate(temperature, "temperature")
        if self.temperature == 0:
            raise ValueError("temperature must be positive")
        self.softmax = bool(softmax)

    def loss_weights(self, losses: Tensor) -> Tensor:
        inverse = 1.0 / (losses + _EPS)
        w = torch.softmax(inverse / self.temperature, dim=0) if self.softmax else inverse
        self.diagnostics = {"weights": w}
        return w

    def __repr__(self) -> str:
        return f"UWSO(temperature={self.temperature}, softmax={self.softmax})"
