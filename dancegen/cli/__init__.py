"""The ``dancegen`` command line (Typer). Each command group lives in its own module of this package and
imports its heavy dependencies inside the command, so ``dancegen --help`` stays fast.

User errors (:class:`dancegen.errors.DancegenError`, unknown plugin names) print one line and exit 2.
"""

from __future__ import annotations

import sys

import typer

from ..errors import DancegenError

app = typer.Typer(
    name="dancegen",
    help="GCDance: genre-controlled 3D full-body dance generation from music and text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """GCDance: genre-controlled 3D full-body dance generation from music and text."""


# Command groups register themselves on `app` when imported (one line each).
from . import ablate as _ablate  # noqa: E402,F401
from . import data as _data  # noqa: E402,F401
from . import demo as _demo  # noqa: E402,F401
from . import evaluate as _evaluate  # noqa: E402,F401
from . import generate as _generate  # noqa: E402,F401
from . import plugins as _plugins  # noqa: E402,F401
from . import synth as _synth  # noqa: E402,F401
from . import train as _train  # noqa: E402,F401
from . import version as _version  # noqa: E402,F401


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` to stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def main() -> None:
    """Console-script entry point: run the app, turning user errors into one line and exit 2."""
    try:
        app()
    except DancegenError as exc:
        fail(str(exc), exc.exit_code)
    except KeyError as exc:  # the plugin registries' UnknownNameError (imported late: it pulls in torch)
        from mtlkit.registry import UnknownNameError

        if not isinstance(exc, UnknownNameError):
            raise
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
