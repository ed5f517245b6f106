"""Solver state kept as optional float64 tensors in ``_<name>`` attributes, saved by ``get_extra_state``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch


def tensors_state(owner: object, names: Iterable[str]) -> dict[str, Any]:
    """``{name: clone of owner._name}`` for the attributes that are set (not None)."""
    state: dict[str, Any] = {}
    for name in names:
        value = getattr(owner, f"_{name}")
        if value is not None:
            state[name] = value.clone()
    return state


def restore_tensors(owner: object, state: Mapping[str, Any], names: Iterable[str]) -> None:
    """Set ``owner._name`` from ``state[name]`` (float64 copies) for every name present in ``state``."""
    for name in names:
        if state.get(name) is not None:
            setattr(owner, f"_{name}", torch.as_tensor(state[name], dtype=torch.float64).clone())
