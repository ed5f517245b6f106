"""mtlkit plugin providing IMTL-G. mtlkit finds it through the ``mtlkit`` entry-point group::

    [project.entry-points.mtlkit]
    imtl = "mtlkit_imtl"
"""

from __future__ import annotations

from collections.abc import Callable

import mtlkit

from ._imtl_g import IMTLG

__all__ = ["IMTLG"]


@mtlkit.hookimpl
def mtlkit_register_aggregators(register: Callable[..., None]) -> None:
    register(IMTLG)
