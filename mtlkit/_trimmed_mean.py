"""Coordinate-wise trimmed mean (Yin et al., "Byzantine-Robust Distributed Learning: Towards Optimal
Statistical Rates", ICML 2018), matched to torchjd 0.18's ``TrimmedMean``.

In every coordinate the ``trim_number`` largest and ``trim_number`` smallest of the K task gradients' entries
are dropped and the rest averaged. It works on the Jacobian itself (no Gramian).

torchjd sorts every column (``torch.sort(J, dim=0)``, slow across the rows of a wide matrix). mtlkit moves the
extremes out with ``2·trim_number`` bubble passes of element-wise ``minimum``/``maximum`` over whole rows (a
selection network: the entries are only permuted, never subtracted, so a huge outlier cannot cancel the others'
precision), then sums the middle rows.

torchjd requires ``trim_number`` and ``K ≥ 2·trim_number + 1``. mtlkit defaults ``trim_number`` to 1 and trims
``min(trim_number, ⌊(K − 1)/2⌋)`` from each end, so that fewer tasks than ``2·trim_number + 1`` give the
coordinate-wise median (the most a trimmed mean can trim) instead of an error; ``diagnostics["trimmed"]``
says how many were trimmed.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._aggregator import Aggregator, Properties, check_jacobian, input_checks_enabled


def trimmed_mean(J: Tensor, t: int) -> tuple[Tensor, Tensor, Tensor]:
    """The mean over rows of ``J`` without the ``t`` largest and ``t`` smallest entries of each column
    (``2t < K``), and the columns' max and min (from the passes, for the finiteness check)."""
    K = J.shape[0]
    rows = list(J.unbind(0))
    if t == 0:
        out = J.sum(0) / K  # any NaN or ±Inf of J makes it non-finite
        return out, out, out
    lo, hi = 0, K - 1  # rows[lo:hi + 1] are not yet placed
    for _ in range(t):
        for i in range(lo, hi):  # the largest remaining entry sinks to row hi
            a, b = rows[i], rows[i + 1]
            rows[i], rows[i + 1] = torch.minimum(a, b), torch.maximum(a, b)
        hi -= 1
        for i in range(hi, lo, -1):  # the smallest remaining entry rises to row lo
            a, b = rows[i - 1], rows[i]
            rows[i - 1], rows[i] = torch.minimum(a, b), torch.maximum(a, b)
        lo += 1
    middle = rows[lo].clone()
    for row in rows[lo + 1 : hi + 1]:
        middle += row
    return middle / (K - 2 * t), rows[-1], rows[0]


class TrimmedMean(Aggregator):
    """Coordinate-wise trimmed mean: drop the ``trim_number`` largest and smallest entries of each coordinate.

    Args:
        trim_number: entries dropped at each end of every coordinate (default 1; torchjd requires it). With
            fewer than ``2·trim_number + 1`` tasks, ``⌊(K − 1)/2⌋`` are dropped (the median).

    ``diagnostics``: ``trimmed`` (how many were dropped at each end).
    """

    name = "trimmed_mean"
    properties = Properties(
        non_conflicting=False, permutation_invariant=True, stateful=False, randomised=False,
        needs=frozenset({"jacobian"}),
    )

    def __init__(self, trim_number: int = 1) -> None:
        super().__init__()
        if isinstance(trim_number, bool) or not isinstance(trim_number, int) or trim_number < 0:
            raise ValueError(f"trim_number must be an integer >= 0, got {trim_number!r}")
        self.trim_number = trim_number

    def forward(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        check_jacobian(J)
        K = J.shape[0]
        t = min(self.trim_number, (K - 1) // 2)
        work = J if J.dtype in (torch.float32, torch.float64) else J.float()
        out, top, bottom = trimmed_mean(work, t)
        # any NaN or ±Inf reaches the extremes (minimum/maximum propagate NaN): one check of two rows
        if input_checks_enabled() and not bool(torch.isfinite(torch.stack([top.amax(), bottom.amin()])).all()):
            raise ValueError("the Jacobian contains NaN or Inf (a task gradient is not finite)")
        self.diagnostics = {"trimmed": t}
        return out.to(J.dtype)

    def __repr__(self) -> str:
        return "TrimmedMean()" if self.trim_number == 1 else f"TrimmedMean(trim_number={self.trim_number})"
