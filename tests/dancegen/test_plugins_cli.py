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
    assert set(data) == {"music_encoders", "genre_controllers", "aggregators"}
    encoders = {r["name"]: r for r in data["music_encoders"]}
    for name, dim in BUILTIN_DIMS.items():
        assert encoders[name]["origin"] == "built-in"
        assert encoders[name]["dim"] == dim
    assert encoders["wav2clip"]["needs_weights"] is True
    assert encoders["stft"]["needs_weights"] is False
    assert all(r["offline"] for r in data["music_encoders"])
    assert encoders["chroma"]["origin"] == "dancegen-chroma 0.1.0"
    assert encoders["chroma"]["dim"] == 12
    aggregators = {r["name"]: r for r in data["aggregators"]}
    assert aggregators["linear"]["origin"] == "built-in"
    assert "properties" in aggregators["linear"]
    assert isinstance(data["genre_controllers"], list)


def test_plugins_table_and_empty_selection():
    table = run_cli("plugins")
    assert table.returncode == 0
    assert "Music encoders" in table.stdout
    assert "wav2clip" in table.stdout
    assert "dancegen-chroma" in table.stdout
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
    assert ("chroma" in dp.MUSIC_ENCODERS.names()) is has_chroma
    assert set(BUILTIN_DIMS) <= set(dp.MUSIC_ENCODERS.names())


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
        item = dp.MUSIC_ENCODERS.get("loudness")
        assert item.origin == "test-loudness"
        enc = build_music_encoder("stft,loudness")
        y = (0.5 * np.sin(np.arange(15360) / 5.0)).astype(np.float32)
        feats = enc.encode(y, 15360)
        assert feats.shape == (30, 194)
        np.testing.assert_allclose(feats[:, 193], np.sqrt(0.125), rtol=0.05)
    finally:
        dp.unregister_plugin(plugin)
    assert "loudness" not in dp.MUSIC_ENCODERS.names()
    clash = ClashPlugin()
    dp.register_plugin(clash, name="test-clash")
    try:
        with pytest.raises(ValueError, match="registered twice"):
            dp.MUSIC_ENCODERS.names()
    finally:
        dp.unregister_plugin(clash)


def test_unknown_encoder_in_cli_free_api_lists_plugins():
    with pytest.raises(KeyError, match="chrom") as info:
        build_music_encoder("chromaa")
    assert "did you mean chroma" in str(info.value)
