"""The ``dancegen`` command line as a whole: ``--version``, shell completion, defaults in every ``--help``,
``--json`` on every command (``train`` included: its final summary), commands added by plugins
(``dancegen_register_commands``), and ``dancegen --help`` staying free of torch."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TERMINAL_WIDTH": "300", "NO_COLOR": "1"}
ENV.pop("_DANCEGEN_COMPLETE", None)


def dancegen_exe() -> str:
    """The installed console script (completion is keyed on the program name ``dancegen``)."""
    exe = Path(sys.executable).with_name("dancegen")
    found = str(exe) if exe.is_file() else shutil.which("dancegen")
    if found is None:
        pytest.skip("the dancegen console script is not installed")
    return found


def run(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "dancegen", *args], capture_output=True, text=True,
                          env=env or ENV, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


# -- --version, completion, --help without torch ---------------------------------------------------------------------


def test_version_option_and_subcommand() -> None:
    from typer.testing import CliRunner

    import dancegen
    import mtlkit
    from dancegen.cli import app

    expected = f"dancegen {dancegen.__version__} (mtlkit {mtlkit.__version__})"
    assert run("--version").stdout.strip() == expected
    assert CliRunner().invoke(app, ["version"]).output.strip() == expected
    assert json.loads(CliRunner().invoke(app, ["version", "--json"]).output) == {
        "dancegen": dancegen.__version__, "mtlkit": mtlkit.__version__}


HELP_PROBE = """
import json, sys
sys.argv = ["dancegen", *sys.argv[1:]]
from dancegen.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps({"torch": "torch" in sys.modules, "plugins": "dancegen.plugins" in sys.modules}))
"""


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["generate", "--help"], ["data", "--help"]])
def test_help_does_not_import_torch_or_plugins(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", HELP_PROBE, *args], capture_output=True, text=True, env=ENV,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"torch": False, "plugins": False}


def test_show_completion_bash() -> None:
    proc = subprocess.run([dancegen_exe(), "--show-completion", "bash"], capture_output=True, text=True,
                          env={**ENV, "SHELL": "/bin/bash"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "_dancegen_completion()" in proc.stdout
    assert "complete -o default -F _dancegen_completion dancegen" in proc.stdout
    assert "_DANCEGEN_COMPLETE=complete_bash" in proc.stdout


@pytest.mark.parametrize(("words", "cword", "expected"), [
    ("dancegen gen", 1, ["generate"]),
    ("dancegen data ", 2, ["check", "prepare", "synth"]),
    ("dancegen train --ste", 2, ["--steps"]),
])
def test_completion_protocol(words: str, cword: int, expected: list[str]) -> None:
    env = {**ENV, "_DANCEGEN_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    proc = subprocess.run([dancegen_exe()], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == expected


# -- defaults and --json in every command's --help -------------------------------------------------------------------

ALL_HELP = """
import json
import typer
from typer.testing import CliRunner
from dancegen.cli import app

root = typer.main.get_command(app)
out = {}

def walk(cmd, path):
    sub = getattr(cmd, "commands", None)
    if sub is None:
        params = []
        for p in cmd.params:
            if p.param_type_name != "option" or p.hidden or p.name in ("help",):
                continue
            has_default = isinstance(p.show_default, str) or (
                p.default is not None and not (p.is_flag and not p.default) and p.default != [] and p.default != ())
            shown = p.show_default if isinstance(p.show_default, str) else str(p.default)
            params.append({"opts": p.opts, "default": shown if has_default else None})
        res = CliRunner().invoke(app, [*path, "--help"])
        out[" ".join(path)] = {"exit": res.exit_code, "help": res.output, "params": params}
    else:
        for name, c in sub.items():
            walk(c, [*path, name])

walk(root, [])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def all_help() -> dict[str, dict]:
    proc = subprocess.run([sys.executable, "-c", ALL_HELP], capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_every_command_is_walked(all_help: dict[str, dict]) -> None:
    for name in ("train", "generate", "edit", "evaluate", "ablate", "demo", "plugins", "version", "data check",
                 "data prepare", "data synth"):
        assert name in all_help, sorted(all_help)


def test_every_help_shows_every_default(all_help: dict[str, dict]) -> None:
    missing = []
    for name, info in all_help.items():
        assert info["exit"] == 0, (name, info["help"])
        text = _flat(info["help"])
        for p in info["params"]:
            if p["default"] is None:
                continue
            shown = _flat(p["default"])  # a descriptive default (show_default="…") is shown in parentheses
            if f"[default: {shown}]" not in text and f"[default: ({shown})]" not in text:
                missing.append(f"dancegen {name} {p['opts'][0]} (default {p['default']!r})")
    assert not missing, "defaults not shown in --help:\n" + "\n".join(missing)


def test_every_command_has_json(all_help: dict[str, dict]) -> None:
    without = [name for name, info in all_help.items() if not any("--json" in p["opts"] for p in info["params"])]
    assert not without, f"commands without --json: {without}"


def test_train_help_defaults_are_train_config_defaults() -> None:
    from dancegen.cli.train import DEFAULTS
    from dancegen.train import TrainConfig

    cfg = TrainConfig()
    for name, shown in DEFAULTS.items():
        value = getattr(cfg, name)
        if name == "tasks":
            assert shown.split(" ")[0] == ",".join(value)
        elif name == "cache_dir":
            assert value is None  # the data folder's .dancegen_features
        else:
            assert shown == str(value), name


# -- train: the final summary and --json -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from dancegen.data.synth.writer import build

    root = tmp_path_factory.mktemp("cli_basics") / "synth"
    build(root, songs_per_genre=1, seconds=5.0, genres=["Breaking", "Jazz", "Dai", "Korean"])
    return root


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "--out", str(out), "--music-encoders", "stft", "--genre-controller",
            "label", "--controller-opt", "embedding=onehot", "--tasks", "S,J,V,F", "--preset", "tiny",
            "--batch-size", "2", "--log-every", "1", *extra]


