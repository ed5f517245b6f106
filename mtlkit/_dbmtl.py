"""DB-MTL, Dual-Balancing Multi-Task Learning (Lin, Ye, Xu, Zhang and Kwok, "Dual-Balancing for Multi-Task
Learning", arXiv:2308.12029, 2023, Sec. 3), as in LibMTL's ``DB_MTL`` (main branch; not in 1.1.5).

Loss-scale balancing: every task is trained on ``log(L_i + ε)``, whose gradient is ``ĝ_i = g_i / (L_i + ε)``.
Gradient-magnitude balancing: an exponential moving average of those gradients,

    m_i ← ĝ_i + β_t (m_i − ĝ_i),   β_t = β / t^{β_σ}   (m = 0 before the first step, t = 1, 2, …),

is rescaled to the largest norm: ``update = Σ_i (max_j ‖m_j‖ / (‖m_i‖ + ε)) m_i``. The moving average is over
gradient *vectors* of successive steps, so the method needs the Jacobian (it keeps a K×P buffer); it cannot run on
the Gramian or representation backends. Defaults are LibMTL's (``β = 0.9``, ``β_σ = 0``, ``ε = 1e-8``). The buffer is
kept in J's dtype (float32 for half precision), like LibMTL's float32 one.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ._aggregator import Aggregator, Properties, check_finite_update, check_jacobian
from ._loss_weighting import check_losses

_EPS = 1e-8


def check_rate(value: float, key: str) -> float:
    """``value`` as a float (ValueError unless it is a finite number >= 0)."""
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{key} must be a finite number >= 0, got {value!r}")
    return float(value)


def work_dtype(J: Tensor) -> torch.dtype:
    """The dtype of a method's K×P buffers: J's, at least float32."""
    return torch.promote_types(J.dtype, torch.float32)


class DBMTL(Aggregator):
    """DB-MTL: moving averages of the log-loss gradients, each rescaled to the largest one's norm, summed.

    Args:
        beta: β of the moving average (0.9).
        beta_sigma: its decay exponent β_σ (0: a constant β).

    ``diagnostics``: ``scales`` (``max‖m‖ / (‖m_i‖ + ε)``), ``norms`` (``‖m_i‖``) and ``step``. A call with another
    shape of J than the buffer's starts afresh.
    """

    name = "dbmtl"
    properties = Properties(stateful=True, needs=frozenset({"jacobian", "losses"}))

    def __init__(self, beta: float = 0.9, beta_sigma: float = 0.0) -> None:
        super().__init__()
        self.beta = check_rate(beta, "beta")
        self.beta_sigma = check_rate(beta_sigma, "beta_sigma")
        self.reset()

    def reset(self) -> None:
        """Forget the moving average."""
        self._step = 0
        self._buffer: Tensor | None = None

    def forward(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        check_jacobian(J)
        L = check_losses(losses, J.shape[0], "dbmtl").to(J.device)
        dtype = work_dtype(J)
        g = J.to(dtype) / (L + _EPS).to(dtype)[:, None]  # ∇ log(L_i + ε)
        if self._buffer is not None and self._buffer.shape != g.shape:
            self.reset()
        self._step += 1
        beta_t = self.beta / self._step**self.beta_sigma
        previous = torch.zeros_like(g) if self._buffer is None else self._buffer.to(g.device, dtype)
        self._buffer = g + beta_t * (previous - g)
        norms = torch.linalg.vector_norm(self._buffer, dim=1, dtype=torch.float64)
        scales = norms.max() / (norms + _EPS)
        self.diagnostics = {"scales": scales, "norms": norms, "step": self._step}
        return check_finite_update((scales.to(dtype) @ self._buffer).to(J.dtype))

    def get_extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"step": self._step}
        if self._buffer is not None:
            state["buffer"] = self._buffer.clone()
        return state

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.reset()
        self._step = int(state.get("step", 0))
        if state.get("buffer") is not None:
            self._buffer = torch.as_tensor(state["buffer"]).clone()

    def __repr__(self) -> str:
        return f"DBMTL(beta={self.beta}, beta_sigma={self.beta_sigma})"
