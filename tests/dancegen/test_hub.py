"""Checkpoints on the Hugging Face Hub: ``hf://ORG/NAME`` resolved through huggingface_hub's real offline cache
lookup (a cache laid out as huggingface_hub writes it: blobs linked from ``snapshots/<commit>/``), a pickle in a
snapshot never used, the one-line errors, and ``dancegen export-checkpoint`` (portable config, model card, loads
and generates)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from dancegen.checkpoint import default_checkpoint_dir
from dancegen.errors import DancegenError
from dancegen.hub import ALLOW_PATTERNS, parse_hub_spec, resolve_checkpoint
from dancegen.hub_export import portable_config

pytest.importorskip("huggingface_hub")

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class _Plant:
    """Unpickling this creates the file ``path`` (what a malicious pickle could do)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (Path(self.path), "pickle code ran"))


def fake_hub_cache(home: Path, repo_id: str, source: Path, marker: Path | None = None) -> Path:
    """``$HF_HOME/hub/models--ORG--NAME`` as huggingface_hub lays it out: each file once in ``blobs/``, linked from
    ``snapshots/<commit>/``, ``refs/main`` naming the commit. ``marker``: add a pickle that would create it."""
    repo = home / "hub" / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    files = {p.name: p.read_bytes() for p in source.iterdir() if p.is_file()}
    if marker is not None:
        files["pytorch_model.bin"] = pickle.dumps(_Plant(str(marker)))
    for name, data in files.items():
        blob = hashlib.sha256(data).hexdigest()
        (repo / "blobs" / blob).write_bytes(data)
        (snapshot / name).symlink_to(Path("..", "..", "blobs", blob))
    return snapshot


def hub_env(tmp_path: Path, offline: bool = True) -> dict[str, str]:
    env = {**ENV, "HF_HOME": str(tmp_path / "hf"), "DANCEGEN_CACHE": str(tmp_path / "dancegen-cache")}
    env.pop("HF_HUB_CACHE", None)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def run(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *map(str, args)], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import numpy as np
    import soundfile as sf

    from dancegen.data.synth.music import synthesize
    from dancegen.data.synth.styles import STYLES

    song = synthesize(STYLES["Jazz"].music, 4.0, 22050, np.random.default_rng(0))
    path = tmp_path_factory.mktemp("hub-song") / "song.wav"
    sf.write(path, song.audio, song.sr)
    return path


def test_spec_parsing() -> None:
    assert parse_hub_spec("hf://acme/tiny-dance") == ("acme/tiny-dance", None)
    assert parse_hub_spec("hf://acme/tiny.dance_2@v1.0") == ("acme/tiny.dance_2", "v1.0")
    assert parse_hub_spec(Path("hf://acme/tiny-dance@main")) == ("acme/tiny-dance", "main")  # "hf:/" after pathlib
    for bad in ("hf://acme", "hf://acme/a/b", "hf://acme/../x", "hf://-x/y", "hf://acme/x@"):
        with pytest.raises(DancegenError, match="expected hf://ORG/NAME"):
            parse_hub_spec(bad)
    assert resolve_checkpoint("~/runs/x") == Path.home() / "runs" / "x"  # a local path is passed through


