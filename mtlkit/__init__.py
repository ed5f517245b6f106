"""mtlkit: multi-task gradient aggregation for PyTorch.

Given K task losses, :func:`backward` computes per-task gradients and combines them with an aggregator
(Nash-MTL, Aligned-MTL, PCGrad, linear, or any plugin's) into the parameters' ``.grad``.
"""

from ._aggregator import Aggregator, Properties, Weighting, check_gramian, gramian
from ._aligned import AlignedMTL
from ._backward import BACKENDS, BackwardResult, backward
from ._linear import Linear
from ._nash import NashMTL
from ._pcgrad import PCGrad
from ._registry import (
    AggregatorInfo,
    UnknownAggregatorError,
    get_aggregator,
    hookimpl,
    hookspec,
    list_aggregators,
    register_plugin,
    unregister_plugin,
)

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "Aggregator",
    "AggregatorInfo",
    "AlignedMTL",
    "BackwardResult",
    "Linear",
    "NashMTL",
    "PCGrad",
    "Properties",
    "UnknownAggregatorError",
    "Weighting",
    "backward",
    "check_gramian",
    "get_aggregator",
    "gramian",
    "hookimpl",
    "hookspec",
    "list_aggregators",
    "register_plugin",
    "unregister_plugin",
]
