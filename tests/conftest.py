"""Fixtures shared by tests/mtlkit, tests/dancegen and tests/test_docs.py: the two wheels that ``make dist`` builds,
and a headless Chromium driven over the DevTools protocol (``chromium``).

``built_wheels`` builds them once per test process, with the Makefile's command (``pip wheel --no-deps
--no-build-isolation``, both projects in one call), from a copy of the sources in the repository's layout, so that
no ``build/`` or ``*.egg-info`` folder is written into the checkout and no stale build output can get in. The
tests that use it share the xdist group ``"wheel"``, so under ``pytest -n 2 --dist loadgroup`` one worker builds
the wheels once for all of them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MTLKIT_PROJECT = Path("packaging") / "mtlkit"  # the mtlkit distribution's project folder, relative to ROOT
#: What the gcdance project (the root pyproject.toml) builds from, besides the dancegen/ package.
GCDANCE_FILES = ("pyproject.toml", "README.md", "LICENSE")


@dataclass(frozen=True)
class Wheels:
    """The built wheels: ``mtlkit-*.whl`` (mtlkit/ only) and ``gcdance-*.whl`` (dancegen/ only), and ``src``, the
    copy of the sources they were built from (the repository's layout; compare with it, not with the checkout,
    which may change while the tests run)."""

    mtlkit: Path
    gcdance: Path
    src: Path


def _ignore_outputs(folder: str, names: list[str]) -> set[str]:
    """Build outputs and byte code are not copied (``__pycache__`` is planted again below, on purpose)."""
    return {n for n in names if n in {"build", "__pycache__", ".pytest_cache"} or n.endswith((".egg-info", ".pyc"))}


def build_wheels(dest: Path) -> Wheels:
    """Build both wheels into ``dest / "wheels"`` from a copy of the sources under ``dest / "src"``."""
    src = dest / "src"
    shutil.copytree(ROOT / MTLKIT_PROJECT, src / MTLKIT_PROJECT, ignore=_ignore_outputs)  # LICENSE symlink → file
    shutil.copytree(ROOT / "mtlkit", src / "mtlkit", ignore=_ignore_outputs)
    shutil.copytree(ROOT / "dancegen", src / "dancegen", ignore=_ignore_outputs)
    for name in GCDANCE_FILES:
        shutil.copy2(ROOT / name, src / name)
    # A checkout that has run anything holds byte code: plant some, so the wheel tests show it stays out.
    for package in ("mtlkit", "dancegen"):
        (src / package / "__pycache__").mkdir()
        (src / package / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\x00" * 16)
    out = dest / "wheels"
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out),
           str(src / MTLKIT_PROJECT), str(src)]
    proc = subprocess.run(cmd, cwd=dest, env=env, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        pytest.fail(f"building the wheels failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                    f"{(proc.stdout + proc.stderr)[-4000:]}", pytrace=False)
    found = {name: sorted(out.glob(f"{name}-*.whl")) for name in ("mtlkit", "gcdance")}
    assert all(len(w) == 1 for w in found.values()), f"expected one wheel of each in {out}: {found}"
    return Wheels(mtlkit=found["mtlkit"][0], gcdance=found["gcdance"][0], src=src)


@pytest.fixture(scope="session")
def built_wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    """Both wheels of ``make dist``, built once per test process."""
    return build_wheels(tmp_path_factory.mktemp("dist"))


# ------------------------------------------------------------------------------------------ headless Chromium


def find_chromium() -> str | None:
    """Debian's ``/usr/bin/chromium`` (``scripts/install_chromium.sh``) or another Chromium/Chrome on PATH."""
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class DevTools:
    """A minimal Chrome DevTools Protocol client for one page; console errors and exceptions are collected in
    ``errors``."""

    def __init__(self, exe: str, profile: Path, extra_args: tuple[str, ...] = ()) -> None:
        websocket = pytest.importorskip("websocket", reason="the websocket-client package drives Chromium")
        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", *extra_args, "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1", "about:blank"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ws = None
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                pytest.fail(f"chromium did not start (exit code {self.proc.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0
        self.errors: list[str] = []
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")

    def _event(self, msg: dict) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(params["exceptionDetails"])[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(json.dumps(params["args"])[:500])
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(params["entry"]["text"])

    def call(self, method: str, **params: object) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            self._event(msg)

    def js(self, expression: str, await_promise: bool = False) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=await_promise)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, ready: str = "true", timeout: float = 60.0) -> None:
        """Navigate to ``url`` and wait until it has loaded and the JavaScript expression ``ready`` is true."""
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        check = f"location.href === {json.dumps(url)} && document.readyState === 'complete' && ({ready})"
        while not self.js(check):
            assert time.monotonic() < deadline, f"{url} did not finish loading"
            time.sleep(0.05)

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., DevTools]]:
    """``chromium(*extra_args)`` starts a headless Chromium (closed after the module); skips without one."""
    exe = find_chromium()
    if exe is None:
        pytest.skip("Chromium is not installed (run scripts/install_chromium.sh or apt-get install chromium)")
    started: list[DevTools] = []

    def start(*extra_args: str) -> DevTools:
        started.append(DevTools(exe, tmp_path_factory.mktemp("chromium-profile"), extra_args))
        return started[-1]

    yield start
    for tools in started:
        tools.close()


