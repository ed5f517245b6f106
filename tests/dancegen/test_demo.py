"""The bundled default model and ``dancegen demo``: real loads, real sampling (few DDIM steps), real subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dancegen.demo import BUNDLED_DIR, BUNDLED_NOTICE, package_checkpoint, retrain, shifted_beats, synth_song
from dancegen.errors import DancegenError

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
       "TRANSFORMERS_OFFLINE": "1"}


def dancegen(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dancegen", *map(str, args)], env=ENV, capture_output=True,
                          text=True, timeout=180, cwd=cwd)


def test_bundled_checkpoint_is_small_offline_and_trained() -> None:
    files = {p.name: p.stat().st_size for p in BUNDLED_DIR.iterdir()}
    assert {"config.json", "ema.safetensors", "model.safetensors", "normalizer.safetensors"} <= set(files)
    assert not any(n.startswith(("optimizer", "aggregator", "rng")) for n in files)
    assert sum(files.values()) <= 20 * 2**20
    cfg = json.loads((BUNDLED_DIR / "config.json").read_text())
    assert cfg["music_encoder"]["spec"] == "baseline35"
    assert cfg["music_encoder"].get("allow_random_weights") is False
    assert cfg["train"]["allow_random_weights"] is False
    assert cfg["train"]["aggregator"] == "nash"
    assert cfg["train"]["genre_controller"] == "text"
    assert cfg["step"] >= 50


def test_bundled_model_generates_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    from dancegen.checkpoint import default_checkpoint_dir
    from dancegen.pipeline import DancePipeline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    assert default_checkpoint_dir() == BUNDLED_DIR
    pipe = DancePipeline.from_checkpoint()
    audio, sr, beats, _ = synth_song("Dai", 4.0)
    res = pipe(audio, sr, text="fluid Dai folk", steps=2, seed=0)
    assert res.genre.genre == "Dai"
    assert res.motion.shape == (1, 120, 319)
    assert torch.isfinite(res.motion).all()
    assert beats.size >= 4
    assert (np.diff(beats) > 0).all()
    assert (shifted_beats(beats) != beats).all()


def test_package_checkpoint_roundtrip(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    dest = package_checkpoint(BUNDLED_DIR, tmp_path / "copy")
    for part in ("ema", "model", "normalizer"):
        a, b = load_file(str(BUNDLED_DIR / f"{part}.safetensors")), load_file(str(dest / f"{part}.safetensors"))
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((dest / "config.json").read_text()) == json.loads((BUNDLED_DIR / "config.json").read_text())
    with pytest.raises(DancegenError, match="--install"):
        retrain(out=BUNDLED_DIR)
    with pytest.raises(DancegenError, match="do not also give --out"):
        retrain(out=tmp_path / "x", install=True)


def test_package_checkpoint_drops_machine_paths(tmp_path: Path) -> None:
    """A retrained model's config names the run's data and output folders: the package keeps none of them."""
    src = tmp_path / "ckpt"
    shutil.copytree(BUNDLED_DIR, src)
    config = json.loads((src / "config.json").read_text())
    config["train"]["data"] = str(tmp_path / "data")
    config["train"]["out"] = str(tmp_path / "run")
    config["data"]["dir"] = str((tmp_path / "data").resolve())
    (src / "config.json").write_text(json.dumps(config))
    dest = package_checkpoint(src, tmp_path / "package")
    text = (dest / "config.json").read_text()
    assert str(tmp_path) not in text
    packaged = json.loads(text)
    assert (packaged["train"]["data"], packaged["train"]["out"], packaged["data"]["dir"]) == (None, None, None)
    assert packaged["model"] == config["model"]


def test_demo_cli_writes_files_and_bas(tmp_path: Path) -> None:
    res = dancegen("demo", "--seconds", "6", "--steps", "4", "--out", tmp_path / "demo")
    assert res.returncode == 0, res.stderr
    assert BUNDLED_NOTICE in res.stderr
    assert "Dai" in res.stdout
    bas = [line for line in res.stdout.splitlines() if line.startswith("BAS")]
    assert len(bas) == 1
    assert 0.0 <= float(bas[0].split()[1]) <= 1.0
    for name in ("motion.npz", "dance.bvh", "dance.html"):
        assert (tmp_path / "demo" / name).stat().st_size > 0
    with np.load(tmp_path / "demo" / "motion.npz") as z:
        assert any(v.shape[:1] == (180,) for v in (z[k] for k in z.files) if v.ndim >= 2)


def test_generate_without_checkpoint_uses_bundled(tmp_path: Path) -> None:
    import soundfile as sf

    audio, sr, _, _ = synth_song("Jazz", 4.0)
    sf.write(tmp_path / "song.wav", audio, sr)
    res = dancegen("generate", tmp_path / "song.wav", "--text", "fluid Dai folk", "--steps", "1", "--format", "npz",
                   "--out", tmp_path / "gen", "--no-progress", "--json")
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip().splitlines() == [BUNDLED_NOTICE]
    assert json.loads(res.stdout)["genre"]["genre"] == "Dai"


def test_demo_bad_input_is_one_error_line(tmp_path: Path) -> None:
    res = dancegen("demo", "--seconds", "1", "--out", tmp_path / "d")
    assert res.returncode == 2
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "--seconds" in errors[0]
    assert "Traceback" not in res.stderr
