"""The aggregator plugins: hookspec ``mtlkit_register_aggregators(register)``, entry-point group ``mtlkit``,
environment variable ``MTLKIT_LOAD_PLUGINS`` (unset = all plugins, empty = none, ``a,b`` = only those)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from ._aggregator import Aggregator, Properties
from .registry import PluginManagerHolder, PluginTable, UnknownNameError

hookspec = pluggy.HookspecMarker("mtlkit")
hookimpl = pluggy.HookimplMarker("mtlkit")


class _Specs:
    @hookspec
    def mtlkit_register_aggregators(self, register: Callable[..., None]) -> None:
        """Call ``register(AggregatorClass)`` (optionally ``name=...``) once per aggregator provided."""


UnknownAggregatorError = UnknownNameError

PLUGINS = PluginManagerHolder("mtlkit", _Specs, "mtlkit._builtins", "mtlkit", "MTLKIT_LOAD_PLUGINS")
AGGREGATORS = PluginTable(PLUGINS, "mtlkit_register_aggregators", Aggregator, "aggregator")


@dataclass(frozen=True)
class AggregatorInfo:
    """One registered aggregator: name, class, declared properties and origin plugin."""

    name: str
    cls: type[Aggregator]
    origin: str

    @property
    def properties(self) -> Properties:
        return self.cls.properties

    @property
    def summary(self) -> str:
        doc = (self.cls.__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "origin": self.origin, "summary": self.summary,
                "properties": self.properties.as_dict()}


def get_aggregator(name: str, **options: Any) -> Aggregator:
    """Build the aggregator registered as ``name`` with ``options``.

    >>> get_aggregator("linear", weights=[1.0, 2.0])
    Linear(weights=[1.0, 2.0])
    """
    return AGGREGATORS.create(name, **options)


def list_aggregators(kind: str | None = None) -> list[AggregatorInfo]:
    """Every registered method with its declared properties and origin plugin, sorted by name.

    ``kind`` keeps one kind: ``"losses"`` (loss-based: no per-task gradient), ``"gramian"`` (weights from the
    Gramian) or ``"jacobian"`` (needs the whole Jacobian). Each info's ``properties`` says what the method
    needs (Jacobian, Gramian, losses), whether it has learnable parameters and whether it draws random numbers.
    """
    if kind not in (None, "losses", "gramian", "jacobian"):
        raise ValueError(f"kind must be 'losses', 'gramian', 'jacobian' or None, got {kind!r}")
    infos = [AggregatorInfo(i.name, i.cls, i.origin) for i in AGGREGATORS.items()]
    return [i for i in infos if kind is None or i.properties.kind == kind]


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a plugin object (module or instance with ``@mtlkit.hookimpl`` functions) at run time."""
    PLUGINS.register_plugin(plugin, name)


def unregister_plugin(plugin: object) -> None:
    """Remove a plugin registered with :func:`register_plugin`."""
    PLUGINS.unregister_plugin(plugin)
