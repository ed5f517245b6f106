"""Random Loss Weighting (Lin, Ye, Xu, Shi, Zhang and Kwok, "Reasonable Effectiveness of Random Weighting: A Litmus
Test for Multi-Task Learning", TMLR 2022, Sec. 3): at every step the loss weights are a fresh draw
``w = softmax(λ̃)``, ``λ̃ ~ p(λ̃)``; the default ``p`` is the standard normal (the paper's and LibMTL's choice).

LibMTL 1.1.5's ``RLW`` offers the distributions of ``dist``: ``"normal"``, ``"uniform"`` (U(0, 1)) and
``"dirichlet"`` (Dir(1)) are softmax-ed; ``"bernoulli"`` (each task kept with probability ½, redrawn until one is)
and ``"constrained_bernoulli"`` (one task, uniformly) are used as drawn. The draws are the ones LibMTL makes from the
global RNG (``torch.randn``, ``torch.rand``, the Dirichlet and Bernoulli samplers), made here from the method's own
generator: a generator seeded like LibMTL's global RNG gives LibMTL's weights (``references/libmtl/methods/rlw.json``;
``constrained_bernoulli`` uses Python's ``random`` in LibMTL, ``torch.randint`` here).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._aggregator import Properties
from ._loss_weighting import LossWeighting
from ._random import private_generator

DISTRIBUTIONS = ("normal", "uniform", "dirichlet", "bernoulli", "constrained_bernoulli")




def draw_weights(K: int, dist: str, generator: torch.Generator) -> Tensor:
    """One draw of RLW's K weights (float64, on the generator's device)."""
    dev = generator.device
    if dist == "bernoulli":
        half = torch.full((K,), 0.5, device=dev)
        while True:  # LibMTL redraws until some task is kept
            keep = torch.bernoulli(half, generator=generator)
            if bool(keep.sum() != 0):
                return keep.double()
    if dist == "constrained_bernoulli":
        one_hot = torch.zeros(K, dtype=torch.float64, device=dev)
        one_hot[torch.randint(K, (1,), generator=generator, device=dev)] = 1.0
        return one_hot
    if dist == "normal":
        raw = torch.randn(K, generator=generator, device=dev)
    elif dist == "uniform":
        raw = torch.rand(K, generator=generator, device=dev)
    else:  # Dir(1, …, 1), the sampler torch.distributions.Dirichlet uses
        raw = torch._sample_dirichlet(torch.ones(K, device=dev), generator=generator)
    return torch.softmax(raw.double(), dim=0)


class RLW(LossWeighting):
    """Random loss weighting: fresh random weights ``softmax(λ̃)``, ``λ̃ ~ N(0, I)``, at every call.

    Args:
        dist: ``"normal"`` (default), ``"uniform"``, ``"dirichlet"``, ``"bernoulli"`` or
            ``"constrained_bernoulli"`` (LibMTL 1.1.5's options, lower case).
        generator: the source of the draws (any device). None: a private generator.
        seed: seed a private generator instead (mutually exclusive with ``generator``). The global RNG is never
            used.
    """

    name = "rlw"
    properties = Properties(permutation_invariant=False, randomised=True, needs=frozenset({"losses"}))

    def __init__(self, dist: str = "normal", generator: torch.Generator | None = None, seed: int | None = None
                 ) -> None:
        super().__init__()
        key = dist.lower() if isinstance(dist, str) else dist
        if key not in DISTRIBUTIONS:
            raise ValueError(f"dist must be one of {', '.join(DISTRIBUTIONS)}, got {dist!r}")
        self.dist = key
        self.seed = seed
        self.generator = private_generator(generator, seed, "RLW")

    def loss_weights(self, losses: Tensor) -> Tensor:
        w = draw_weights(losses.shape[0], self.dist, self.generator).to(losses.device)
        self.diagnostics = {"weights": w}
        return w

    def __repr__(self) -> str:
        options = [] if self.dist == "normal" else [f"dist={self.dist!r}"]
        options += [] if self.seed is None else [f"seed={self.seed}"]
        return f"RLW({', '.join(options)})"
