"""The whole-song ``songs`` evaluation protocol on a tiny procedural data set: the GT row, motions from a folder, a
checkpoint trained for one step here (in-process and through the CLI), bad options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from dancegen.data import load_finedance
from dancegen.errors import DancegenError, DataError
from dancegen.evaluation import cut_clips, evaluate, get_protocol, score_set
from dancegen.evaluation.scoring import score_songs
from dancegen.export import write_edge_pkl, write_npz

GENRES = ["Breaking", "Jazz", "Dai"]
KEYS = ("seam_ratio", "height_drift", "floor_deviation", "contact_skating", "contact_fraction", "penetration_max",
        "joint_speed", "bas")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dancegen.data.synth import build

    root = tmp_path_factory.mktemp("songs") / "tiny"
    build(root, songs_per_genre=1, seconds=8, genres=GENRES)
    return root


def tiny_run(data: Path, out: Path) -> Path:
    """A run folder of a 1-step tiny training run on ``data`` (stft, one-hot labels, linear) at ``out``."""
    from dancegen.train import TrainConfig, Trainer

    cfg = TrainConfig.from_dict({
        "data": str(data), "out": str(out), "music_encoders": "stft", "genre_controller": "label",
        "controller_options": {"embedding": "onehot"}, "tasks": ["S", "J", "V", "F"], "preset": "tiny",
        "batch_size": 2, "steps": 1, "progress": False, "tensorboard": False, "log_every": 1,
        "checkpoint_every": 1000, "aggregator": "linear"})
    Trainer(cfg).fit()
    return out


@pytest.fixture(scope="module")
def checkpoint(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_run(data, tmp_path_factory.mktemp("songs_run") / "run")


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dancegen", *map(str, args)], env=ENV, capture_output=True,
                          text=True, timeout=180)


def test_songs_protocol_cuts_whole_songs(data: Path) -> None:
    proto = get_protocol("songs")
    assert proto.whole_song
    assert proto.gt_split == "test"
    assert set(KEYS) == set(proto.metrics)
    test = load_finedance(data, split="test")
    clips = cut_clips(test, proto)
    assert [(c.key, c.frames, c.sliced) for c in clips] == [(s.id, s.num_frames, False) for s in test]


def test_songs_gt_motions_reproduce_the_gt_row(data: Path, tmp_path: Path) -> None:
    """The GT test songs exported as NNN.npz (with their contact channels) score exactly like the GT row."""
    test = load_finedance(data, split="test")
    (tmp_path / "m").mkdir()
    for s in test:
        write_npz(tmp_path / "m" / f"{s.id}.npz", s.motion)
    report = evaluate(data, "songs", motions=tmp_path / "m")
    assert report["protocol"]["name"] == "songs"
    gt, gen = report["gt_row"], report["generated"]
    assert set(gt["metrics"]) == set(KEYS)
    assert 0.7 <= gt["metrics"]["seam_ratio"] <= 1.4  # procedural GT has no seams: near 1
    assert 0.0 < gt["metrics"]["bas"] <= 1.0
    assert gt["metrics"]["contact_skating"] is not None
    assert gt["metrics"]["contact_fraction"] > 0.3
    assert gt["metrics"]["joint_speed"] > 0.05
    assert gen["clips"] == len(test) == report["gt_set"]["test_clips"]
    for key in KEYS:
        assert gen["metrics"][key]["mean"] == pytest.approx(gt["metrics"][key], rel=1e-6, abs=1e-9), key
    assert [row["song"] for row in gt["per_song"]] == [s.id for s in test]
    assert [row["frames"] for row in gen["per_song"][0]] == [s.num_frames for s in test]
    # a mean over songs: |drift| per song, and the per-song signed drift is kept in the JSON
    drifts = [abs(row["height_drift_m"]) for row in gt["per_song"]]
    assert gt["metrics"]["height_drift"] == pytest.approx(np.mean(drifts))
    # slices are not whole songs
    write_npz(tmp_path / "m" / f"{test[0].id}_slice0.npz", test[0].motion[:120])
    with pytest.raises(DataError, match="match no songs test clip"):
        evaluate(data, "songs", motions=tmp_path / "m")


def test_songs_joints_only_files_and_score_set(data: Path, tmp_path: Path) -> None:
    """EDGE-style joints (no contact channels): contacts labelled from the joints, with a note; score_set agrees."""
    test = load_finedance(data, split="test")
    (tmp_path / "p").mkdir()
    for s in test:
        write_edge_pkl(tmp_path / "p" / f"test_{s.id}.pkl", s.motion)
    report = evaluate(data, "songs", motions=tmp_path / "p")
    gen = report["generated"]
    assert all(gen["metrics"][k]["mean"] is not None for k in KEYS)
    assert any("labelled from the joints" in n for n in gen["notes"])
    joints = [np.random.default_rng(0).normal(size=(200, 24, 3)) * 0.01 + np.linspace(0, 1, 24)[None, :, None]]
    values, _ = score_set(get_protocol("songs"), joints, [])
    assert values["contact_skating"] is None
    assert values["bas"] is None
    assert values["seam_ratio"] is not None
    assert list(values) == list(get_protocol("songs").metrics)
    _, notes, per_song = score_songs(joints, boundaries=[[]])
    assert per_song[0]["seam_ratio"] is None
    assert any("no boundary" in n for n in notes)


def test_songs_checkpoint(data: Path, checkpoint: Path) -> None:
    report = evaluate(data, "songs", checkpoint=checkpoint, steps=2, cleanup="none")
    test = load_finedance(data, split="test")
    gen = report["generated"]
    assert gen["clips"] == len(test)
    assert len(gen["per_song"]) == 1
    assert len(gen["per_song"][0]) == len(test)
    assert [row["seed"] for row in gen["per_song"][0]] == [0, 1, 2]
    assert [row["frames"] for row in gen["per_song"][0]] == [s.num_frames for s in test]
    for key in KEYS:
        assert gen["metrics"][key]["n"] == 1, key
        assert np.isfinite(gen["metrics"][key]["mean"]), key
        assert report["gt_row"]["metrics"][key] is not None, key
    src = gen["source"]
    assert (src["kind"], src["longform"], src["cleanup"], src["steps"]) == ("checkpoint", "blend", "none", 2)
    assert "song index" in src["seeds"]
    with pytest.raises(DancegenError, match="longform 'x'"):
        evaluate(data, "songs", checkpoint=checkpoint, longform="x")
    with pytest.raises(DancegenError, match="cleanup 'all': expected one of feet, floor, none"):
        evaluate(data, "songs", checkpoint=checkpoint, cleanup="all")


def test_checkpoint_audio_beats_once_per_song(data: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--checkpoint --beats audio under slices (3 slices per song): generation, the generated row and the GT row share
    one decode and one beat tracking of each test song (the real functions run, only counted)."""
    import librosa

    import dancegen.features.audio as audio

    counts = {"beat_track": 0, "load_audio": 0}

    def counting(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            counts[name] += 1
            return real(*args, **kwargs)

        return wrapper

    for module, name in ((librosa.beat, "beat_track"), (audio, "load_audio")):
        monkeypatch.setattr(module, name, counting(name, getattr(module, name)))
    report = evaluate(data, "slices", checkpoint=checkpoint, steps=1, beats="audio")
    songs = len(load_finedance(data, split="test"))
    assert report["generated"]["clips"] == 3 * songs
    assert counts == {"beat_track": songs, "load_audio": songs}
    assert report["beats_source"].startswith("audio")
    assert report["gt_row"]["metrics"]["bas"] is not None


def test_cli_songs_json(data: Path, checkpoint: Path, tmp_path: Path) -> None:
    proc = _cli("evaluate", "--data", data, "--checkpoint", checkpoint, "--protocol", "songs", "--steps", "2",
                "--longform", "inpaint", "--cleanup", "floor", "--json", "--threads", "1", "--out",
                tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report == json.loads((tmp_path / "r.json").read_text())
    gen = report["generated"]
    assert (gen["source"]["longform"], gen["source"]["cleanup"]) == ("inpaint", "floor")
    assert gen["clips"] == report["gt_set"]["test_songs"] == 3
    assert set(gen["metrics"]) == set(report["gt_row"]["metrics"]) == set(KEYS)
    # floor placement: the dancer does not drift and stays on one floor
    assert gen["metrics"]["height_drift"]["mean"] < 0.05
    from rich.console import Console

    from dancegen.evaluation import print_report

    console = Console(record=True, width=200)
    print_report(report, console)
    text = console.export_text()
    assert "Seam ratio →GT" in text
    assert "(3 songs)" in text
    assert "joined by inpaint, clean-up floor" in text


def test_cli_bad_longform(data: Path) -> None:
    """Checked before anything is loaded (the checkpoint folder does not even exist)."""
    proc = _cli("evaluate", "--data", data, "--checkpoint", "/nonexistent/ckpt", "--protocol", "songs", "--longform",
                "x")
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == ["error: --longform 'x': expected one of blend, consensus, inpaint"], proc.stderr
