"""gcdance as a distribution: the wheel ``make dist`` builds holds dancegen/ with its assets, py.typed and LICENSE,
and nothing else (no tests, no byte code, no path of the machine that built it or trained the bundled model); its
metadata names the license, the classifiers, the project URLs and every extra; and, installed with the mtlkit
wheel into a fresh virtual environment (torch first, the rest from the package index), ``pip check`` passes,
``dancegen --help`` answers quickly and ``dancegen demo`` runs to completion from a folder outside the repository.

The wheels come from ``tests/conftest.py`` (``built_wheels``, shared with tests/mtlkit/test_wheel.py in the xdist
group ``"wheel"``). The demo runs on a 4-s synthesised song with 2 DDIM steps (``--seconds 4 --steps 2``: one
window, the shortest the demo makes) and ``gcdance[video]``, so it writes all of its formats, mp4 included. The
demo test took 95 s on a shared 2-core machine (load 2; pip with a warm cache and ``--no-compile`` about half of
it, the demo's first run, where numba compiles librosa's kernels, most of the rest), and several times that when
the machine is overloaded.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "dancegen" / "assets"
COMMANDS = ("demo", "generate", "edit", "train", "evaluate", "ablate", "data", "plugins", "version")
DEMO_FORMATS = {"npz": "motion.npz", "bvh": "dance.bvh", "html": "dance.html", "mp4": "dance.mp4"}
HELP_SECONDS = 3.0  # `dancegen --help`, best of three runs: imports nothing heavy (no torch)

#: Absolute paths of a machine: POSIX home, scratch and temporary folders, and Windows drive paths (``C:\`` or,
#: inside JSON, ``C:\\``). A path must start a word: ``https://host/home/`` is a URL, not a path.
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|home|tmp|root|Users|mnt|scratch)/|(?<![\w])[A-Za-z]:\\")


def _project(root: Path) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def machine_paths(name: str, data: bytes) -> list[str]:
    """Absolute machine paths in a file's bytes, each with a little context. Of a safetensors file only the JSON
    header (names and metadata) is text: its tensor bytes are not searched."""
    if name.endswith(".safetensors"):
        size = int.from_bytes(data[:8], "little")
        data = data[8 : 8 + size]
    text = data.decode("utf-8", errors="replace")
    return [f"{name}: …{text[max(0, m.start() - 40) : m.end() + 40]!r}…" for m in MACHINE_PATH.finditer(text)]


def test_the_path_scan_finds_machine_paths():
    assert machine_paths("config.json", b'{"data": "/work/runs/x", "out": "/home/me/runs"}')
    assert machine_paths("config.json", b'{"data": "C:\\\\Users\\\\me\\\\data"}')
    assert machine_paths("notes.txt", b"trained in C:\\runs\\x and /tmp/abc")
    header = json.dumps({"__metadata__": {"source": "/tmp/run/ckpt"}}).encode()
    assert machine_paths("w.safetensors", len(header).to_bytes(8, "little") + header + b"C:\\" * 8)
    assert not machine_paths("w.safetensors", (2).to_bytes(8, "little") + b"{}" + b"x/tmp/ C:\\")
    assert not machine_paths("doc.md", b"see https://example.org/home/page, ~/.cache/dancegen, runs/nash, a/tmp/b")


def test_bundled_assets_carry_no_machine_paths():
    """The files under dancegen/assets (the default model, the genre head, the descriptions) name no folder of
    the machine that made them: the bundled model's config.json has null data/out folders."""
    files = [p for p in ASSETS.rglob("*") if p.is_file()]
    assert any(p.name == "config.json" for p in files), f"no bundled model under {ASSETS}"
    found = [hit for p in files for hit in machine_paths(p.relative_to(ROOT).as_posix(), p.read_bytes())]
    assert not found, "machine paths in the package's assets:\n" + "\n".join(found)
    cfg = json.loads((ASSETS / "default_model" / "config.json").read_text(encoding="utf-8"))
    recorded = {"train.data": cfg["train"]["data"], "train.out": cfg["train"]["out"], "data.dir": cfg["data"]["dir"]}
    assert recorded == dict.fromkeys(recorded), recorded


