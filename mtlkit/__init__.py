"""mtlkit: multi-task gradient aggregation for PyTorch.

Given K task losses, :func:`backward` computes per-task gradients and combines them with an aggregator
(Nash-MTL, Aligned-MTL, PCGrad, linear, or any plugin's) into the parameters' ``.grad``; a loss-based method
(DWA, uncertainty weighting) weighs the losses in one ordinary backward. Every method is a ``torch.nn.Module``.
"""

from ._aggregator import (
    Aggregator,
    Properties,
    Weighting,
    check_gramian,
    check_jacobian,
    gramian,
    input_checks_enabled,
    set_input_checks,
)
from ._aligned import AlignedMTL
from ._backward import BACKENDS, BackwardResult, after_step, backward
from ._dwa import DWA
from ._famo import FAMO
from ._linear import Linear
from ._loss_weighting import LossWeighting
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
from ._uw import UncertaintyWeighting

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "DWA",
    "FAMO",
    "Aggregator",
    "AggregatorInfo",
    "AlignedMTL",
    "BackwardResult",
    "Linear",
    "LossWeighting",
    "NashMTL",
    "PCGrad",
    "Properties",
    "UncertaintyWeighting",
    "UnknownAggregatorError",
    "Weighting",
    "after_step",
    "backward",
    "check_gramian",
    "check_jacobian",
    "get_aggregator",
    "gramian",
    "hookimpl",
    "hookspec",
    "input_checks_enabled",
    "list_aggregators",
    "register_plugin",
    "set_input_checks",
    "unregister_plugin",
]
