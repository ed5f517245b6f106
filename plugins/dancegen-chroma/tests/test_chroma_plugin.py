"""The example plugin is found through its entry point, with its distribution as origin, and is correct."""

from __future__ import annotations

import importlib.metadata as md

import librosa
import numpy as np
import soundfile as sf

from dancegen.features import build_music_encoder
from dancegen.features.registry import MUSIC_ENCODERS


def test_entry_point_discovery_and_origin():
    eps = [ep for ep in md.entry_points(group="dancegen") if ep.name == "chroma"]
    assert len(eps) == 1
    assert eps[0].value == "dancegen_chroma"
    assert eps[0].dist.name == "dancegen-chroma"
    item = MUSIC_ENCODERS.get("chroma")
    assert item.origin == f"dancegen-chroma {md.version('dancegen-chroma')}"
    assert item.cls.__module__ == "dancegen_chroma"


def test_chroma_equals_librosa_and_composes(tmp_path, monkeypatch):
    sr = 22050
    t = np.arange(int(2.5 * sr)) / sr
    song = np.stack([0.3 * np.sin(2 * np.pi * 261.6 * t), 0.3 * np.sin(2 * np.pi * 392.0 * t)], axis=1)
    path = tmp_path / "song.flac"
    sf.write(path, song.astype(np.float32), sr)
    feats = build_music_encoder("chroma").encode_file(path)
    assert feats.shape == (75, 12)
    assert feats.dtype == np.float32
    y, _ = librosa.load(path, sr=15360)
    ref = librosa.feature.chroma_stft(y=y, sr=15360, n_fft=2048, hop_length=512).T[:75]
    np.testing.assert_allclose(feats, ref, rtol=1e-5, atol=1e-6)
    assert {int(np.argmax(feats.mean(axis=0)))} <= {0, 7}  # C and G dominate
    monkeypatch.setenv("DANCEGEN_OFFLINE", "1")
    monkeypatch.setenv("DANCEGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DANCEGEN_WAV2CLIP_WEIGHTS", raising=False)
    enc = build_music_encoder("stft+chroma")
    assert enc.dim == 205
    assert enc.encode_file(path).shape == (75, 205)
