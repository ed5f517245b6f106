"""``dancegen plugins`` and the DANCEGEN_LOAD_PLUGINS selection, with real subprocess runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import ClassVar

import numpy as np
import pytest

import dancegen.plugins as dp
from dancegen.features import ResamplingEncoder, build_music_encoder
from dancegen.features.registry import MUSIC_ENCODERS

BUILTIN_DIMS = {"stft": 193, "mfcc": 20, "baseline35": 35, "wav2clip": 512, "clap": 768, "wav2vec2": 768,
                "jukebox": 4800}


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "DANCEGEN_LOAD_PLUGINS"} | (env or {})
    return subprocess.run([sys.executable, "-m", "dancegen", *args], capture_output=True, text=True, env=full_env,
                          timeout=120, check=False)


def test_plugins_json_lists_everything_with_origins():
    proc = run_cli("plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"music_encoders", "genre_controllers", "exporters", "aggregators"}
    encoders = {r["name"]: r for r in data["music_encoders"]}
    for name, dim in BUILTIN_DIMS.items():
        assert encoders[name]["origin"] == "built-in"
        assert encoders[name]["dim"] == dim
    # what each encoder needs before it runs offline: nothing, or weights / features downloaded once
    for name in ("stft", "mfcc", "baseline35"):
        assert encoders[name]["needs_weights"] is False
        assert encoders[name]["weights"] == encoders[name]["download_size"] == ""
        assert encoders[name]["offline"] is True
    needs = {"wav2clip": "Wav2CLIP.pt", "clap": "laion/clap-htsat-unfused", "wav2vec2": "facebook/wav2vec2-base",
             "jukebox": "DANCEGEN_JUKEBOX_DIR"}
    for name, weights in needs.items():
        assert encoders[name]["needs_weights"] is True
        assert weights in encoders[name]["weights"]
        assert encoders[name]["download_size"].startswith("≈ ")
        assert encoders[name]["offline"] is False
    exporters = [r["name"] for r in data["exporters"]]
    assert exporters[:5] == ["npz", "bvh", "html", "mp4", "edge_pkl"]
    by_name = {r["name"]: r for r in data["exporters"]}
    assert by_name["mp4"] == by_name["mp4"] | {"aliases": ["video"], "file": "dance.mp4",
                                                "needs": ["ffmpeg", "matplotlib"], "uses_audio": True,
                                                "origin": "built-in"}
    assert by_name["edge_pkl"]["aliases"] == ["pkl", "edge"]
    assert by_name["edge_pkl"]["file"] == "edge.pkl"
    assert by_name["npz"]["needs"] == []
    assert all(r["summary"] for r in data["exporters"])
    assert encoders["chroma"]["origin"] == "dancegen-chroma 0.1.0"
    assert encoders["chroma"]["dim"] == 12
    aggregators = {r["name"]: r for r in data["aggregators"]}
    assert aggregators["linear"]["origin"] == "built-in"
    assert "properties" in aggregators["linear"]
    assert isinstance(data["genre_controllers"], list)


def test_plugins_table_and_empty_selection():
    table = run_cli("plugins", env={"COLUMNS": "250"})
    assert table.returncode == 0, table.stderr
    assert "Music encoders" in table.stdout
    assert "dancegen-chroma" in table.stdout
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in table.stdout.splitlines() if line.startswith("│") and line.split("│")[1].strip()}
    assert rows["wav2clip"][:4] == ["512", "Wav2CLIP.pt", "≈ 49 MB", "no"]  # dim, weights, download, offline
    assert rows["wav2vec2"][1:4] == ["HF facebook/wav2vec2-base", "≈ 380 MB", "no"]
    assert rows["stft"][:4] == ["193", "none", "", "yes"]
    assert "Exporters" in table.stdout
    assert rows["mp4"][:3] == ["video", "dance.mp4", "ffmpeg,matplotlib"]  # aliases, file, needs
    assert rows["edge_pkl"][:3] == ["pkl,edge", "edge.pkl", ""]
    none = run_cli("plugins", "--json", env={"DANCEGEN_LOAD_PLUGINS": ""})
    names = {r["name"] for r in json.loads(none.stdout)["music_encoders"]}
    assert names == set(BUILTIN_DIMS)  # built-ins always load, third-party plugins do not


@pytest.fixture
def reload_plugins():
    dp.PLUGINS.reload()
    yield
    dp.PLUGINS.reload()


@pytest.mark.parametrize(
    ("value", "has_chroma"),
    [(None, True), ("", False), ("dancegen-chroma", True), ("chroma", True), ("dancegen_chroma", True),
     ("something-else", False), ("something-else, chroma", True)],
)
def test_load_plugins_env_semantics(monkeypatch, reload_plugins, value, has_chroma):
    if value is None:
        monkeypatch.delenv("DANCEGEN_LOAD_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("DANCEGEN_LOAD_PLUGINS", value)
    dp.PLUGINS.reload()
    assert ("chroma" in MUSIC_ENCODERS.names()) is has_chroma
    assert set(BUILTIN_DIMS) <= set(MUSIC_ENCODERS.names())


class Loudness(ResamplingEncoder):
    """RMS loudness per frame (a test plugin)."""

    name: ClassVar[str] = "loudness"
    nominal_dim: ClassVar[int | None] = 1

    @property
    def dim(self) -> int:
        return 1

    def encode_prepared(self, y: np.ndarray, frames: int) -> np.ndarray:
        return np.sqrt((y[: frames * 512].reshape(frames, 512) ** 2).mean(axis=1, keepdims=True))


class LoudnessPlugin:
    @dp.hookimpl
    def dancegen_register_music_encoders(self, register):
        register(Loudness)


class ClashPlugin:
    @dp.hookimpl
    def dancegen_register_music_encoders(self, register):
        register(Loudness, name="stft")


def test_runtime_plugin_registration_and_composition():
    plugin = LoudnessPlugin()
    dp.register_plugin(plugin, name="test-loudness")
    try:
        item = MUSIC_ENCODERS.get("loudness")
        assert item.origin == "test-loudness"
        enc = build_music_encoder("stft,loudness")
        y = (0.5 * np.sin(np.arange(15360) / 5.0)).astype(np.float32)
        feats = enc.encode(y, 15360)
        assert feats.shape == (30, 194)
        np.testing.assert_allclose(feats[:, 193], np.sqrt(0.125), rtol=0.05)
    finally:
        dp.unregister_plugin(plugin)
    assert "loudness" not in MUSIC_ENCODERS.names()
    clash = ClashPlugin()
    dp.register_plugin(clash, name="test-clash")
    try:
        with pytest.raises(ValueError, match="registered twice"):
            MUSIC_ENCODERS.names()
    finally:
        dp.unregister_plugin(clash)


def test_unknown_encoder_in_cli_free_api_lists_plugins():
    with pytest.raises(KeyError, match="chrom") as info:
        build_music_encoder("chromaa")
    assert "did you mean chroma" in str(info.value)
