"""ExcessMTL (He, Zhang and Zhao, "Robust Multi-Task Learning with Excess Risks", ICML 2024, Eq. 6–9).

ExcessMTL weights the tasks by how far each is from its own optimum, estimated from the gradients: with a
diagonal (AdaGrad) approximation ``H_i = diag(√(Σ_{s≤t} g_{i,s}² + 1e-7))`` of task i's Hessian (Eq. 7), the excess
risk is ``E_i ≈ g_iᵀ H_i⁻¹ g_i`` (Eq. 6). After dividing by the first call's estimate (scale processing,
Section 3.2) the weights take one exponentiated-gradient step on the simplex (Eq. 9):

    w ← softmax(log w + η E_i / E_i⁰).

It needs the whole Jacobian: the state holds the K×P running sums of squared gradients (as much memory as the
Jacobian itself). They are kept in the Jacobian's dtype; when the first call's entries are outside [1e-10, 1e10]
they are kept relative to a power of two ``c`` fixed then (``Σ (g/c)²``, exact scaling), so float32 gradients of
1e20 or 1e-25 neither overflow nor underflow.

The order of operations is torchjd 0.18's ``ExcessMTLWeighting`` (the reference): weights start at 1/K; the first
call (after ``n_warmup_steps`` calls returning 1/K whose excess risks are averaged into the baseline) uses the raw
excess risks; later calls divide by ``baseline + 1e-7``; the exponentiated step is a softmax in log space. The
authors' code and LibMTL start from 1 and renormalise the weights to sum to K (the same update times K):
``reduction="sum"``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ._aggregator import Aggregator, Properties, check_finite_update, check_jacobian
from ._modo import check_rate

REDUCTIONS = ("mean", "sum")


class ExcessMTL(Aggregator):
    """ExcessMTL: exponentiated-gradient weights driven by AdaGrad estimates of each task's excess risk.

    Args:
        robust_step_size: the step η of the exponentiated update (1.0, torchjd's).
        n_warmup_steps: calls that return uniform weights while their excess risks are averaged into the
            baseline (0, torchjd's default: the first call's estimate is the baseline, as the authors' code).
        reduction: ``"mean"`` (default, torchjd: weights on the simplex) or ``"sum"`` (the authors' code and
            LibMTL: weights summing to K).

    State (in ``state_dict()``): the K×P squared-gradient sums (in the Jacobian's dtype, float32 for 16-bit
    ones), the weights, the baseline and the step count; it starts afresh when K or P changes.
    ``diagnostics``: ``excess_risk`` (the scaled estimates of this call) and ``weights``.
    """

    name = "excess_mtl"
    properties = Properties(
        non_conflicting=False, permutation_invariant=True, stateful=True, randomised=False,
        needs=frozenset({"jacobian"}),
    )

    def __init__(self, robust_step_size: float = 1.0, n_warmup_steps: int = 0, reduction: str = "mean") -> None:
        super().__init__()
        self.robust_step_size = check_rate(robust_step_size, "robust_step_size")
        if isinstance(n_warmup_steps, bool) or not isinstance(n_warmup_steps, int) or n_warmup_steps < 0:
            raise ValueError(f"n_warmup_steps must be a non-negative integer, got {n_warmup_steps!r}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be 'mean' (torchjd) or 'sum' (the authors' code); got {reduction!r}")
        self.n_warmup_steps, self.reduction = n_warmup_steps, reduction
        self.reset()

    def reset(self) -> None:
        """Forget everything: uniform weights, no squared-gradient sums, no baseline, warm-up again."""
        self._sq_sum: Tensor | None = None  # Σ (g/c)², in J's dtype
        self._scale = 1.0  # c, a power of two
        self._weights: Tensor | None = None  # float64 (K,), on the simplex
        self._baseline: Tensor | None = None
        self._warmup_sum: Tensor | None = None
        self._steps = 0

    def _ensure_state(self, J: Tensor) -> None:
        K, P = J.shape
        if self._sq_sum is not None and self._sq_sum.shape == (K, P):
            dtype = J.dtype if J.dtype in (torch.float32, torch.float64) else torch.float32
            self._sq_sum = self._sq_sum.to(device=J.device, dtype=dtype)
            return
        self.reset()
        dtype = J.dtype if J.dtype in (torch.float32, torch.float64) else torch.float32
        self._sq_sum = torch.zeros(K, P, dtype=dtype, device=J.device)
        top = float(J.detach().abs().max())
        if not 1e-10 <= top <= 1e10 and 0.0 < top < math.inf:
            self._scale = 2.0 ** math.floor(math.log2(top))
        self._weights = torch.full((K,), 1.0 / K, dtype=torch.float64, device=J.device)
        self._warmup_sum = torch.zeros(K, dtype=torch.float64, device=J.device)

    def task_weights(self, J: Tensor) -> Tensor:
        """The weights (K,) for this call's Jacobian, float64 on J's device (updates the state)."""
        check_jacobian(J)
        self._ensure_state(J)
        assert self._sq_sum is not None
        assert self._weights is not None
        assert self._warmup_sum is not None
        c = self._scale
        x = J.detach().to(self._sq_sum.dtype)
        sq = x.square() if c == 1.0 else (x * (1.0 / c)).square()  # (g/c)²; dividing by a power of two is exact
        self._sq_sum += sq
        # g_iᵀ H_i⁻¹ g_i = c Σ (g/c)² / √(Σ(g/c)² + 1e-7/c²) (Eq. 6–7), with δ = 1e-7/c² factored out when large
        delta = 1e-7 / (c * c)
        big = max(delta, 1.0)
        den = torch.add(self._sq_sum, delta) if big == 1.0 else torch.add(self._sq_sum / big, delta / big)
        excess = sq.div_(den.sqrt_()).sum(dim=1).double() * (c / math.sqrt(big))
        self._weights = self._weights.to(J.device)
        if self._steps < self.n_warmup_steps:
            self._warmup_sum = self._warmup_sum.to(J.device) + excess
            self._steps += 1
            self.diagnostics = {"excess_risk": excess, "weights": self._weights}
            return self._weights
        self._steps += 1
        if self._baseline is None:
            if self.n_warmup_steps > 0:
                self._baseline = self._warmup_sum.to(J.device) / self.n_warmup_steps
                excess = excess / (self._baseline + 1e-7)
            else:
                self._baseline = excess
        else:
            excess = excess / (self._baseline.to(J.device) + 1e-7)
        self._weights = torch.softmax(torch.log(self._weights) + excess * self.robust_step_size, dim=0)
        self.diagnostics = {"excess_risk": excess, "weights": self._weights}
        return self._weights

    def forward(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        w = self.task_weights(J)
        if self.reduction == "sum":
            w = w * J.shape[0]
        return check_finite_update(w.to(dtype=J.dtype) @ J)

    def get_extra_state(self) -> dict[str, Any]:
        """``steps``, ``scale`` (c) and, after the first call, the tensors ``sq_sum`` (K×P, ``Σ (g/c)²``),
        ``weights`` and ``warmup_sum`` (K,), and ``baseline`` once set."""
        state: dict[str, Any] = {"steps": self._steps, "scale": self._scale}
        for key, value in (("sq_sum", self._sq_sum), ("weights", self._weights), ("warmup_sum", self._warmup_sum),
                           ("baseline", self._baseline)):
            if value is not None:
                state[key] = value.detach().clone()
        return state

    def set_extra_state(self, state: dict[str, Any]) -> None:
        unknown = set(state) - {"steps", "scale", "sq_sum", "weights", "warmup_sum", "baseline"}
        if unknown:
            raise ValueError(f"unexpected keys in the ExcessMTL state: {sorted(unknown)}")
        steps = state.get("steps", 0)
        steps = int(steps.item()) if isinstance(steps, Tensor) else steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"state['steps'] must be a non-negative integer, got {steps!r}")
        self.reset()
        self._steps = steps
        scale = float(state.get("scale", 1.0))
        if not (0.0 < scale < math.inf):
            raise ValueError(f"state['scale'] must be a positive number, got {scale!r}")
        self._scale = scale
        for key in ("sq_sum", "weights", "warmup_sum", "baseline"):
            value = state.get(key)
            if value is not None:
                t = torch.as_tensor(value).detach().clone()
                setattr(self, f"_{key}", t if key == "sq_sum" else t.double())

    def __repr__(self) -> str:
        extra = "" if self.n_warmup_steps == 0 else f", n_warmup_steps={self.n_warmup_steps}"
        extra += "" if self.reduction == "mean" else f", reduction={self.reduction!r}"
        return f"ExcessMTL(robust_step_size={self.robust_step_size:g}{extra})"
