"""The ``dancegen`` command line (Typer). Each command group lives in its own module of this package and
imports its heavy dependencies inside the command, so ``dancegen --help`` stays fast.

User errors (:class:`dancegen.errors.DancegenError`, unknown plugin names) print one line and exit 2; dancegen's own
warnings (:class:`dancegen.errors.DancegenWarning`) print one ``warning:`` line each.
"""

from __future__ import annotations

import sys
import warnings
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ..errors import DancegenError, DancegenWarning


class DancegenGroup(TyperGroup):
    """The root command group. Commands added by plugins (hook ``dancegen_register_commands(app)``) are loaded when
    a name that is not built in is asked for: loading plugins imports torch, which ``dancegen --help`` and the
    built-in commands must not pay for. Once plugins are imported in this process (a script that called
    :func:`dancegen.plugins.register_plugin`), ``--help`` lists their commands too."""

    _plugins_loaded = False

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and self._load_plugin_commands():
            cmd = super().get_command(ctx, cmd_name)
        return cmd

    def list_commands(self, ctx: Any) -> list[str]:
        if "dancegen.plugins" in sys.modules:  # already paid for: list the plugins' commands as well
            self._load_plugin_commands()
        return super().list_commands(ctx)

    def _load_plugin_commands(self) -> bool:
        """Ask every plugin for its commands (once per group); a built-in name is never replaced."""
        if self._plugins_loaded:
            return False
        self._plugins_loaded = True
        from ..plugins import PLUGINS

        plugin_app = typer.Typer(pretty_exceptions_enable=False)
        PLUGINS.get().hook.dancegen_register_commands(app=plugin_app)
        if not (plugin_app.registered_commands or plugin_app.registered_groups):
            return False
        added = False
        for name, cmd in typer.main.get_group(plugin_app).commands.items():
            if name in self.commands:
                warnings.warn(f"a plugin's command {name!r} is ignored: dancegen already has a command of that name",
                              DancegenWarning, stacklevel=1)
                continue
            self.add_command(cmd, name)
            added = True
        return added


app = typer.Typer(
    name="dancegen",
    cls=DancegenGroup,
    help="GCDance: genre-controlled 3D full-body dance generation from music and text.",
    epilog="Plugins can add commands (hook dancegen_register_commands); they run as dancegen NAME.",
    no_args_is_help=True,
    add_completion=True,
    context_settings={"show_default": True},
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from .version import version_text

        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True, expose_value=False,
                                          help="Print the dancegen and mtlkit versions and exit.")] = False,
) -> None:
    """GCDance: genre-controlled 3D full-body dance generation from music and text."""


# Command groups register themselves on `app` when imported (one line each).
from . import ablate as _ablate  # noqa: E402,F401
from . import data as _data  # noqa: E402,F401
from . import demo as _demo  # noqa: E402,F401
from . import evaluate as _evaluate  # noqa: E402,F401
from . import generate as _generate  # noqa: E402,F401
from . import hub as _hub  # noqa: E402,F401
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
