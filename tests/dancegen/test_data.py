"""Data loaders (FineDance layout, AIST++), window data set and feature cache, on tiny generated data sets."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import soundfile as sf
import torch

from dancegen.data import FeatureCache, WindowDataset, load_aist, load_finedance
from dancegen.data.aist import AIST_GENRES
from dancegen.errors import DataError
from dancegen.features.encoder import MusicEncoder, num_frames
from dancegen.genre.genres import genre_index
from dancegen.motion import axis_angle_to_rot6d, matrix_to_rot6d

SR = 15360


def smooth_motion(frames: int, seed: int, amplitude: float = 0.5) -> np.ndarray:
    """(frames, 315) FineDance-layout motion: sinusoidal root path and joint angles."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / 30.0
    root = np.concatenate((0.5 * np.sin(t * 0.7), 0.9 + 0.05 * np.sin(t * 3.0), 0.4 * np.cos(t * 0.5)), axis=1)
    freq = rng.uniform(0.5, 2.0, (1, 52, 3))
    phase = rng.uniform(0, 6.28, (1, 52, 3))
    aa = amplitude * np.sin(t[:, :, None] * freq * 6.28 + phase)
    rot = axis_angle_to_rot6d(torch.from_numpy(aa).float()).reshape(frames, 312).numpy()
    return np.concatenate((root, rot), axis=1).astype(np.float32)


def write_wav(path: Path, seconds: float, sr: int = SR, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t)) + 0.01 * rng.standard_normal(len(t))
    sf.write(path, y.astype(np.float32), sr)


