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
from ._aggregator_plugins import (
    AggregatorInfo,
    UnknownAggregatorError,
    get_aggregator,
    hookimpl,
    hookspec,
    list_aggregators,
    register_plugin,
    unregister_plugin,
)

# the built-in methods (each registered under its name: mtlkit.get_aggregator(name))
from ._aligned import AlignedMTL
from ._backward import BACKENDS, COMMS, Backend, BackwardResult, Comm, after_step, backward, constant_weights
from ._cagrad import CAGrad
from ._config import ConFIG
from ._cov import CoVWeighting
from ._cr_mogm import CRMOGM
from ._dbmtl import DBMTL
from ._dualproj import DualProj
from ._dwa import DWA
from ._excess_mtl import ExcessMTL
from ._fairgrad import FairGrad
from ._famo import FAMO
from ._gls import GLS
from ._go4align import GO4Align
from ._graddrop import GradDrop
from ._gradnorm import GradNorm
from ._gradvac import GradVac
from ._igb import IGB
from ._imtl import IMTLG
from ._imtl_l import IMTLL
from ._krum import Krum
from ._ldc import LDCMTL
from ._linear import Linear
from ._loss_weighting import LossWeighting
from ._mean import Mean
from ._mgda import MGDA
from ._moco import MoCo
from ._modo import MoDo
from ._nash import NashMTL
from ._pbi import PBI
from ._pcd import PCD
from ._pcgrad import PCGrad
from ._random_weighting import RandomWeighting
from ._rlw import RLW
from ._sdmgrad import SDMGrad
from ._stch import STCH
from ._trimmed_mean import TrimmedMean
from ._upgrad import UPGrad
from ._uw import UncertaintyWeighting
from ._uw_so import UWSO

__version__ = "0.2.0"

__all__ = [
    "BACKENDS",
    "COMMS",
    "CRMOGM",
    "DBMTL",
    "DWA",
    "FAMO",
    "GLS",
    "IGB",
    "IMTLG",
    "IMTLL",
    "LDCMTL",
    "MGDA",
    "PBI",
    "PCD",
    "RLW",
    "STCH",
    "UWSO",
    "Aggregator",
    "AggregatorInfo",
    "AlignedMTL",
    "Backend",
    "BackwardResult",
    "CAGrad",
    "CoVWeighting",
    "Comm",
    "ConFIG",
    "DualProj",
    "ExcessMTL",
    "FairGrad",
    "GO4Align",
    "GradDrop",
    "GradNorm",
    "GradVac",
    "Krum",
    "Linear",
    "LossWeighting",
    "Mean",
    "MoCo",
    "MoDo",
    "NashMTL",
    "PCGrad",
    "Properties",
    "RandomWeighting",
    "SDMGrad",
    "TrimmedMean",
    "UPGrad",
    "UncertaintyWeighting",
    "UnknownAggregatorError",
    "Weighting",
    "after_step",
    "backward",
    "check_gramian",
    "check_jacobian",
    "constant_weights",
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