# ---------------------------------------------------------------------------------------------- a fresh venv
#: The Makefile's torch pin; pip's configuration may point at a local wheel of it.
TORCH = "torch==2.13.0"


def _tail(text: str, n: int = 40) -> str:
    lines = [line for line in text.splitlines() if not line.startswith("WARNING: Location ")]  # pip index noise
    return "\n".join(lines[-n:])


class FreshVenv:
    """A new virtual environment under ``root`` (``root/venv``), its processes run in ``root/work`` (outside the
    repository) with an environment that adds nothing to ``sys.path`` (pip's own configuration is kept)."""

    def __init__(self, root: Path) -> None:
        self.dir, self.work = root / "venv", root / "work"
        self.work.mkdir(parents=True)
        self.run([sys.executable, "-m", "venv", str(self.dir)], "creating the virtual environment")
        self.bin = self.dir / ("Scripts" if os.name == "nt" else "bin")
        self.python = self.bin / "python"

    @staticmethod
    def env(**extra: str) -> dict[str, str]:
        """This process's environment without what would reach into the checkout, plus ``extra``."""
        env = {k: v for k, v in os.environ.items() if k not in {
            "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "MTLKIT_LOAD_PLUGINS",
            "PYTHONDONTWRITEBYTECODE"}}
        env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
        return env

    def run(self, cmd: list[str | Path], what: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
        """Run ``cmd`` in ``work``; its stdout, or the test fails with the output's tail."""
        proc = subprocess.run([str(c) for c in cmd], cwd=self.work, env=env or self.env(), capture_output=True,
                              text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            pytest.fail(f"{what} failed (exit {proc.returncode}): {' '.join(map(str, cmd))}\n"
                        f"{_tail(proc.stdout + proc.stderr)}", pytrace=False)
        return proc.stdout

    def pip_install(self, *args: str | Path, probe: str) -> None:
        """``pip install --no-compile ARGS`` (byte code is written on first import instead: compiling all of torch
        would double the time); when it fails because the package index cannot be reached — ``pip download
        PROBE`` fails too — skip, and only then."""
        what = f"pip install {' '.join(Path(a).name if isinstance(a, Path) else a for a in args)}"
        cmd = [str(self.python), "-m", "pip", "install", "--no-compile", *map(str, args)]
        proc = subprocess.run(cmd, cwd=self.work, env=self.env(), capture_output=True, text=True, timeout=900,
                              check=False)
        if proc.returncode == 0:
            return
        check = subprocess.run([str(self.python), "-m", "pip", "download", "--no-deps", "-d",
                                str(self.work / "probe"), probe], cwd=self.work, env=self.env(),
                               capture_output=True, text=True, timeout=600, check=False)
        if check.returncode != 0:
            pytest.skip(f"{what}: pip cannot reach the package index (even `pip download {probe}` fails): "
                        f"{_tail(check.stdout + check.stderr, 3)}")
        pytest.fail(f"{what} failed (exit {proc.returncode}) although the package index is reachable:\n"
                    f"{_tail(proc.stdout + proc.stderr)}", pytrace=False)


@pytest.fixture
def fresh_venv(tmp_path: Path) -> FreshVenv:
    """A new virtual environment (see :class:`FreshVenv`) with torch (:data:`TORCH`) and nothing else."""
    venv = FreshVenv(tmp_path)
    venv.pip_install(TORCH, probe="numpy>=1.24")
    return venv