# ---------------------------------------------------------------------------------------------- the wheel
def _metadata(text: str) -> dict[str, list[str]]:
    """METADATA's header fields (the part before the long description), each a list of values."""
    fields: dict[str, list[str]] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value.strip())
    return fields


@pytest.mark.slow
@pytest.mark.xdist_group("wheel")
def test_gcdance_wheel_contents_and_metadata(built_wheels):
    src = built_wheels.src  # the copy of the checkout the wheels were built from
    project = _project(src)
    version = project["version"]
    wheel = built_wheels.gcdance
    dist_info = f"gcdance-{version}.dist-info/"
    assert wheel.name.startswith(f"gcdance-{version}-py3-none-any"), wheel.name
    with zipfile.ZipFile(wheel) as zf:
        contents = {name: zf.read(name) for name in zf.namelist() if not name.endswith("/")}
    names = set(contents)

    stray = sorted(n for n in names if not n.startswith(("dancegen/", dist_info)))
    assert not stray, f"the gcdance wheel holds files outside dancegen/ (mtlkit is its own wheel): {stray}"
    sources = {p.relative_to(src).as_posix() for p in (src / "dancegen").rglob("*.py") if "__pycache__" not in p.parts}
    missing = sorted(sources - names)
    assert not missing, f"the gcdance wheel lacks {missing} (a subpackage without __init__.py?)"
    assert "dancegen/py.typed" in names, "the gcdance wheel lacks dancegen/py.typed"
    assets = {p.relative_to(src).as_posix(): p.read_bytes()
              for p in (src / "dancegen" / "assets").rglob("*") if p.is_file()}
    for required in ("default_model/config.json", "default_model/ema.safetensors", "default_model/model.safetensors",
                     "default_model/normalizer.safetensors", "genre_head_minilm.safetensors",
                     "genre_descriptions.json"):
        assert f"dancegen/assets/{required}" in assets, f"dancegen/assets/{required} is missing from the sources"
    differ = sorted(n for n, data in assets.items() if contents.get(n) != data)
    assert not differ, f"assets missing from the wheel or different there: {differ}"
    assert contents.get(dist_info + "licenses/LICENSE") == (src / "LICENSE").read_bytes(), \
        "the gcdance wheel's LICENSE is missing or differs"
    junk = sorted(n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))
                  or re.search(r"(^|/)(tests?|conftest\.py|test_[^/]*\.py)($|/)", n))
    assert not junk, f"byte code or tests in the gcdance wheel: {junk}"
    found = [hit for name, data in sorted(contents.items()) for hit in machine_paths(name, data)]
    assert not found, "machine paths in the gcdance wheel:\n" + "\n".join(found)

    meta = _metadata(contents[dist_info + "METADATA"].decode())
    assert (meta["Name"], meta["Version"]) == (["gcdance"], [version]), meta
    assert meta.get("License-Expression") == [project["license"]], meta.get("License-Expression")
    assert meta.get("License-File") == ["LICENSE"], meta.get("License-File")
    assert meta.get("Requires-Python") == [project["requires-python"]]
    assert meta.get("Description-Content-Type") == ["text/markdown"]
    classifiers = meta.get("Classifier", [])
    assert classifiers == project["classifiers"], classifiers
    assert {"Typing :: Typed", *(f"Programming Language :: Python :: 3.{m}" for m in (10, 11, 12, 13))
            } <= set(classifiers), classifiers
    urls = dict(u.split(", ", 1) for u in meta.get("Project-URL", []))
    assert {"Homepage", "Documentation", "Issues"} <= urls.keys(), urls
    assert all(u.startswith("https://") for u in urls.values()), urls
    requires = [r.replace(" ", "").replace("'", '"') for r in meta.get("Requires-Dist", [])]
    assert 'tomli>=2;python_version<"3.11"' in requires, requires
    mtlkit_version = re.search(r"mtlkit-([^-]+)-", built_wheels.mtlkit.name).group(1)
    assert f"mtlkit=={mtlkit_version}" in requires, f"gcdance must pin the mtlkit it is built with: {requires}"
    assert set(meta.get("Provides-Extra", [])) == set(project["optional-dependencies"]), meta.get("Provides-Extra")
    entry_points = contents[dist_info + "entry_points.txt"].decode()
    assert re.search(r"^dancegen\s*=\s*dancegen\.cli:main$", entry_points, re.M), entry_points


