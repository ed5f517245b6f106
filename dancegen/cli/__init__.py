"""The ``dancegen`` command line (Typer). Each command group lives in its own module of this package and
imports its heavy dependencies inside the command, so ``dancegen --help`` stays fast.

User errors (:class:`dancegen.errors.DancegenError`, unknown plugin names) print one line and exit 2; dancegen's own
warnings (:class:`dancegen.errors.DancegenWarning`) print one ``warning:`` line each.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import typer

from ..errors import DancegenError, DancegenWarning

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
    """Print ``error: message`` (on one line) to stderr and exit with ``code``."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise SystemExit(code)


_python_show_warning = warnings.showwarning
_shown: set[str] = set()


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    """dancegen's warnings as one ``warning: …`` line (each message once); any other as Python shows it."""
    if not issubclass(category, DancegenWarning):
        _python_show_warning(message, category, filename, lineno, file, line)
        return
    text = " ".join(str(message).split())
    if text not in _shown:
        _shown.add(text)
        typer.echo(f"warning: {text}", err=True)


def main() -> None:
    """Console-script entry point: run the app, turning user errors into one line and exit 2."""
    warnings.showwarning = _show_warning
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
