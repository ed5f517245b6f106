"""Krum and Multi-Krum (Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant Gradient
Descent", NeurIPS 2017), matched to torchjd 0.18, from the Gramian alone.

Each task gradient is scored by the sum of its distances to its ``K − f − 2`` nearest other gradients
(``f = n_byzantine``); the ``n_selected`` gradients with the lowest scores are averaged (``n_selected = 1``:
Krum, more: Multi-Krum). Distances come from the Gramian: ``‖g_i − g_j‖² = G_ii + G_jj − 2G_ij`` (clipped at 0).

As torchjd, the score sums distances; the paper sums squared distances (``squared=True``). Differences from
torchjd, both only where torchjd has no answer or an arbitrary one:

- ``n_byzantine=None`` (the default; torchjd requires it) takes the largest ``f`` the paper's guarantee allows,
  ``2f + 2 < K``, i.e. ``f = max(0, ⌊(K − 3)/2⌋)``; for K ≤ 2 there is no neighbour to score by and every
  gradient ties. An explicit ``n_byzantine`` needs ``K ≥ n_byzantine + 3`` (ValueError otherwise, as torchjd).
- Scores tied at the selection boundary share the remaining weight equally (torchjd's ``topk`` keeps the
  lower indices), so the result does not depend on the order of the tasks.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from ._aggregator import Properties, Weighting
from ._dual_cone import gramian_array, to_weights


def _count(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def krum_scores(G: np.ndarray, n_closest: int, squared: bool) -> np.ndarray:
    """Per task: the sum of its (squared, if asked) distances to its ``n_closest`` nearest other tasks."""
    d = G.diagonal()
    dist2 = np.maximum(d[:, None] + d[None, :] - 2.0 * G, 0.0)
    dist = dist2 if squared else np.sqrt(dist2)
    # torchjd: the n_closest + 1 smallest per row, dropping the smallest (the task itself: distance exactly 0)
    return np.sort(dist, axis=1)[:, 1 : n_closest + 1].sum(axis=1)  # type: ignore[no-any-return]


def select(scores: np.ndarray, n_selected: int) -> np.ndarray:
    """Weights ``1/n_selected`` on the lowest scores; ties at the boundary share what is left."""
    order = np.sort(scores)
    cut = order[n_selected - 1]
    below = scores < cut
    tied = scores == cut
    w = np.where(below, 1.0, 0.0)
    w[tied] = (n_selected - below.sum()) / tied.sum()
    return w / n_selected


class Krum(Weighting):
    """(Multi-)Krum: average the ``n_selected`` task gradients closest to their ``K − f − 2`` nearest neighbours.

    Args:
        n_byzantine: ``f``, how many task gradients may be adversarial. None (default): ``max(0, ⌊(K−3)/2⌋)``,
            the most Krum's guarantee covers. torchjd requires it.
        n_selected: how many gradients are averaged (1: Krum, default; more: Multi-Krum). At most K.
        squared: score by squared distances, as the paper (default False: distances, as torchjd).

    ``diagnostics``: ``scores`` (K,), ``n_byzantine`` (the f used) and ``selected`` (the tasks with weight > 0).
    """

    name = "krum"
    properties = Properties(
        non_conflicting=False, permutation_invariant=True, stateful=False, randomised=False,
        needs=frozenset({"gramian"}),
    )

    def __init__(self, n_byzantine: int | None = None, n_selected: int = 1, squared: bool = False) -> None:
        super().__init__()
        self.n_byzantine = None if n_byzantine is None else _count("n_byzantine", n_byzantine, 0)
        self.n_selected = _count("n_selected", n_selected, 1)
        self.squared = bool(squared)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        Gn = gramian_array(G)
        K = Gn.shape[0]
        if self.n_selected > K:
            raise ValueError(f"krum: n_selected={self.n_selected} but only {K} tasks")
        if self.n_byzantine is None:
            f = max(0, (K - 3) // 2)
        elif self.n_byzantine + 3 > K:
            raise ValueError(f"krum: n_byzantine={self.n_byzantine} needs at least {self.n_byzantine + 3} tasks "
                             f"(n_byzantine + 3), got {K}")
        else:
            f = self.n_byzantine
        scores = krum_scores(Gn, max(K - f - 2, 0), self.squared)
        w = select(scores, self.n_selected)
        self.diagnostics = {"scores": scores.tolist(), "n_byzantine": f, "selected": np.flatnonzero(w).tolist()}
        return to_weights(w, G)

    def __repr__(self) -> str:
        options = [] if self.n_byzantine is None else [f"n_byzantine={self.n_byzantine}"]
        options += [] if self.n_selected == 1 else [f"n_selected={self.n_selected}"]
        options += ["squared=True"] if self.squared else []
        return f"Krum({', '.join(options)})"
