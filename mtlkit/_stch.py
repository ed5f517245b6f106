"""Smooth Tchebycheff scalarization (Lin, Zhang, Yang, Zhang, Liu and Zhang, "Smooth Tchebycheff Scalarization for
Multi-Objective Optimization", ICML 2024, Sec. 3): ``g_μ(L) = μ log Σ_i exp(λ_i (f_i − z_i) / μ)``, a smooth
maximum of the preference-weighted objectives. As in LibMTL's ``STCH`` (main branch, from the authors' STCH_MTL
code; not in 1.1.5) the objectives are the log-losses normalised by a nadir point ``n`` and the result is scaled by
K:

    objective = K μ log Σ_i exp(λ_i l_i / μ),   l_i = log(L_i / n_i + 10⁻²⁰),

so its gradient, the loss weights of one backward of ``Σ w_i L_i``, is ``w_i = K λ_i s_i / (L_i + 10⁻²⁰ n_i)``
with ``s = softmax(λ l / μ)``. (On log-losses ``log n`` is the paper's reference point ``z``.)

The nadir point is measured first: for ``warmup_epochs`` epochs the losses are trained in log space (``Σ log(L_i +
10⁻²⁰)``, weights ``1 / (L_i + 10⁻²⁰)``), the next epoch too while its losses are averaged into ``n``; STCH starts
with the epoch after. LibMTL counts epochs; here ``period`` calls make an epoch (1 by default: LibMTL with one
batch per epoch; pass the steps per epoch to reproduce it). ``nadir`` given explicitly skips the warm-up. Defaults
are LibMTL's: ``μ = 1``, 4 warm-up epochs, ``λ = 1`` (LibMTL has no preference).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ._aggregator import Properties
from ._dbmtl import check_rate
from ._gls import require_positive
from ._loss_weighting import LossWeighting
from ._state import restore_tensors, tensors_state

_EPS = 1e-20


def check_vector(values: Sequence[float] | None, key: str, positive: bool = False) -> list[float] | None:
    """A list of finite floats (positive ones when asked), or None."""
    if values is None:
        return None
    out = [float(v) for v in values]
    t = torch.tensor(out, dtype=torch.float64)
    if not out or not bool(torch.isfinite(t).all()) or (positive and not bool((t > 0).all())):
        kind = "positive" if positive else "finite"
        raise ValueError(f"{key} must be a non-empty list of {kind} numbers, got {values!r}")
    return out


def sized(values: list[float] | None, K: int, key: str, like: Tensor) -> Tensor | None:
    """``values`` as a float64 tensor on ``like``'s device (ValueError unless it has K entries)."""
    if values is None:
        return None
    if len(values) != K:
        raise ValueError(f"{key} has {len(values)} entries but got {K} losses")
    return torch.tensor(values, dtype=torch.float64, device=like.device)


class STCH(LossWeighting):
    """Smooth Tchebycheff scalarization of the nadir-normalised log-losses, after a log-loss warm-up.

    Args:
        mu: the smoothing μ (1.0).
        warmup_epochs: epochs of log-loss training before the nadir epoch (4, LibMTL's).
        period: calls per epoch (1).
        nadir: the nadir point ``n`` (K positive numbers); given, there is no warm-up.
        preference: the preference ``λ`` (K positive numbers; default 1).

    Permuting the tasks permutes the weights when ``preference`` is left at its default (a preference is tied to
    task positions, hence the declared property).
    """

    name = "stch"
    properties = Properties(permutation_invariant=False, stateful=True, needs=frozenset({"losses"}))

    def __init__(self, mu: float = 1.0, warmup_epochs: int = 4, period: int = 1,
                 nadir: Sequence[float] | None = None, preference: Sequence[float] | None = None) -> None:
        super().__init__()
        self.mu = check_rate(mu, "mu")
        if self.mu == 0:
            raise ValueError("mu must be positive")
        for key, value in (("warmup_epochs", warmup_epochs), ("period", period)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "warmup_epochs" else 1):
                raise ValueError(f"{key} must be an integer >= {0 if key == 'warmup_epochs' else 1}, got {value!r}")
        self.warmup_epochs, self.period = warmup_epochs, period
        self.nadir = check_vector(nadir, "nadir", positive=True)
        self.preference = check_vector(preference, "preference", positive=True)
        self.reset()

    def reset(self) -> None:
        """Forget the measured nadir point and the call count."""
        self._calls = 0
        self._sum: Tensor | None = None  # losses summed over the nadir epoch
        self._nadir: Tensor | None = None

    def _nadir_point(self, L: Tensor) -> Tensor | None:
        """The nadir point once measured (None during the warm-up); counts this call."""
        fixed = sized(self.nadir, L.shape[0], "nadir", L)
        if fixed is not None:
            return fixed
        if self._nadir is not None and self._nadir.shape != L.shape:
            self.reset()
        if self._nadir is not None:
            return self._nadir.to(L.device)
        epoch = self._calls // self.period
        self._calls += 1
        if epoch == self.warmup_epochs:  # the nadir epoch: average its losses
            self._sum = L.clone() if self._sum is None else self._sum.to(L.device) + L
            if self._calls == (self.warmup_epochs + 1) * self.period:
                self._nadir, self._sum = self._sum / self.period, None
        return None

    def loss_weights(self, losses: Tensor) -> Tensor:
        K = losses.shape[0]
        require_positive(losses, "stch")
        preference = sized(self.preference, K, "preference", losses)
        nadir = self._nadir_point(losses)
        if nadir is None:  # log-loss warm-up
            w = 1.0 / (losses + _EPS)
            self.diagnostics = {"weights": w, "warming_up": True}
            return w
        lam = torch.ones_like(losses) if preference is None else preference
        log_losses = torch.log(losses / nadir + _EPS)
        s = torch.softmax(lam * log_losses / self.mu, dim=0)
        w = K * lam * s / (losses + _EPS * nadir)
        self.diagnostics = {"weights": w, "softmax": s, "nadir": nadir, "warming_up": False}
        return w

    def get_extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"calls": self._calls}
        return state | tensors_state(self, ("sum", "nadir"))

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.reset()
        self._calls = int(state.get("calls", 0))
        restore_tensors(self, state, ("sum", "nadir"))

    def __repr__(self) -> str:
        return (f"STCH(mu={self.mu}, warmup_epochs={self.warmup_epochs}, period={self.period}, nadir={self.nadir}, "
                f"preference={self.preference})")
