"""``dancegen version`` (also ``dancegen --version``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from . import app


def versions() -> dict[str, str]:
    """The installed dancegen and mtlkit versions (imports mtlkit, hence torch)."""
    import mtlkit

    from .. import __version__

    return {"dancegen": __version__, "mtlkit": mtlkit.__version__}


def version_text() -> str:
    v = versions()
    return f"dancegen {v['dancegen']} (mtlkit {v['mtlkit']})"


@app.command()
def version(
    as_json: Annotated[bool, typer.Option("--json", help="Print the versions as JSON.")] = False,
) -> None:
    """Print the installed dancegen and mtlkit versions."""
    print(json.dumps(versions()) if as_json else version_text())
