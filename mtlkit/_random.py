"""Randomness of randomised methods: the caller's ``torch.Generator`` or a private one, never the global RNG."""

from __future__ import annotations

import torch


def private_generator(generator: torch.Generator | None, seed: int | None, owner: str) -> torch.Generator:
    """``generator`` itself, or a private one seeded with ``seed`` (non-deterministically without either)."""
    if generator is not None and seed is not None:
        raise ValueError(f"pass either generator= or seed= to {owner}, not both")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if generator is None:
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
    return generator
