"""SDMGrad (Xiao, Ban and Ji, "Direction-oriented Multi-objective Learning: Simple and Provable Stochastic
Algorithms", NeurIPS 2023, Eq. 5 and Algorithm 1).

SDMGrad looks for the update closest to a preference direction ``g_0 = Jᵀw̃`` (the mean gradient by default)
among those that improve the worst task; its weights solve ``min_{w ∈ Δ} ½‖Jᵀ(w + λw̃)‖²`` (Eq. 5), which it
approaches with a few steps of projected SGD with momentum on ``A (w + λw̃)``, ``A = J_1J_2ᵀ`` the cross-Gramian of
two independent batches, warm-started from the previous call. The update is ``Jᵀ(w + λw̃)/(1 + λ)``.

The order of operations and the defaults are torchjd 0.18's ``SDMGradWeighting`` (the reference): A is divided by
``(mean_i √A_ii)² + 1e-8`` (scale-free steps, ``A_ii`` clamped at 0), ``n_iter = 20`` steps of learning rate 10
and momentum 0.5 (torch's SGD: ``v ← μv + ∇``, ``w ← Π_Δ(w − lr·v)``, the velocity restarted at each call) on the
gradient ``A(w + λw̃)``, λ = 0.3. (The authors' objective ``wᵀAw + 2λwᵀAw̃`` has twice that gradient, so their
``lr = 10`` is ``lr = 20`` here, and they add 1e-4 to the diagonal before the square root.)

As :class:`mtlkit.MoDo`: ``SDMGrad()(J)`` uses ``A = JJᵀ`` (one batch); :meth:`SDMGrad.weights` accepts a
cross-Gramian ``J_1 J_2ᵀ``, not symmetrised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._aggregator import Properties, Weighting
from ._modo import check_rate, load_vector, project_simplex, square_numpy


class SDMGrad(Weighting):
    """SDMGrad: projected SGD with momentum on the simplex weights, pulled towards a preference direction.

    Args:
        lr: learning rate of the inner SGD (10, torchjd's).
        momentum: its momentum, in [0, 1) (0.5).
        n_iter: inner steps per call (20).
        lambda_: the pull λ ≥ 0 towards the preference direction (0.3, the authors' experiments, torchjd's and
            LibMTL's).
        pref_vector: the preference weights w̃ (K,); None: uniform 1/K (the mean gradient).

    State: w (starts at 1/K, and again when the number of tasks changes). ``diagnostics``: ``w`` (the inner
    solution) and ``scale`` (mean_i √A_ii).
    """

    name = "sdmgrad"
    properties = Properties(
        non_conflicting=False, permutation_invariant=True, stateful=True, randomised=False,
        needs=frozenset({"gramian"}),
    )

    def __init__(
        self,
        lr: float = 10.0,
        momentum: float = 0.5,
        n_iter: int = 20,
        lambda_: float = 0.3,
        pref_vector: Sequence[float] | Tensor | None = None,
    ) -> None:
        super().__init__()
        self.lr = check_rate(lr, "lr")
        self.momentum = check_rate(momentum, "momentum", positive=False)
        if self.momentum >= 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
            raise ValueError(f"n_iter must be an integer >= 1, got {n_iter!r}")
        self.n_iter = n_iter
        self.lambda_ = check_rate(lambda_, "lambda_", positive=False)
        self.pref_vector = None
        if pref_vector is not None:
            pref = torch.as_tensor(pref_vector, dtype=torch.float64).detach().cpu().numpy().copy()
            if pref.ndim != 1 or pref.size == 0 or not np.isfinite(pref).all():
                raise ValueError("pref_vector must be a non-empty finite 1-D sequence")
            self.pref_vector = pref
        self.reset()

    def reset(self) -> None:
        """Forget w (the next call starts from 1/K)."""
        self._w: np.ndarray | None = None

    def _preference(self, K: int) -> np.ndarray:
        if self.pref_vector is None:
            return np.full(K, 1.0 / K)
        if self.pref_vector.shape[0] != K:
            raise ValueError(f"pref_vector has {self.pref_vector.shape[0]} entries for {K} tasks")
        return self.pref_vector

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        A = square_numpy(G, "Gramian")
        K = A.shape[0]
        pref = self._preference(K)
        w = self._w if self._w is not None and self._w.shape[0] == K else np.full(K, 1.0 / K)
        scale = float(np.sqrt(np.maximum(A.diagonal(), 0.0)).mean())
        a = A / (scale * scale + 1e-8)
        target = self.lambda_ * pref
        velocity = np.zeros(K)
        for _ in range(self.n_iter):
            velocity = self.momentum * velocity + a @ (w + target)
            w = project_simplex(w - self.lr * velocity)
        self._w = w
        self.diagnostics = {"w": torch.from_numpy(w.copy()), "scale": scale}
        out = torch.from_numpy((w + target) / (1.0 + self.lambda_))
        return out if G.device.type == "cpu" else out.to(G.device)

    def get_extra_state(self) -> dict[str, Any]:
        """``{"w": w}`` (float64) after the first call, ``{}`` before."""
        return {} if self._w is None else {"w": torch.from_numpy(self._w.copy())}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if set(state) - {"w"}:
            raise ValueError(f"unexpected keys in the SDMGrad state: {sorted(set(state) - {'w'})}")
        self._w = load_vector(state, "w", "SDMGrad")

    def __repr__(self) -> str:
        extra = "" if self.pref_vector is None else f", pref_vector={self.pref_vector.tolist()}"
        return (f"SDMGrad(lr={self.lr:g}, momentum={self.momentum:g}, n_iter={self.n_iter}, "
                f"lambda_={self.lambda_:g}{extra})")
