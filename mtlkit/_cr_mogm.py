"""CR-MOGM (Zhou, Fu, Rowe, ... and Wang, "On the Convergence of Stochastic Multi-Objective Gradient
Manipulation and Beyond", NeurIPS 2022, Eq. 6 / Algorithm 2): the weights of a gradient-manipulation method
(MGDA, PCGrad, CAGrad, …) smoothed by an exponential moving average across steps,

    λ_k = α λ_{k−1} + (1 − α) λ̂_k,

which removes the bias that the correlation between a stochastic gradient and its own weights introduces. It
wraps any Gramian- or loss-based method (a :class:`~mtlkit.Weighting`): the wrapped method's weights λ̂ are
computed as usual and the update is ``Jᵀλ``.

The conventions are torchjd 0.18's ``CRMOGMWeighting`` (the reference): ``λ_0 = λ̂_1`` (or ``initial_weights``),
so the first call returns the wrapped method's weights; α = 0.9. torchjd requires the wrapped weighting; mtlkit
defaults to MGDA (the paper's main instance). ``alpha`` may be changed between calls (Corollary 1's schedule
``α_k = 1 − lr_k/lr_0``). Unlike torchjd, which raises when the number of tasks changes, mtlkit starts the average
afresh.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ._aggregator import Properties, Weighting
from ._aggregator_plugins import get_aggregator


class CRMOGM(Weighting):
    """CR-MOGM: an exponential moving average of another method's weights, ``λ_k = α λ_{k−1} + (1 − α) λ̂_k``.

    Args:
        base: the wrapped method, a registered name (default ``"mgda"``) or a :class:`~mtlkit.Weighting`
            instance. Its state is part of this module's (``state_dict()`` keys ``base.…``).
        base_options: options for a base given by name (e.g. ``{"seed": 0}`` for ``"pcgrad"``).
        alpha: the weight α ∈ [0, 1] of the previous average (0.9, torchjd's). 0: the base's weights; 1: frozen.
        initial_weights: λ_0 (K,); None: the first call's λ̂.

    The instance's ``properties`` are the base's (needs, randomised, permutation-invariant), stateful and not
    non-conflicting; the class declares those of the default base. ``diagnostics``: the base's, plus
    ``base_weights`` (λ̂) and ``weights`` (λ).
    """

    name = "cr_mogm"
    properties = Properties(
        non_conflicting=False, permutation_invariant=True, stateful=True, randomised=False,
        needs=frozenset({"gramian"}),
    )

    def __init__(
        self,
        base: str | Weighting = "mgda",
        base_options: Mapping[str, Any] | None = None,
        alpha: float = 0.9,
        initial_weights: Sequence[float] | Tensor | None = None,
    ) -> None:
        super().__init__()
        if isinstance(base, str):
            base = get_aggregator(base, **dict(base_options or {}))
        elif base_options:
            raise ValueError("base_options only apply to a base given by name")
        if not isinstance(base, Weighting):
            raise TypeError(f"the base of CR-MOGM must be a Weighting (a method giving weights), got {base!r}")
        self.base = base
        self.alpha = alpha
        self.initial_weights = None if initial_weights is None else torch.as_tensor(
            initial_weights, dtype=torch.float64).detach().clone()
        if self.initial_weights is not None and self.initial_weights.dim() != 1:
            raise ValueError("initial_weights must be a 1-D sequence")
        p = base.properties
        self.properties = Properties(  # type: ignore[misc]  # per instance: the wrapped method's
            non_conflicting=False, permutation_invariant=p.permutation_invariant, stateful=True,
            randomised=p.randomised, needs=p.needs, learnable=p.learnable,
        )
        self.reset_average()

    @property
    def alpha(self) -> float:
        return self._alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value)
                                           and 0.0 <= value <= 1.0):
            raise ValueError(f"alpha must be a number in [0, 1], got {value!r}")
        self._alpha = float(value)

    def reset_average(self) -> None:
        """Forget λ_{k−1} only (the base keeps its state)."""
        self._lambda: Tensor | None = None

    def reset(self) -> None:
        """Forget the average and reset the base."""
        self.reset_average()
        self.base.reset()

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        hat = self.base.weights(G, losses)
        previous = self._lambda
        if previous is None or previous.shape != hat.shape:
            if self.initial_weights is not None and self.initial_weights.shape == hat.shape:
                previous = self.initial_weights
            elif self.initial_weights is not None:
                raise ValueError(f"initial_weights has {self.initial_weights.shape[0]} entries for "
                                 f"{hat.shape[0]} tasks")
            else:
                previous = hat
        lam = self._alpha * previous.to(hat.device) + (1.0 - self._alpha) * hat
        self._lambda = lam.detach()
        info = dict(self.base.diagnostics)
        info.update(base_weights=hat.detach(), weights=self._lambda)
        self.diagnostics = info
        return lam

    def get_extra_state(self) -> dict[str, Any]:
        """``{"lambda": λ_{k−1}}`` after the first call, ``{}`` before (the base's state has its own keys)."""
        return {} if self._lambda is None else {"lambda": self._lambda.detach().clone()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if set(state) - {"lambda"}:
            raise ValueError(f"unexpected keys in the CR-MOGM state: {sorted(set(state) - {'lambda'})}")
        value = state.get("lambda")
        self._lambda = None if value is None else torch.as_tensor(value, dtype=torch.float64).detach().clone()

    def __repr__(self) -> str:
        return f"CRMOGM(base={self.base!r}, alpha={self._alpha:g})"