def test_hf_checkpoint_from_the_offline_cache_generates_and_never_reads_the_pickle(tmp_path: Path,
                                                                                   song: Path) -> None:
    marker = tmp_path / "PWNED"
    fake_hub_cache(tmp_path / "hf", "acme/tiny-dance", default_checkpoint_dir(), marker=marker)
    env = hub_env(tmp_path)
    proc = run("-m", "dancegen", "generate", song, "--checkpoint", "hf://acme/tiny-dance", "--genre", "Jazz",
               "--steps", "1", "--format", "npz", "--out", tmp_path / "dance", "--json", "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["frames"] == 120
    assert Path(summary["files"]["0"]["npz"]).is_file()
    assert not marker.exists()
    view = tmp_path / "dancegen-cache" / "hub" / "acme--tiny-dance" / COMMIT
    assert sorted(p.name for p in view.iterdir()) == sorted(p.name for p in default_checkpoint_dir().iterdir()
                                                            if p.suffix in (".json", ".safetensors"))
    assert not any(p.is_symlink() for p in view.iterdir())
    # the Python API, a pinned revision, and the same cached view again
    code = ("from dancegen.pipeline import DancePipeline; from dancegen.features.audio import load_audio; "
            f"pipe = DancePipeline.from_pretrained('hf://acme/tiny-dance@{COMMIT}'); "
            f"a, sr = load_audio({str(song)!r}); print(tuple(pipe(a, sr, genre='Dai', steps=1).motion.shape))")
    api = run("-c", code, env=env)
    assert api.returncode == 0, api.stderr
    assert api.stdout.strip() == "(1, 120, 319)"
    assert not marker.exists()


def test_hf_checkpoint_offline_and_not_cached_is_one_line(tmp_path: Path, song: Path) -> None:
    proc = run("-m", "dancegen", "generate", song, "--checkpoint", "hf://acme/not-here", "--genre", "Jazz",
               "--out", tmp_path / "dance", env=hub_env(tmp_path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: hf://acme/not-here is not in the Hugging Face cache")
    assert "HF_HUB_OFFLINE" in lines[0]
    assert "pass its path to --checkpoint" in lines[0]
    assert "HF_HOME" in lines[0]
    assert not (tmp_path / "dance").exists()


def test_only_safetensors_json_and_text_are_downloaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub
    from huggingface_hub.utils import filter_repo_objects

    snapshot = fake_hub_cache(tmp_path / "hf", "acme/tiny-dance", default_checkpoint_dir())
    calls = []

    def fake_download(repo_id: str, **kwargs: object) -> str:
        calls.append((repo_id, kwargs))
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    monkeypatch.setenv("DANCEGEN_CACHE", str(tmp_path / "cache"))
    folder = resolve_checkpoint("hf://acme/tiny-dance@v2")
    assert (folder / "config.json").is_file()
    (repo_id, kwargs), = calls
    assert (repo_id, kwargs["revision"]) == ("acme/tiny-dance", "v2")
    assert kwargs["allow_patterns"] == ALLOW_PATTERNS
    repo_files = ["config.json", "model.safetensors", "ema.safetensors", "README.md", "pytorch_model.bin",
                  "model.pt", "model.ckpt", "optimizer.pkl", "sub/weights.pth", "sub/tokenizer.json"]
    assert sorted(filter_repo_objects(repo_files, allow_patterns=kwargs["allow_patterns"])) == [
        "README.md", "config.json", "ema.safetensors", "model.safetensors", "sub/tokenizer.json"]


def test_missing_huggingface_hub_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(DancegenError, match=r"pip install 'gcdance\[hub\]'"):
        resolve_checkpoint("hf://acme/tiny-dance")


def test_a_link_leaving_the_cache_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub

    from dancegen.errors import UnsafeFileError

    snapshot = fake_hub_cache(tmp_path / "hf", "acme/tiny-dance", default_checkpoint_dir())
    (tmp_path / "secret.json").write_text("{}")
    (snapshot / "extra.json").symlink_to(tmp_path / "secret.json")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kw: str(snapshot))
    monkeypatch.setenv("DANCEGEN_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UnsafeFileError, match="leads outside its cache folder"):
        resolve_checkpoint("hf://acme/tiny-dance")


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_export_checkpoint_is_portable_documented_and_loads(tmp_path: Path, song: Path) -> None:
    import yaml

    from dancegen.features.audio import load_audio
    from dancegen.pipeline import DancePipeline

    source = tmp_path / "ckpt"
    shutil.copytree(default_checkpoint_dir(), source)
    config = json.loads((source / "config.json").read_text())
    config["train"]["data"] = config["data"]["dir"] = "/home/someone/data/finedance-v2"
    config["train"]["out"] = str(tmp_path / "runs" / "x")
    config["train"]["cache_dir"] = str(source / "features")  # inside the checkpoint: made relative
    (source / "config.json").write_text(json.dumps(config))
    (source / "optimizer.json").write_text("{}")  # training state: not exported
    (source / "notes.pkl").write_bytes(b"\x80\x04N.")  # a pickle: not exported
    (source / "tokenizer").mkdir()  # a folder the config may name (e.g. a text encoder's files)
    (source / "tokenizer" / "tokenizer_config.json").write_text(json.dumps({"name_or_path": "/home/someone/minilm"}))
    report = {"protocol": {"name": "gcdance", "metrics": ["fid_k", "bas"], "gt_split": "test", "whole_song": False},
              "generated": {"repeats": 2, "metrics": {"fid_k": {"mean": 31.5, "std": 1.25},
                                                      "bas": {"mean": 0.2345, "std": 0.01}}},
              "gt_row": {"metrics": {"fid_k": 17.0, "bas": 0.25}}, "gt_set": {"clips": 40}}
    (source / "evaluation.json").write_text(json.dumps(report))
    out = tmp_path / "export"
    proc = run("-m", "dancegen", "export-checkpoint", source, out, "--repo-id", "acme/tiny-dance", "--license",
               "mit", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert "hf upload acme/tiny-dance" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "ema.safetensors",
                                                     "model.safetensors", "normalizer.safetensors", "tokenizer"]
    assert json.loads((out / "tokenizer" / "tokenizer_config.json").read_text()) == {"name_or_path": None}
    for path in out.rglob("*.json"):
        for s in _strings(json.loads(path.read_text())):
            assert not PurePosixPath(s).is_absolute(), s
            assert not PureWindowsPath(s).is_absolute(), s
            assert not s.startswith("~"), s
    exported = json.loads((out / "config.json").read_text())
    assert exported["train"]["data"] is None
    assert exported["data"]["dir"] is None
    assert exported["train"]["out"] is None
    assert exported["train"]["cache_dir"] == "features"
    assert exported["model"] == config["model"]

    card = (out / "README.md").read_text()
    assert card.startswith("---\n")
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["library_name"] == "dancegen"
    assert front["license"] == "mit"
    assert {"dancegen", "music-to-dance"} <= set(front["tags"])
    for heading in ("## Model", "## Training data", "## Metrics", "## How to use"):
        assert heading in card
    for summary in ("`baseline35`", "`text`", "`nash`", "finedance-v2", config["data"]["fingerprint"]):
        assert summary in card  # encoders, controller, aggregator, training data
    assert "| FID_k ↓ | 17.00 | 31.50 ± 1.25 |" in card
    assert "dancegen generate song.wav --checkpoint hf://acme/tiny-dance" in card
    assert "/home/someone" not in card
    assert str(tmp_path) not in card

    pipe = DancePipeline.from_checkpoint(out)
    audio, sr = load_audio(song)
    assert tuple(pipe(audio, sr, genre="Jazz", steps=1).motion.shape) == (1, 120, 319)

    again = run("-m", "dancegen", "export-checkpoint", source, out, env=ENV)  # never over an earlier export
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [f"error: {out} is not empty; export into a new or empty folder"]


def test_portable_config_relativises_or_drops_machine_paths(tmp_path: Path) -> None:
    config = {"a": str(tmp_path / "ck" / "head.safetensors"), "b": ["~/x", "C:\\data"], "c": "relative/ok", "d": 3}
    portable, dropped = portable_config(config, tmp_path / "ck")
    assert portable == {"a": "head.safetensors", "b": [None, None], "c": "relative/ok", "d": 3}
    assert dropped == ["b[0]", "b[1]"]