def test_train_json_then_resume_summary(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = run(*train_args(data, out, "--steps", "2", "--json"))
    summary = json.loads(proc.stdout)  # the whole of stdout is one JSON object
    assert summary["steps"] == 2
    assert summary["steps_run"] == 2
    assert summary["aggregator"] == "nash"
    assert summary["tasks"] == ["S", "J", "V", "F"]
    assert set(summary["losses"]) == {"S", "J", "V", "F"}
    assert all(math.isfinite(v) and v >= 0 for v in summary["losses"].values())
    assert set(summary["weights"]) == {"S", "J", "V", "F"}
    ckpt = Path(summary["checkpoint"])
    assert ckpt.is_dir()
    assert ckpt.parent.parent == out
    assert summary["seconds"] >= summary["train_seconds"] > 0
    # the numbers are the run's own: the last metrics.jsonl record
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 2
    assert last["losses"] == summary["losses"]
    assert last["weights"] == summary["weights"]
    assert summary["next"] == f"dancegen generate song.wav --checkpoint {ckpt} --genre Jazz"

    proc = run(*train_args(data, out, "--steps", "3", "--resume", "--no-progress"))
    assert proc.stdout == ""
    err = proc.stderr
    assert "trained   3 steps (1 in this run)" in err
    assert "losses    S " in err
    assert "weights   S " in err
    assert f"checkpoint: {out / 'checkpoints'}" in err
    assert "next      dancegen generate song.wav --checkpoint " in err


# -- commands added by plugins ---------------------------------------------------------------------------------------

PLUGIN = '''
"""A dancegen plugin adding the ``hello`` command (and trying to replace ``version``)."""
import typer

import dancegen.plugins


@dancegen.plugins.hookimpl
def dancegen_register_commands(app: typer.Typer) -> None:
    @app.command()
    def hello(name: str = typer.Option("world", help="Who to greet."), as_json: bool = typer.Option(
            False, "--json", help="JSON output.")) -> None:
        """Greet someone (a plugin's command)."""
        import torch  # heavy imports inside the command, as dancegen's own

        print({"hello": name} if as_json else f"hello {name} (torch {torch.__version__ is not None})")

    @app.command("version")
    def not_version() -> None:
        """A plugin cannot replace a built-in command."""
        print("plugin version")
'''


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory) -> dict[str, str]:
    """An installed plugin distribution (module + dist-info with a ``dancegen`` entry point) on PYTHONPATH."""
    site = tmp_path_factory.mktemp("site")
    (site / "dg_hello_plugin.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "dg_hello_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dg-hello-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[dancegen]\nhello = dg_hello_plugin\n")
    path = os.pathsep.join(p for p in (str(site), ENV.get("PYTHONPATH")) if p)
    return {**ENV, "PYTHONPATH": path}


def test_plugin_command_runs_through_the_cli(installed_plugin: dict[str, str]) -> None:
    proc = run("hello", "--name", "Ada", env=installed_plugin)
    assert proc.stdout.strip() == "hello Ada (torch True)"
    proc = run("version", env=installed_plugin)  # built-in names win (plugins are not even loaded)
    assert proc.stdout.startswith("dancegen ")
    proc = run("nosuch", env=installed_plugin, check=False)
    assert proc.returncode == 2
    assert "No such command 'nosuch'" in proc.stderr
    assert "dancegen_register_commands" in run("--help", env=installed_plugin).stdout  # the epilog


def test_help_with_a_plugin_installed_stays_torch_free(installed_plugin: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, "-c", HELP_PROBE, "--help"], capture_output=True, text=True,
                          env=installed_plugin, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"torch": False, "plugins": False}


RUNTIME = '''
import sys
import typer
import dancegen.plugins
from dancegen.cli import main


class Plugin:
    @dancegen.plugins.hookimpl
    def dancegen_register_commands(self, app):
        greet = typer.Typer(help="Greetings.")

        @greet.command()
        def morning(name: str) -> None:
            """Good morning."""
            print(f"good morning {name}")

        app.add_typer(greet, name="greet")

        @app.command()
        def version() -> None:
            print("plugin version")


dancegen.plugins.register_plugin(Plugin(), name="runtime-plugin")
sys.argv = ["dancegen", *sys.argv[1:]]
main()
'''


def test_plugin_registered_at_run_time(tmp_path: Path) -> None:
    script = tmp_path / "cli.py"
    script.write_text(RUNTIME)

    def go(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=ENV,
                              timeout=300)

    proc = go("greet", "morning", "Bob")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "good morning Bob"
    proc = go("--help")  # plugins already imported in this process: their commands are listed
    assert proc.returncode == 0, proc.stderr
    assert "greet" in proc.stdout
    assert "Greetings." in proc.stdout
    assert "warning: a plugin's command 'version' is ignored" in proc.stderr
    assert "Print the installed dancegen and mtlkit versions." in _flat(proc.stdout)  # the built-in one
