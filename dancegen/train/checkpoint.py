"""Training's own checkpoint state: the random generators' states (the layout, writing and reading of checkpoint
folders belong to :mod:`dancegen.checkpoint`, shared with generation)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from ..errors import DancegenError


def rng_states(generators: Mapping[str, torch.Generator]) -> dict[str, Tensor]:
    """uint8 state tensors of named torch generators, plus torch's global CPU (and CUDA) RNG (dropout)."""
    out = {name: g.get_state() for name, g in generators.items()}
    out["torch_global"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            out[f"torch_cuda_{i}"] = state
    return out


def restore_rng_states(states: Mapping[str, Tensor], generators: Mapping[str, torch.Generator]) -> None:
    """Inverse of :func:`rng_states`."""
    for name, g in generators.items():
        if name not in states:
            raise DancegenError(f"checkpoint has no state for the {name!r} random generator")
        g.set_state(states[name].to(torch.uint8))
    torch.set_rng_state(states["torch_global"].to(torch.uint8))
    cuda = [states[k] for k in sorted(states) if k.startswith("torch_cuda_")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.to(torch.uint8) for s in cuda[: torch.cuda.device_count()]])