def make_finedance(root: Path, specs: dict[str, tuple[int, float, str]]) -> Path:
    """specs: id → (motion frames, music seconds, style2)."""
    for sub in ("motion", "music_wav", "label_json"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for k, (seq_id, (frames, seconds, style)) in enumerate(specs.items()):
        np.save(root / "motion" / f"{seq_id}.npy", smooth_motion(frames, seed=k))
        write_wav(root / "music_wav" / f"{seq_id}.wav", seconds, seed=k)
        label = {"name": f"song {seq_id}", "style1": "x", "style2": style}
        (root / "label_json" / f"{seq_id}.json").write_text(json.dumps(label))
    return root


@pytest.fixture
def finedance(tmp_path) -> Path:
    return make_finedance(tmp_path / "fd", {
        "001": (300, 10.0, "Breaking"),   # train
        "002": (240, 7.0, "Tai"),         # train, alias of Dai; music shorter → truncated to 210
        "012": (200, 200 / 30, "Korean"),  # cross-genre test
        "116": (150, 5.0, "Jazz"),        # ignored in both protocols
    })


def test_finedance_splits_contacts_and_truncation(finedance):
    train = load_finedance(finedance, "train")
    assert [s.id for s in train] == ["001", "002"]
    assert train.report.ignored == ["116"]
    assert train.report.truncated == {"002": (240, 210)}
    assert train[1].num_frames == 210
    assert train[1].genre == genre_index("Dai")
    assert train[1].genre_name == "Dai"
    seq = train[0]
    assert seq.motion.shape == (300, 319)
    assert seq.motion.dtype == np.float32
    assert set(np.unique(seq.motion[:, :4])) <= {0.0, 1.0}
    assert seq.motion[-1, :4].sum() == 0
    assert np.allclose(seq.motion[:, 4:], smooth_motion(300, seed=0), atol=1e-6)
    test = load_finedance(finedance, "test")
    assert [s.id for s in test] == ["012"]
    assert not test.report.truncated
    dancer_test = load_finedance(finedance, "test", protocol="cross_dancer")
    assert [s.id for s in dancer_test] == ["001", "002", "012"]
    assert len(load_finedance(finedance, "all")) == 4
    assert "2 sequences" in train.report.summary()


def test_splits_json_overrides_official(finedance):
    (finedance / "splits.json").write_text(json.dumps({"train": ["012", 116], "test": ["001"], "ignore": ["116"]}))
    train = load_finedance(finedance, "train")
    assert [s.id for s in train] == ["012"]
    assert train.report.ignored == ["116"]
    assert [s.id for s in load_finedance(finedance, "test")] == ["001"]
    (finedance / "splits.json").write_text(json.dumps({"train": ["001"]}))
    with pytest.raises(DataError, match=r"splits\.json"):
        load_finedance(finedance, "train")


def test_labels_json_list_layout(tmp_path):
    root = make_finedance(tmp_path / "fd", {"001": (130, 130 / 30, "Popping"), "012": (130, 130 / 30, "hmong")})
    records = [{"name": "a", "style1": "s", "style2": "Popping", "frames": 130, "filename": "001.npy"},
               {"name": "b", "style1": "s", "style2": "hmong", "frames": 130, "filename": "012"}]
    for p in (root / "label_json").iterdir():
        p.unlink()
    (root / "label_json").rmdir()
    (root / "labels.json").write_text(json.dumps(records))
    data = load_finedance(root, "all")
    assert [s.genre_name for s in data] == ["Popping", "Miao"]


def test_finedance_errors(finedance, tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_finedance(tmp_path / "missing")
    (tmp_path / "empty" / "motion").mkdir(parents=True)
    with pytest.raises(DataError, match="music_wav"):
        load_finedance(tmp_path / "empty")
    np.save(finedance / "motion" / "001.npy", np.zeros((100, 300), dtype=np.float32))
    bad = smooth_motion(100, seed=3)
    bad[5, 10] = np.nan
    np.save(finedance / "motion" / "002.npy", bad)
    with pytest.raises(DataError, match=r"\(T, 315\)"):
        load_finedance(finedance, "train")
    # skip mode: nothing dropped silently, every skipped id has its reason
    with pytest.raises(DataError, match=r"split .* is empty"):
        load_finedance(finedance, "train", on_error="skip")
    data = load_finedance(finedance, "all", on_error="skip")
    assert set(data.report.skipped) == {"001", "002"}
    assert "NaN" in data.report.skipped["002"]
    (finedance / "label_json" / "012.json").write_text(json.dumps({"style2": "Tango"}))
    with pytest.raises(DataError, match="unknown genre 'Tango'"):
        load_finedance(finedance, "test")
    with pytest.raises(DataError, match="empty"):
        load_finedance(finedance, "test", on_error="skip")
    (finedance / "label_json" / "012.json").write_text(json.dumps({"style2": "Kun"}))
    (finedance / "music_wav" / "116.wav").unlink()
    assert "music file not found" in load_finedance(finedance, "all", on_error="skip").report.skipped["116"]


def test_windows_filter_recentre_and_test_slices(tmp_path):
    root = make_finedance(tmp_path / "fd", {"001": (300, 10.0, "Jazz"), "002": (200, 200 / 30, "Kun")})
    arr = np.load(root / "motion" / "002.npy")
    arr[:] = arr[0]  # a motionless dance: every training window is static
    np.save(root / "motion" / "002.npy", arr)
    data = load_finedance(root, "all")
    features = {s.song_id: np.random.default_rng(0).standard_normal((s.num_frames + 7, 5)).astype(np.float32)
                for s in data}
    train = WindowDataset(data, features, mode="train")
    # 001: (300 − 120) / 12 + 1 = 16 windows; 002: (200 − 120) / 12 + 1 = 7 windows, all static
    assert train.stats == {"sequences": 2, "considered": 23, "kept": 16, "static": 7, "too_short": 0}
    item = train[3]
    assert item["motion"].shape == (120, 319)
    assert item["motion"].dtype == torch.float32
    assert item["music"].shape == (120, 5)
    assert item["start"] == 36
    assert torch.equal(item["motion"][0, 4:7], torch.zeros(3))
    raw = data[0].motion[36:156]
    assert np.allclose(item["motion"][:, 4:7].numpy(), raw[:, 4:7] - raw[0, 4:7], atol=1e-6)
    assert np.array_equal(item["motion"][:, 7:].numpy(), raw[:, 7:])
    assert np.array_equal(item["music"].numpy(), features["001"][36:156])
    assert item["text"] == "Jazz"
    assert item["genre"] == genre_index("Jazz")
    assert item["hands_present"] is True
    test = WindowDataset(data, features, mode="test")
    # 4-s slices at 2-s stride, no filter: 001 → starts 0, 60, 120, 180; 002 → 0, 60
    assert [(test.index[i].sequence, test.index[i].start) for i in range(len(test))] == [
        (0, 0), (0, 60), (0, 120), (0, 180), (1, 0), (1, 60)]
    batch = torch.utils.data.default_collate([train[0], train[1]])
    assert batch["motion"].shape == (2, 120, 319)
    with pytest.raises(DataError, match="no music features"):
        WindowDataset(data, {"001": features["001"]})
    with pytest.raises(DataError, match="no train windows"):
        WindowDataset(data, features, min_std=10.0)


class EnergyEncoder(MusicEncoder):
    """A real (tiny) encoder: per-frame RMS energy in ``bands`` equal time slices of each frame."""

    name: ClassVar[str] = "energy"

    def __init__(self, bands: int = 2) -> None:
        self.bands = bands
        self.calls = 0

    @property
    def dim(self) -> int:
        return self.bands

    def encode(self, audio: np.ndarray, sr: int) -> np.ndarray:
        self.calls += 1
        frames = num_frames(len(audio), sr)
        hop = sr // 30
        x = np.asarray(audio[: frames * hop], dtype=np.float32).reshape(frames, self.bands, -1)
        return np.sqrt((x**2).mean(axis=-1)).astype(np.float32)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "bands": self.bands}


def test_feature_cache_invalidation(tmp_path):
    audio = tmp_path / "song.wav"
    write_wav(audio, 3.0)
    enc = EnergyEncoder(bands=2)
    cache = FeatureCache(tmp_path / "cache", enc)
    first = cache.get("song", audio)
    assert first.shape == (90, 2)
    assert enc.calls == 1
    assert np.array_equal(cache.get("song", audio), first)
    assert enc.calls == 1  # served from disk
    assert not list(cache.dir.glob("*.tmp"))
    from safetensors import safe_open

    with safe_open(str(cache.path("song")), framework="numpy") as f:
        assert json.loads(f.metadata()["config"]) == {"name": "energy", "bands": 2}
    # a different configuration → a different key → recomputed
    enc4 = EnergyEncoder(bands=4)
    cache4 = FeatureCache(tmp_path / "cache", enc4)
    assert cache4.dir != cache.dir
    assert cache4.get("song", audio).shape == (90, 4)
    assert enc4.calls == 1
    # same hash folder but a different stored config (e.g. a stale file): recomputed, not trusted
    enc.bands = 3
    stale = FeatureCache(tmp_path / "cache", enc)
    stale.dir = cache.dir
    assert stale.load("song", audio) is None
    # the audio file changed → recomputed
    enc.bands = 2
    write_wav(audio, 2.0, seed=5)
    assert cache.get("song", audio).shape == (60, 2)
    assert enc.calls == 2
    counts = cache.fill([("song", audio), ("song", audio)], progress=False)
    assert counts == {"computed": 0, "cached": 1}


def test_window_dataset_from_cache(finedance, tmp_path):
    data = load_finedance(finedance, "train")
    enc = EnergyEncoder(bands=2)
    ds = WindowDataset(data, FeatureCache(tmp_path / "c", enc))
    assert enc.calls == 2
    assert ds[0]["music"].shape == (120, 2)
    assert ds.dim == 2


def make_aist(root: Path) -> Path:
    (root / "motions").mkdir(parents=True)
    (root / "wav").mkdir()
    (root / "splits").mkdir()
    rng = np.random.default_rng(0)
    names = ["gBR_sBM_cAll_d04_mBR0_ch01", "gJB_sFM_cAll_d09_mJB1_ch02", "gHO_sBM_cAll_d19_mHO2_ch03"]
    for k, name in enumerate(names):
        frames = 300  # 5 s at 60 FPS
        t = np.arange(frames)[:, None] / 60.0
        poses = 0.4 * np.sin(t * rng.uniform(0.5, 2, (1, 72)) * 6.28)
        trans = np.concatenate((np.sin(t), 1.0 + 0 * t, np.cos(t)), axis=1) * 90.0
        with open(root / "motions" / f"{name}.pkl", "wb") as f:
            pickle.dump({"smpl_poses": poses, "smpl_trans": trans, "smpl_scaling": np.array([90.0]),
                         "smpl_loss": 0.0}, f)
        write_wav(root / "wav" / f"{name.split('_')[4]}.wav", 5.0 if k else 4.0, sr=22050, seed=k)
    (root / "splits" / "crossmodal_train.txt").write_text("\n".join(names[:2]) + "\n")
    (root / "splits" / "crossmodal_test.txt").write_text(names[2] + "\n")
    (root / "ignore_list.txt").write_text(names[1] + "\n")
    return root


def test_aist_loader(tmp_path):
    root = make_aist(tmp_path / "aist")
    train = load_aist(root, "train")
    assert [s.id for s in train] == ["gBR_sBM_cAll_d04_mBR0_ch01"]
    assert train.report.ignored == ["gJB_sFM_cAll_d09_mJB1_ch02"]
    seq = train[0]
    assert seq.motion.shape == (120, 319)  # 150 frames at 30 FPS, music of 4 s → truncated to 120
    assert train.report.truncated == {seq.id: (150, 120)}
    assert seq.hands_present is False
    assert seq.genre_table == "aist"
    assert seq.genre_name == AIST_GENRES[0] == "Break"
    assert seq.song_id == "mBR0"
    with open(root / "motions" / f"{seq.id}.pkl", "rb") as f:
        raw = pickle.load(f)
    assert np.allclose(seq.motion[:, 4:7], raw["smpl_trans"][::2][:120] / 90.0, atol=1e-5)
    identity = matrix_to_rot6d(torch.eye(3)).numpy()
    assert np.allclose(seq.motion[:, 139:].reshape(120, 30, 6), identity, atol=1e-6)
    expected_knee = axis_angle_to_rot6d(torch.from_numpy(raw["smpl_poses"][::2][:120, 12:15]).float()).numpy()
    assert np.allclose(seq.motion[:, 7 + 6 * 4 : 13 + 6 * 4], expected_knee, atol=1e-5)
    test = load_aist(root, "test")
    assert test[0].genre_name == "House"
    assert [w.start for w in WindowDataset(test, mode="test").index] == [0]  # 150 frames: one whole 4-s slice
    with pytest.raises(DataError, match="val split"):
        load_aist(root, "val")
    with open(root / "motions" / "gXX_bad_cAll_d01_mXX0_ch01.pkl", "wb") as f:
        pickle.dump({"smpl_poses": np.zeros((10, 72))}, f)
    data = load_aist(root, "all", on_error="skip")
    assert list(data.report.skipped) == ["gXX_bad_cAll_d01_mXX0_ch01"]
    assert len(data) == 3


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dancegen", *args], capture_output=True, text=True, timeout=120)


def test_cli_data_check(finedance, tmp_path):
    ok = run_cli("data", "check", str(finedance), "--json")
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout)
    assert summary["sequences"] == 4
    assert summary["genres"] == {"Breaking": 1, "Dai": 1, "Jazz": 1, "Korean": 1}
    assert summary["splits"]["cross_genre"] == {"train": 2, "test": 1}
    assert summary["truncated"] == {"002": [240, 210]}
    assert summary["problems"] == []
    assert summary["warnings"] == ["cross_dancer: the train split is empty"]
    # break one file: exit 2, one error line, no traceback, the problem listed
    np.save(finedance / "motion" / "002.npy", np.zeros((10, 7), dtype=np.float32))
    bad = run_cli("data", "check", str(finedance))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [f"error: 1 problem(s) found in {finedance}"]
    assert "sequences" in bad.stdout  # the rich summary table is still printed
    assert "002" in bad.stdout
    missing = run_cli("data", "check", str(tmp_path / "nothing"))
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: data directory not found")
    assert "Traceback" not in missing.stderr + bad.stderr


def test_cli_data_prepare_fills_cache(tmp_path):
    from dancegen.data import default_cache_root
    from dancegen.features import build_music_encoder

    root = make_finedance(tmp_path / "fd", {"001": (90, 3.0, "Jazz"), "012": (90, 3.0, "Kun")})
    done = run_cli("data", "prepare", str(root), "--music-encoders", "stft,mfcc", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["computed"] == 2
    assert result["cached"] == 0
    assert result["dim"] == 193 + 20
    cache = FeatureCache(default_cache_root(root), build_music_encoder("stft,mfcc"))
    assert Path(result["cache"]) == cache.dir
    assert cache.fill([("001", root / "music_wav" / "001.wav"), ("012", root / "music_wav" / "012.wav")],
                      progress=False) == {"computed": 0, "cached": 2}
    assert cache.load("001").shape == (90, 213)
    bad = run_cli("data", "prepare", str(root), "--music-encoders", "nosuchencoder")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error:")
    assert "Traceback" not in bad.stderr
