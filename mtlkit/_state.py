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


class LazyTaskParameter:
    """Mixin for methods with one learnable (K,) parameter, named by ``task_parameter``, that may be created on the
    first call (K unknown at construction): ``load_state_dict`` creates it from the saved tensor first.

    The class implements ``_materialise(K, like=None)``; list the mixin before the method's base class.
    """

    task_parameter: str

    def _materialise(self, K: int, like: torch.Tensor | None = None) -> None:
        raise NotImplementedError

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        key = prefix + self.task_parameter
        if getattr(self, self.task_parameter) is None and key in state_dict:
            self._materialise(int(state_dict[key].shape[0]), state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args)  # type: ignore[misc]
