"""mtlkit as its own distribution: the wheel built from packaging/mtlkit holds mtlkit only and, installed into a
fresh virtual environment that has nothing but torch, imports without dancegen's dependencies, runs the README
example and passes the contract suite (``mtlkit.testing.check_aggregator``, no pytest) for every aggregator.

Everything in the fresh environment runs from a folder outside the repository, so the source tree cannot be
imported by accident. torch is installed with ``pip install torch==2.13.0`` (the Makefile's pin); where pip's
configuration points at a local wheel (``--find-links``) that takes about 30 s, the whole test about a minute.
"""

from __future__ import annotations

import ast
import json
import re
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Path("packaging") / "mtlkit"  # the mtlkit distribution's project folder, relative to ROOT
REQUIRES = {"torch", "numpy", "pluggy"}
NOT_ALLOWED = {"gcdance", "dancegen", "librosa", "transformers", "scipy", "pytest"}
README_START = ">>> import torch, mtlkit"

README_RUNNER = """\
import doctest, sys
failed, attempted = doctest.testfile(sys.argv[1], module_relative=False, optionflags=doctest.ELLIPSIS)
print(f"README example: {attempted} examples, {failed} failed")
sys.exit(1 if failed or not attempted else 0)
"""

CONTRACT_RUNNER = """\
import json, sys
import mtlkit, mtlkit.testing
infos = mtlkit.list_aggregators()
print(json.dumps({
    "file": mtlkit.__file__,
    "version": mtlkit.__version__,
    "origins": {info.name: info.origin for info in infos},
    "failures": {info.name: mtlkit.testing.check_aggregator(info.name) for info in infos},
    "pytest_imported": "pytest" in sys.modules,
}))
"""


def _source_version() -> str:
    """``mtlkit.__version__`` read from the source without importing it."""
    tree = ast.parse((ROOT / "mtlkit" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("mtlkit/__init__.py defines no __version__")


def _readme_example() -> str:
    """The first ```python block of README.md that starts with ``>>> import torch, mtlkit``."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "```python" and i + 1 < len(lines) and lines[i + 1].startswith(README_START):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
            assert end is not None, "README.md: the mtlkit example's ```python block is not closed"
            return "\n".join(lines[i + 1 : end]) + "\n"
    raise AssertionError(f"README.md has no ```python block starting with {README_START!r}")


def _check_wheel_contents(wheel: Path, version: str, src: Path = ROOT) -> None:
    """``src``: the sources the wheel was built from (tests/conftest.py's copy of the checkout)."""
    dist_info = f"mtlkit-{version}.dist-info/"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(dist_info + "METADATA").decode()
        license_text = zf.read(dist_info + "licenses/LICENSE") if dist_info + "licenses/LICENSE" in names else None
    assert wheel.name.startswith(f"mtlkit-{version}-"), f"{wheel.name}: version is not mtlkit.__version__ {version}"
    stray = sorted(n for n in names if not n.startswith(("mtlkit/", dist_info)))
    assert not stray, f"the mtlkit wheel holds files outside mtlkit/: {stray}"
    sources = {p.relative_to(src).as_posix() for p in (src / "mtlkit").rglob("*.py") if "__pycache__" not in p.parts}
    missing = sorted(sources - names)
    assert not missing, f"the mtlkit wheel lacks {missing} (a subpackage not listed in {PROJECT}/pyproject.toml?)"
    assert "mtlkit/py.typed" in names, "the mtlkit wheel lacks mtlkit/py.typed"
    assert license_text == (src / "LICENSE").read_bytes(), "the mtlkit wheel's LICENSE is missing or differs"
    requires = {re.split(r"[\s<>=!~;\[]", line.split(":", 1)[1].strip())[0].lower()
                for line in metadata.splitlines() if line.startswith("Requires-Dist:")}
    assert requires == REQUIRES, f"mtlkit must require only {sorted(REQUIRES)}, its METADATA says {sorted(requires)}"


def test_gcdance_requires_this_mtlkit():
    """gcdance (the root pyproject) pins mtlkit to mtlkit.__version__, and holds no mtlkit package itself."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    deps = [d.replace(" ", "") for d in project["project"]["dependencies"]]
    assert f"mtlkit=={_source_version()}" in deps, f"gcdance must require mtlkit=={_source_version()}: {deps}"
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not [p for p in include if p.startswith("mtlkit")], f"gcdance must not package mtlkit: {include}"


@pytest.mark.slow
@pytest.mark.xdist_group("wheel")
def test_mtlkit_wheel_works_alone_in_a_fresh_venv(fresh_venv, built_wheels):
    version = _source_version()
    wheel = built_wheels.mtlkit  # tests/conftest.py: built once, with the gcdance wheel, as `make dist` does
    _check_wheel_contents(wheel, version, built_wheels.src)

    venv = fresh_venv  # tests/conftest.py: a new venv with only torch, run outside the repository
    env = venv.env(PYTHONDONTWRITEBYTECODE="1")
    venv.pip_install(wheel, probe="pluggy>=1.3")
    py, work = venv.python, venv.work

    installed = {d["name"].lower().replace("_", "-"): d["version"]
                 for d in json.loads(venv.run([str(py), "-m", "pip", "list", "--format=json"], "pip list", env))}
    assert not NOT_ALLOWED & installed.keys(), f"installing mtlkit brought in {sorted(NOT_ALLOWED & installed.keys())}"
    assert installed.get("mtlkit") == version, f"pip list: {installed}"
    assert installed.keys() >= REQUIRES, f"pip list: {installed}"

    (work / "readme_example.txt").write_text(_readme_example(), encoding="utf-8")
    (work / "run_readme.py").write_text(README_RUNNER, encoding="utf-8")
    venv.run([str(py), "run_readme.py", "readme_example.txt"], "the README's mtlkit example (doctest)", env)

    (work / "run_contract.py").write_text(CONTRACT_RUNNER, encoding="utf-8")
    report = json.loads(venv.run([str(py), "run_contract.py"], "the contract suite", env).splitlines()[-1])
    imported_from = Path(report["file"]).resolve()
    assert imported_from.is_relative_to(venv.dir.resolve()), f"mtlkit was imported from {imported_from}, not the venv"
    assert report["version"] == version
    assert not report["pytest_imported"], "mtlkit.testing.check_aggregator imported pytest"
    assert {"nash", "aligned", "pcgrad", "linear"} <= report["origins"].keys(), report["origins"]
    foreign = {name: origin for name, origin in report["origins"].items() if origin != "built-in"}
    assert not foreign, f"aggregators from outside the mtlkit wheel: {foreign}"
    failing = {name: problems for name, problems in report["failures"].items() if problems}
    assert not failing, "contract violations in the installed wheel:\n" + "\n".join(
        f"{name}: {problem}" for name, problems in failing.items() for problem in problems)
