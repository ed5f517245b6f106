"""``dancegen version``."""

from __future__ import annotations

from . import app


@app.command()
def version() -> None:
    """Print the installed dancegen and mtlkit versions."""
    import mtlkit

    from .. import __version__

    print(f"dancegen {__version__} (mtlkit {mtlkit.__version__})")
