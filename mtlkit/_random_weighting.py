"""Random loss weighting on gradients (Lin et al., "Reasonable Effectiveness of Random Weighting: A Litmus Test
for Multi-Task Learning", TMLR 2022, Algorithm 2; torchjd 0.18's ``Random``).

Every call draws fresh weights ``w = softmax(z)``, ``z ~ N(0, I_K)``, and the update is ``Jᵀw``. The draws come
from the method's own ``torch.Generator`` (never the global RNG), in float64 on the generator's device: with the
same seed, torchjd's ``Random`` (which draws from the global RNG in J's dtype) gives the same weights for a
float64 Jacobian on the CPU.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._aggregator import Properties, Weighting, check_finite_update, check_gramian, check_jacobian
from ._random import private_generator


class RandomWeighting(Weighting):
    """Random weighting (RLW): weights ``softmax(z)``, ``z`` standard normal, drawn afresh at every call.

    Args:
        generator: the source of the draws (any device). None: a private generator.
        seed: seed a private generator instead (not with ``generator``). With neither, the private generator is
            seeded non-deterministically.

    ``diagnostics``: ``weights`` (the draw, float64 on the generator's device).
    """

    name = "random"
    properties = Properties(
        non_conflicting=False, permutation_invariant=False, stateful=False, randomised=True,
        needs=frozenset({"gramian"}),
    )

    def __init__(self, generator: torch.Generator | None = None, seed: int | None = None) -> None:
        super().__init__()
        self.generator = private_generator(generator, seed, "RandomWeighting")
        self.seed = seed

    def _draw(self, K: int, device: torch.device) -> Tensor:
        z = torch.randn(K, generator=self.generator, dtype=torch.float64, device=self.generator.device)
        w = torch.softmax(z, dim=0)
        self.diagnostics = {"weights": w}
        return w.to(device)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        G = check_gramian(G)
        return self._draw(G.shape[0], G.device)

    def forward(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        # the weights do not depend on the Gramian: Jᵀw directly
        check_jacobian(J)
        w = self._draw(J.shape[0], J.device)
        return check_finite_update(w.to(J.dtype) @ J)

    def __repr__(self) -> str:
        return "RandomWeighting()" if self.seed is None else f"RandomWeighting(seed={self.seed})"
