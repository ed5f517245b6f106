"""GradVac (Wang et al., "Gradient Vaccine: Investigating and Improving Multi-task Optimization in Massively
Multilingual Models", ICLR 2021, Algorithm 1 and Eq. 2–3), computed on the Gramian alone.

GradVac keeps, for every ordered pair of tasks, an exponential moving average ``φ̂_ij`` of the cosine between
task i's (modified) gradient and task j's gradient. Each step, task i visits the other tasks in a random order;
when the current cosine ``φ_ij`` of ``g_i'`` with ``g_j`` is below its target ``φ̂_ij``, ``g_i'`` is moved towards
``g_j`` just enough to reach it (Eq. 3):

    g_i' ← g_i' + ‖g_i'‖ (φ̂ √(1 − φ²) − φ √(1 − φ̂²)) / (‖g_j‖ √(1 − φ̂²)) · g_j,

and the target is updated ``φ̂_ij ← (1 − β) φ̂_ij + β φ_ij``. The update is ``Σ_i g_i'``.

As in PCGrad, every ``g_i'`` is a combination ``c_iᵀJ`` of the original rows (``g_i'·g_j = c_iᵀG_{:,j}``,
``‖g_i'‖² = c_iᵀGc_i``), so the algorithm runs on coefficient vectors and the weights are ``Σ_i c_i``. The tasks
are independent of each other within a step, so the K×K work is K−1 vectorised visits.

The order of operations is torchjd 0.18's ``GradVacWeighting`` (the reference): ``eps`` is added to both
denominators, the target is updated after every visit (the paper's Algorithm 1) and each task's visiting order
is one ``torch.randperm(K − 1)`` draw, task after task, from the caller's generator (torchjd draws from the
global RNG: with the same seed the orders and the weights are the same).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from ._aggregator import Properties, Weighting
from ._modo import square_numpy
from ._random import private_generator

UpdateTargets = Literal["always", "on_correction"]
UPDATE_TARGETS = ("always", "on_correction")


def draw_visits(K: int, generator: torch.Generator) -> np.ndarray:
    """(K, K−1) int array: row i lists the other tasks in the order i visits them, one ``torch.randperm(K − 1)``
    per task, drawn in task order (torchjd's draws)."""
    orders = np.empty((K, max(K - 1, 0)), dtype=np.int64)
    for i in range(K):
        others = np.array([j for j in range(K) if j != i], dtype=np.int64)
        perm = torch.randperm(K - 1, generator=generator, device=generator.device).cpu().numpy()
        orders[i] = others[perm]
    return orders


def gradvac_coefficients(
    G: np.ndarray, targets: np.ndarray, orders: np.ndarray, beta: float, eps: float, always: bool = True
) -> tuple[np.ndarray, int, np.ndarray]:
    """Coefficients ``c`` (K, K) with ``g_i' = Σ_j c_ij g_j`` after GradVac's corrections in the given orders;
    ``targets`` (φ̂, K×K) is updated in place. Returns (c, number of corrections, the cosines φ seen).

    A zero gradient has cosine 0 with everything and is never added to another (its coefficient would be
    arbitrary: it does not change the update).
    """
    K = G.shape[0]
    coef = np.eye(K)
    cG = G.copy()  # row i: g_i'·g_j for every j
    rows = np.arange(K)
    norms = np.sqrt(np.maximum(G.diagonal(), 0.0))
    cosines = np.zeros((K, K))
    corrections = 0
    for t in range(orders.shape[1]):
        js = orders[:, t]
        dot = cG[rows, js]
        norm_i = np.sqrt(np.maximum(np.einsum("ij,ij->i", cG, coef), 0.0))
        norm_j = norms[js]
        denom = norm_i * norm_j + eps
        phi = np.divide(dot, denom, out=np.zeros(K), where=denom > 0.0)
        hat = targets[rows, js]
        root_hat = np.sqrt(np.maximum(1.0 - hat * hat, 0.0))
        step_denom = norm_j * root_hat + eps
        correct = (phi < hat) & (norm_j > 0.0) & (step_denom > 0.0)
        if correct.any():
            root_phi = np.sqrt(np.maximum(1.0 - phi * phi, 0.0))
            w = norm_i * (hat * root_phi - phi * root_hat) / np.where(correct, step_denom, 1.0)
            w = np.where(correct, w, 0.0)
            coef[rows, js] += w
            cG += w[:, None] * G[js]
            corrections += int(correct.sum())
        moved = (1.0 - beta) * hat + beta * phi
        targets[rows, js] = moved if always else np.where(correct, moved, hat)
        cosines[rows, js] = phi
    return coef, corrections, cosines


class GradVac(Weighting):
    """GradVac: raise each pair's gradient cosine to an EMA target by adding a multiple of the other gradient.

    Args:
        beta: EMA rate of the targets, ``φ̂ ← (1 − β) φ̂ + β φ`` (0.5, torchjd's and LibMTL's default).
        eps: added to the cosine's and the correction's denominators (1e-8, torchjd's). It is absolute: with
            gradient norms near 1e-4 it visibly shrinks the cosines; ``eps=0`` gives the exact formulas (LibMTL,
            the paper).
        update_targets: ``"always"`` (default: after every visit, torchjd and the paper's Algorithm 1) or
            ``"on_correction"`` (only for the pairs that were corrected, as LibMTL 1.1.5).
        generator: the source of the visiting orders (any device). None: a private generator.
        seed: seed a private generator instead (mutually exclusive with ``generator``). The global RNG is never
            used.

    State: the targets φ̂ (K×K, zero at the start, and again whenever the number of tasks changes), in
    ``state_dict()``. ``diagnostics``: ``orders`` (K×(K−1)), ``corrections``, ``cosines`` (the φ_ij seen, K×K)
    and ``coefficients`` (c, K×K).
    """

    name = "gradvac"
    properties = Properties(
        non_conflicting=False, permutation_invariant=False, stateful=True, randomised=True,
        needs=frozenset({"gramian"}),
    )

    def __init__(
        self,
        beta: float = 0.5,
        eps: float = 1e-8,
        update_targets: UpdateTargets = "always",
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(beta, bool) or not (isinstance(beta, (int, float)) and 0.0 <= beta <= 1.0):
            raise ValueError(f"beta must be a number in [0, 1], got {beta!r}")
        if isinstance(eps, bool) or not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0.0):
            raise ValueError(f"eps must be a non-negative number, got {eps!r}")
        if update_targets not in UPDATE_TARGETS:
            raise ValueError(f"update_targets must be 'always' (torchjd) or 'on_correction' (LibMTL); got "
                             f"{update_targets!r}")
        self.beta, self.eps, self.update_targets = float(beta), float(eps), update_targets
        self.generator, self.seed = private_generator(generator, seed, "GradVac"), seed
        self.reset()

    def reset(self) -> None:
        """Forget the targets (the next call starts from φ̂ = 0)."""
        self._targets: np.ndarray | None = None

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        Gn = square_numpy(G, "Gramian", symmetrise=True)
        K = Gn.shape[0]
        if self._targets is None or self._targets.shape[0] != K:
            self._targets = np.zeros((K, K))
        orders = draw_visits(K, self.generator)
        coef, corrections, cosines = gradvac_coefficients(
            Gn, self._targets, orders, self.beta, self.eps, self.update_targets == "always"
        )
        self.diagnostics = {
            "orders": torch.from_numpy(orders),
            "corrections": corrections,
            "cosines": torch.from_numpy(cosines),
            "coefficients": torch.from_numpy(coef),
        }
        out = torch.from_numpy(coef.sum(axis=0))
        return out if G.device.type == "cpu" else out.to(G.device)

    def get_extra_state(self) -> dict[str, Any]:
        """``{"targets": φ̂}`` (K×K float64) after the first call, ``{}`` before."""
        return {} if self._targets is None else {"targets": torch.from_numpy(self._targets.copy())}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        unknown = set(state) - {"targets"}
        if unknown:
            raise ValueError(f"unexpected keys in the GradVac state: {sorted(unknown)} (expected targets)")
        targets = state.get("targets")
        if targets is None:
            self._targets = None
            return
        arr = torch.as_tensor(targets).detach().to("cpu", torch.float64).numpy().copy()
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or not (np.abs(arr) <= 1.0).all():
            raise ValueError("state['targets'] must be a square matrix of cosines in [-1, 1]")
        self._targets = arr

    def __repr__(self) -> str:
        options = [f"beta={self.beta:g}"]
        options += [] if self.eps == 1e-8 else [f"eps={self.eps:g}"]
        options += [] if self.update_targets == "always" else [f"update_targets={self.update_targets!r}"]
        options += [] if self.seed is None else [f"seed={self.seed}"]
        return f"GradVac({', '.join(options)})"


