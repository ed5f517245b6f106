"""mtlkit plugin providing EPO search (Mahapatra & Rajan, ICML 2020). mtlkit finds it through the ``mtlkit``
entry-point group::

    [project.entry-points.mtlkit]
    imtl = "mtlkit_imtl"

(The package and entry point keep their first names: this plugin provided IMTL-G until IMTL-G became the
built-in ``imtl``; ``mtlkit_imtl.IMTLG`` still imports that built-in class for old code.)
"""

from __future__ import annotations

from collections.abc import Callable

import mtlkit
from mtlkit._imtl import IMTLG  # noqa: F401 - moved into mtlkit (registered there as "imtl"), kept importable

from ._epo import EPO

__all__ = ["EPO"]


@mtlkit.hookimpl
def mtlkit_register_aggregators(register: Callable[..., None]) -> None:
    register(EPO)
