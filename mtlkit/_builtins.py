"""Registers the built-in methods, gradient- and loss-based (a pluggy plugin like any other, loaded by import)."""

from __future__ import annotations

from collections.abc import Callable

from ._aggregator_plugins import hookimpl
from ._aligned import AlignedMTL
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

BUILTIN_AGGREGATORS = (
    # gradient / Gramian methods
    Linear, Mean, NashMTL, FairGrad, AlignedMTL, PCGrad, IMTLG, UPGrad, DualProj, MGDA, CAGrad, GradVac, GradDrop,
    ConFIG, Krum, TrimmedMean, ExcessMTL, MoDo, SDMGrad, MoCo, DBMTL, GradNorm, CRMOGM, RandomWeighting, PCD,
    # loss-based methods
    DWA, UncertaintyWeighting, RLW, GLS, FAMO, STCH, IMTLL, PBI, UWSO, IGB, GO4Align, CoVWeighting, LDCMTL,
)


@hookimpl
def mtlkit_register_aggregators(register: Callable[..., None]) -> None:
    for cls in BUILTIN_AGGREGATORS:
        register(cls)
