"""PCGrad (Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020), computed on the Gramian alone.

For each task i, the other tasks are visited in a fresh random order; whenever the current projected gradient
conflicts with the original ``g_j`` (``g_i'·g_j < 0``) it is projected onto ``g_j``'s normal plane:
``g_i' ← g_i' − (g_i'·g_j / ‖g_j‖²) g_j`` (Algorithm 1). The update is ``Σ_i g_i'``.

Every ``g_i'`` is a linear combination ``c_iᵀ J`` of the original rows, so the algorithm runs on coefficient
vectors: ``g_i'·g_j = c_iᵀ G[:, j]`` and the projection subtracts ``(c_iᵀ G[:, j] / G_jj)`` from ``c_ij``. The
weights are ``Σ_i c_i``. All tasks advance one visit at a time, so the K×K work is K−1 vectorised steps.

On the CPU they run in numpy; on other devices in torch (``_torch_solvers.pcgrad_torch``), with no host sync
when the generator is on the Gramian's device (a CPU generator's keys are copied host→device).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ._aggregator import Properties, Weighting, check_gramian
from ._nash import _gramian_numpy
from ._random import private_generator
from ._torch_solvers import Solver, check_solver, draw_orders_torch, pcgrad_torch, use_torch


def draw_orders(K: int, generator: torch.Generator) -> np.ndarray:
    """(K, K−1) int array: row i is a uniformly random order of the tasks other than i (one draw per row)."""
    keys = torch.rand(K, K, generator=generator, device=generator.device).to("cpu", torch.float64).numpy()
    np.fill_diagonal(keys, 2.0)  # task i sorts last in its own row, then is dropped
    return np.argsort(keys, axis=1, kind="stable")[:, : K - 1]


def pcgrad_coefficients(G: np.ndarray, orders: np.ndarray) -> tuple[np.ndarray, int]:
    """Coefficients ``c`` (K, K) with ``g_i' = Σ_j c_ij g_j`` after PCGrad's projections in the given orders
    (row i of ``orders`` lists the tasks i visits), and the number of projections made.

    A zero gradient (``G_jj = 0``) never conflicts and is never projected on.
    """
    K = G.shape[0]
    coef = np.eye(K)
    rows = np.arange(K)
    diag = G.diagonal()
    safe = np.where(diag > 0.0, diag, 1.0)
    projections = 0
    for t in range(orders.shape[1]):
        js = orders[:, t]
        inner = np.einsum("ik,ki->i", coef, G[:, js])  # g_i'·g_{js[i]} for every i
        conflict = (inner < 0.0) & (diag[js] > 0.0)
        if conflict.any():
            coef[rows, js] -= np.where(conflict, inner / safe[js], 0.0)
            projections += int(conflict.sum())
    return coef, projections


class PCGrad(Weighting):
    """PCGrad: project each task gradient onto the normal planes of the gradients it conflicts with, then sum.

    Args:
        generator: the source of the random visiting orders (any device). None: a private generator.
        seed: seed a private generator instead (mutually exclusive with ``generator``). With neither, the
            private generator is seeded non-deterministically. The global RNG is never used.
        solver: ``"auto"`` (numpy for a CPU Gramian, torch on its device otherwise), ``"numpy"`` or ``"torch"``.
            Both draw the same keys from the generator: the same orders and weights for the same state.

    ``diagnostics``: ``orders`` (the visiting order of each task, a (K, K−1) int64 tensor), ``projections``
    (how many projections were made) and ``coefficients`` (c, K×K, float64); tensors on G's device on the torch
    path (``projections`` a 0-d one).
    """

    name = "pcgrad"
    properties = Properties(
        non_conflicting=False, permutation_invariant=False, stateful=False, randomised=True,
        needs=frozenset({"gramian"}),
    )

    def __init__(
        self, generator: torch.Generator | None = None, seed: int | None = None, solver: Solver = "auto"
    ) -> None:
        super().__init__()
        self.generator = private_generator(generator, seed, "PCGrad")
        self.seed = seed
        self.solver = check_solver(solver)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        if use_torch(self.solver, G):
            G = check_gramian(G.detach())
            orders = draw_orders_torch(G.shape[0], self.generator, G.device)
            coef, projections = pcgrad_torch(G, orders)
            self.diagnostics = {"orders": orders, "projections": projections, "coefficients": coef}
            return coef.sum(0)
        Gn = _gramian_numpy(G)
        orders = draw_orders(Gn.shape[0], self.generator)
        coef, projections = pcgrad_coefficients(Gn, orders)
        self.diagnostics = {
            "orders": torch.from_numpy(orders.astype(np.int64)),
            "projections": projections,
            "coefficients": torch.from_numpy(coef),
        }
        out = torch.from_numpy(coef.sum(axis=0))
        return out if G.device.type == "cpu" else out.to(G.device)

    def __repr__(self) -> str:
        options = [] if self.seed is None else [f"seed={self.seed}"]
        options += [] if self.solver == "auto" else [f"solver={self.solver!r}"]
        return f"PCGrad({', '.join(options)})"
