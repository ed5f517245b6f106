"""Audio loading, validation and resampling on real files the tests write."""

from __future__ import annotations

import warnings

import librosa
import numpy as np
import pytest
import soundfile as sf

from dancegen.errors import DataError
from dancegen.features.audio import SilentAudioWarning, check_audio, load_audio, resample, to_mono

SR = 44100


def tone(seconds: float = 1.0, sr: int = SR, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    left = 0.4 * np.sin(2 * np.pi * 440 * t)
    right = 0.2 * np.sin(2 * np.pi * 660 * t)
    return np.stack([left, right][:channels], axis=1).astype(np.float32)  # soundfile layout (samples, channels)


@pytest.mark.parametrize(
    ("ext", "sr", "channels", "tol"),
    [("wav", 44100, 2, 1e-4), ("flac", 22050, 1, 1e-4), ("ogg", 48000, 2, 0.05), ("wav", 15360, 6, 1e-4)],
)
def test_load_audio_formats_rates_channels(tmp_path, ext, sr, channels, tol):
    data = np.tile(tone(0.5, sr, 2), (1, 3))[:, :channels]
    path = tmp_path / f"a.{ext}"
    sf.write(path, data, sr)
    y, got_sr = load_audio(path)
    assert got_sr == sr
    assert y.dtype == np.float32
    assert y.ndim == 1
    assert abs(len(y) - len(data)) <= (0 if ext != "ogg" else 2048)
    n = min(len(y), len(data))
    assert np.abs(y[:n] - data[:n].mean(axis=1)).max() < tol


def test_load_mp3(tmp_path):
    if "MP3" not in sf.available_formats():
        pytest.skip("libsndfile without mp3")
    path = tmp_path / "a.mp3"
    sf.write(path, tone(1.0), SR, format="MP3")
    y, sr = load_audio(path)
    assert sr == SR
    assert abs(len(y) - SR) < 3000
    assert np.abs(y).max() > 0.1


def test_load_errors_are_one_clear_line(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_audio(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio" * 10)
    with pytest.raises(DataError, match="cannot read audio file") as info:
        load_audio(junk)
    assert "\n" not in str(info.value)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), dtype=np.float32), SR)
    with pytest.raises(DataError, match="empty"):
        load_audio(empty)
    nan = tmp_path / "nan.wav"
    bad = tone(0.5)
    bad[100, 0] = np.nan
    sf.write(nan, bad, SR, subtype="FLOAT")
    with pytest.raises(DataError, match="NaN or infinite"):
        load_audio(nan)
    short = tmp_path / "short.wav"
    sf.write(short, tone(0.02), SR)  # 20 ms < one 33.3-ms frame
    with pytest.raises(DataError, match="shorter than one 30-FPS frame"):
        load_audio(short)


def test_silence_warns(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((SR, 1), dtype=np.float32), SR)
    with pytest.warns(SilentAudioWarning, match="silent"):
        load_audio(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_audio(tone(0.5)[:, 0], SR)  # music does not warn


def test_to_mono_layouts():
    stereo = tone(0.1)
    expected = stereo.mean(axis=1)
    assert np.allclose(to_mono(stereo), expected)  # (samples, channels)
    assert np.allclose(to_mono(stereo.T), expected)  # (channels, samples)
    with pytest.raises(DataError, match="1-D"):
        to_mono(np.zeros((2, 2, 2)))


def test_resample_matches_librosa_load(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, tone(1.3), SR)
    y, sr = load_audio(path)
    ours = resample(y, sr, 15360)
    ref, _ = librosa.load(path, sr=15360)
    assert ours.shape == ref.shape == (int(np.ceil(len(y) * 15360 / SR)),)
    np.testing.assert_array_equal(ours, ref)
    np.testing.assert_array_equal(resample(y, sr, sr), y)