@pytest.mark.slow
@pytest.mark.xdist_group("wheel")
def test_gcdance_wheel_runs_the_demo_in_a_fresh_venv(tmp_path, fresh_venv, built_wheels):
    venv, work = fresh_venv, fresh_venv.work  # tests/conftest.py: a new venv with only torch; work: outside the repo
    venv.pip_install(built_wheels.mtlkit, f"{built_wheels.gcdance}[video]", probe="typer>=0.12")
    venv.run([venv.python, "-m", "pip", "check"], "pip check")

    # dancegen runs with its caches in tmp_path and offline: the wheel alone must be enough.
    run_env = venv.env(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                       XDG_CACHE_HOME=str(tmp_path / "cache"), HF_HOME=str(tmp_path / "hf"),
                       NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    where = json.loads(venv.run([venv.python, "-c", "import json, dancegen, mtlkit; print(json.dumps(["
                                 "dancegen.__file__, mtlkit.__file__]))"], "importing dancegen and mtlkit", run_env))
    for path in where:
        assert Path(path).resolve().is_relative_to(venv.dir.resolve()), f"imported {path}, not from the venv"

    dancegen = venv.bin / "dancegen"
    seconds = []
    for _ in range(3):
        t0 = time.perf_counter()
        help_text = venv.run([dancegen, "--help"], "dancegen --help", run_env, timeout=120)
        seconds.append(time.perf_counter() - t0)
    missing = [c for c in COMMANDS if not re.search(rf"^\W*{c}\s", help_text, re.M)]
    assert not missing, f"dancegen --help does not list {missing}:\n{help_text}"
    assert min(seconds) < HELP_SECONDS, f"dancegen --help took {min(seconds):.2f} s (best of 3: {seconds})"

    t0 = time.perf_counter()
    summary = json.loads(venv.run([dancegen, "demo", "--out", "out", "--seconds", "4", "--steps", "2", "--json"],
                                  "dancegen demo", run_env))
    elapsed = time.perf_counter() - t0
    config = built_wheels.src / "dancegen" / "assets" / "default_model" / "config.json"
    digest = hashlib.sha256(config.read_bytes()).hexdigest()[:12]
    assert summary["checkpoint"] == f"default_model-{digest}", summary["checkpoint"]  # the bundled model, as built
    assert (summary["frames"], summary["steps"], summary["genre"]["genre"]) == (120, 2, "Dai"), summary
    assert np.isfinite(summary["bas"]), summary
    assert summary["files"] == {k: f"out/{name}" for k, name in DEMO_FORMATS.items()}, summary["files"]
    out = work / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(DEMO_FORMATS.values()), "the demo left other files"
    with np.load(out / "motion.npz") as npz:
        assert npz["motion_319"].shape == (120, 319)
        assert np.isfinite(npz["motion_319"]).all()
        assert npz["poses"].shape == (120, 165)
        assert str(npz["checkpoint_id"]) == summary["checkpoint"]
        found = [hit for k in npz.files if npz[k].dtype.kind == "U" for hit in machine_paths(k, str(npz[k]).encode())]
    assert (out / "dance.bvh").read_text(encoding="utf-8").startswith("HIERARCHY")
    html = (out / "dance.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "</html>" in html
    assert (out / "dance.mp4").read_bytes()[4:8] == b"ftyp", "dance.mp4 is not an MP4 file"
    found += [hit for p in (out / "dance.html", out / "dance.bvh") for hit in machine_paths(p.name, p.read_bytes())]
    assert not found, "the demo's files name folders of this machine:\n" + "\n".join(found)
    print(f"dancegen demo: {elapsed:.1f} s; --help: best {min(seconds):.2f} s")
