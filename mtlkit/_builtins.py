"""Registers the built-in methods (gradient- and loss-based) (a pluggy plugin like any other, loaded by import)."""

from __future__ import annotations

from collections.abc import Callable

from ._aligned import AlignedMTL
from ._dwa import DWA
from ._famo import FAMO
from ._linear import Linear
from ._nash import NashMTL
from ._pcgrad import PCGrad
from ._registry import hookimpl
from ._uw import UncertaintyWeighting

BUILTIN_AGGREGATORS = (Linear, NashMTL, AlignedMTL, PCGrad, DWA, UncertaintyWeighting, FAMO)


@hookimpl
def mtlkit_register_aggregators(register: Callable[..., None]) -> None:
    for cls in BUILTIN_AGGREGATORS:
        register(cls)
