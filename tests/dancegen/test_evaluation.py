"""Evaluation protocols on a tiny procedural data set: slicing, --motions with ground-truth motions, report fields,
CLI errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dancegen.data import load_finedance
from dancegen.errors import DancegenError, DataError
from dancegen.evaluation import LODGE, SLICES, cut_clips, evaluate, get_protocol
from dancegen.evaluation.protocols import saved_beats
from dancegen.export import write_edge_pkl, write_npz
from dancegen.motion import ROOT, Skeleton

GENRES = ["Breaking", "Jazz", "Dai"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dancegen.data.synth import build

    root = tmp_path_factory.mktemp("eval") / "tiny"
    build(root, songs_per_genre=1, seconds=8, genres=GENRES)
    return root


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dancegen", *args], capture_output=True, text=True, timeout=120)


def test_slices_slicing(data: Path) -> None:
    test = load_finedance(data, split="test")
    clips = cut_clips(test, SLICES)
    # 8 s = 240 frames: slices start at 0, 60, 120 (4 s long, 2-s stride)
    assert len(clips) == 3 * len(test)
    assert [c.start for c in clips[:3]] == [0, 60, 120]
    assert [c.key for c in clips[:3]] == [f"{test[0].id}_slice{k}" for k in range(3)]
    for c in clips:
        assert c.motion.shape == (120, 319)
        np.testing.assert_allclose(c.motion[0, ROOT], 0.0, atol=1e-6)  # re-centred like training windows
    seq = test[0].motion
    np.testing.assert_allclose(clips[1].motion[:, 7:], seq[60:180, 7:])  # rotations untouched


def test_lodge_whole_songs(data: Path) -> None:
    seqs = load_finedance(data, split="all")
    clips = cut_clips(seqs, LODGE)
    assert len(clips) == len(seqs)
    assert all(c.frames == min(s.num_frames, 1024) and not c.sliced for c, s in zip(clips, seqs))
    assert clips[0].key == seqs[0].id


def test_saved_beats_to_clip_frames() -> None:
    clip = cut_clips([], SLICES)  # empty input gives no clips
    assert clip == []
    from dancegen.evaluation.protocols import Clip

    c = Clip("001", "Jazz", 60, 120, np.zeros((120, 319), np.float32), 1)
    frames = saved_beats(np.array([1.0, 2.0, 2.5, 5.9, 6.0]), c)  # seconds
    assert frames.tolist() == [0, 15, 117]  # 60, 75, 177 minus start 60; 180 is past the clip


def test_unknown_protocol() -> None:
    with pytest.raises(DancegenError, match="unknown evaluation protocol"):
        get_protocol("nope")


def _export_slices(data: Path, out: Path) -> None:
    """Write every GT test slice as NNN_sliceK.npz (our export format)."""
    out.mkdir()
    for c in cut_clips(load_finedance(data, split="test"), SLICES):
        write_npz(out / f"{c.key}.npz", c.motion, genre=c.genre)


def test_motions_gt_slices_fid_zero(data: Path, tmp_path: Path) -> None:
    _export_slices(data, tmp_path / "m")
    report = evaluate(data, "slices", motions=tmp_path / "m", cache_dir=tmp_path / "cache")
    gen = report["generated"]["metrics"]
    assert abs(gen["fid_k_body"]["mean"]) < 1e-3
    assert abs(gen["fid_k_hand"]["mean"]) < 1e-3
    assert report["protocol"]["name"] == "slices"
    assert report["sampling"] is None
    assert "differs: PFC/PBC with y as up (the data's axis; the official code uses z)" in report["deviations"]
    assert report["skeleton"] == {"source": Skeleton.default().source, "kind": "approximate"}
    assert report["gt_set"]["split"] == "test"
    assert report["gt_set"]["clips"] == 9
    assert report["beats_source"].startswith("saved")
    assert report["generated"]["clips"] == 9
    assert report["generated"]["source"]["kind"] == "motions"
    # the GT row: the same songs are train and test here, so its FIDs vanish too, and it says so
    gt = report["gt_row"]
    assert abs(gt["metrics"]["fid_k_body"]) < 1e-3
    assert any("same songs" in n for n in gt["notes"])
    # scoring the GT as "generated" must reproduce the GT row's clip-level metrics
    for key in ("bas", "pfc", "pbc", "fsr", "div_k_body", "genre_acc"):
        assert gen[key]["mean"] == pytest.approx(gt["metrics"][key], rel=1e-6, abs=1e-9), key
    assert 0.0 < gt["metrics"]["bas"] <= 1.0
    clf = report["genre_classifier"]
    assert set(clf["classes"]) == set(GENRES)
    assert clf["held_out_accuracy"] is not None
    assert (tmp_path / "cache" / "genre_classifier").is_dir()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of the real librosa beat tracker's and the project's audio loader's calls (both still run)."""
    import librosa

    import dancegen.features.audio as audio

    counts = {"beat_track": 0, "load_audio": 0}

    def counting(module: object, name: str) -> None:
        real = getattr(module, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            counts[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    counting(librosa.beat, "beat_track")
    counting(audio, "load_audio")
    return counts


def test_audio_beats_once_per_song(data: Path, tmp_path: Path, counted: dict[str, int]) -> None:
    """--beats audio: each test song is decoded once and beat-tracked once (whole song), for the generated row and
    the GT row alike; a clip's beats are the song's beats inside it."""
    from dancegen.evaluation import load_songs
    from dancegen.metrics import music_beats

    _export_slices(data, tmp_path / "m")
    report = evaluate(data, "slices", motions=tmp_path / "m", beats="audio", cache_dir=tmp_path / "cache")
    test = load_finedance(data, split="test")
    assert counted == {"beat_track": len(test), "load_audio": len(test)} == {"beat_track": 3, "load_audio": 3}
    assert report["beats_source"].startswith("audio")
    gen, gt = report["generated"]["metrics"], report["gt_row"]["metrics"]
    assert 0.0 < gt["bas"] <= 1.0
    assert gen["bas"]["mean"] == pytest.approx(gt["bas"], rel=1e-9)  # the same beats for both rows
    # a clip's beats are the whole song's beats inside it, from its first frame
    songs = load_songs(data, test, "audio")
    song = songs[test[0].id]
    whole = music_beats(*song.wave)
    clip = cut_clips(test, SLICES)[1]
    assert (clip.sequence_id, clip.start) == (song.id, 60)
    expected = whole[(whole >= 60) & (whole < 180)] - 60
    np.testing.assert_array_equal(songs.clip_beats([clip])[0], expected)
    assert expected.size > 0
    # saved beats (auto, every song has them): no beat tracking at all
    counted.update(beat_track=0)
    assert evaluate(data, "slices", motions=tmp_path / "m", cache_dir=tmp_path / "cache")["beats_source"].startswith(
        "saved")
    assert counted["beat_track"] == 0


def test_evaluation_imports_no_training_and_no_own_audio_reader() -> None:
    """Evaluation reads skeletons with dancegen.motion.skeleton_files and audio with dancegen.features.audio only."""
    import ast

    import dancegen.evaluation

    for path in Path(dancegen.evaluation.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                name = "." * node.level + (node.module or "")
                assert not name.startswith(("..train", "dancegen.train")), (path.name, name)
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(n.split(".")[0] in ("soundfile", "audioread") for n in names), (path.name, names)


def test_motions_whole_songs_and_edge_pkl(data: Path, tmp_path: Path) -> None:
    (tmp_path / "npz").mkdir()
    (tmp_path / "pkl").mkdir()
    for s in load_finedance(data, split="test"):
        write_npz(tmp_path / "npz" / f"{s.id}.npz", s.motion)
        write_edge_pkl(tmp_path / "pkl" / f"test_{s.id}.pkl", s.motion)
    whole = evaluate(data, "slices", motions=tmp_path / "npz", cache_dir=tmp_path / "c")
    assert whole["generated"]["clips"] == 9
    assert abs(whole["generated"]["metrics"]["fid_k_body"]["mean"]) < 1e-3
    lodge = evaluate(data, "lodge", motions=tmp_path / "pkl", cache_dir=tmp_path / "c")
    m = lodge["generated"]["metrics"]
    assert lodge["protocol"]["name"] == "lodge"
    assert lodge["gt_set"]["split"] == "all"
    assert abs(m["fid_k"]["mean"]) < 1e-3
    assert abs(m["fid_g"]["mean"]) < 1e-3
    assert lodge["genre_classifier"] is None


def test_motions_unmatched_file(data: Path, tmp_path: Path) -> None:
    _export_slices(data, tmp_path / "m")
    shutil.copy(next((tmp_path / "m").glob("*.npz")), tmp_path / "m" / "song_x.npz")
    with pytest.raises(DataError, match=r"match no gcdance test clip.*song_x\.npz"):
        evaluate(data, "gcdance", motions=tmp_path / "m", cache_dir=tmp_path / "c")
    (tmp_path / "m" / "song_x.npz").unlink()
    with pytest.raises(DataError, match="match no lodge test clip"):  # lodge takes whole songs, not slices
        evaluate(data, "lodge", motions=tmp_path / "m", cache_dir=tmp_path / "c")


def test_cli_motions_json(data: Path, tmp_path: Path) -> None:
    _export_slices(data, tmp_path / "m")
    out = tmp_path / "report.json"
    proc = _cli("evaluate", "--motions", str(tmp_path / "m"), "--data", str(data), "--json", "--out", str(out),
                "--cache-dir", str(tmp_path / "c"), "--sets", "2")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report == json.loads(out.read_text())
    assert report["protocol"]["name"] == "gcdance"  # the default: the paper's protocol
    assert report["generated"]["sets"] == 2
    assert "gt_row" in report
    from rich.console import Console

    from dancegen.evaluation import print_report

    console = Console(record=True, width=200)
    print_report(report, console)
    text = console.export_text()
    assert "FID_k body" in text
    assert "skeleton: approximate" in text
    assert "│ GT " in text
    assert "generated (2 sets)" in text
    assert "deviation: 2 sets of 15 clips per song (the paper: 10 sets of 15)" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "/nonexistent/data", "--motions", "."], "--data directory not found"),
        (["--protocol", "nope"], "unknown evaluation protocol"),
        (["--checkpoint", "/nonexistent/ckpt"], "--checkpoint directory not found"),
        (["--motions", "EMPTY"], "no motion files"),
        (["--motions", "UNMATCHED"], "match no gcdance test clip"),
        (["--motions", "UNMATCHED", "--data", "NOTEST"], "test split"),
    ],
)
def test_cli_errors(data: Path, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "EMPTY").mkdir()
    (tmp_path / "UNMATCHED").mkdir()
    np.savez(tmp_path / "UNMATCHED" / "999_slice0.npz", motion_319=np.zeros((120, 319), np.float32))
    notest = tmp_path / "NOTEST"
    shutil.copytree(data, notest, ignore=shutil.ignore_patterns(".dancegen_*"))
    ids = json.loads((notest / "splits.json").read_text())["train"]
    (notest / "splits.json").write_text(json.dumps({"train": ids, "test": []}))
    subs = {"EMPTY": str(tmp_path / "EMPTY"), "UNMATCHED": str(tmp_path / "UNMATCHED"), "NOTEST": str(notest)}
    full = ["evaluate", *([] if "--data" in args else ["--data", str(data)]), *[subs.get(a, a) for a in args]]
    proc = _cli(*full)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:"), proc.stderr
    assert message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
