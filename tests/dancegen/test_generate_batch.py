"""``dancegen generate`` on several songs (files, a folder, a quoted glob pattern): the model is loaded once, each
song gets its own locked folder, a bad song is reported in one line and the others go on. Real subprocess runs of
the bundled model on songs dancegen's procedural music synthesiser writes (1 DDIM step)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dancegen.cli.generate import BAD_INPUT_EXIT, FAILED_EXIT, _finish_batch, _Outcome
from dancegen.cli.song_inputs import expand_songs, is_batch, song_folders

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def write_song(path: Path, genre: str = "Jazz", seconds: float = 4.0, seed: int = 0) -> Path:
    """A short song of ``genre`` from dancegen's music synthesiser, written as a wav."""
    import soundfile as sf

    from dancegen.data.synth.music import synthesize
    from dancegen.data.synth.styles import STYLES

    song = synthesize(STYLES[genre].music, seconds, 22050, np.random.default_rng(seed))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, song.audio, song.sr)
    return path


def dancegen(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dancegen", *map(str, args)], env=ENV, capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_batch_loads_once_reports_a_corrupt_song_and_writes_the_others(tmp_path: Path) -> None:
    songs = tmp_path / "songs"
    write_song(songs / "b_song.wav", "Jazz", seed=1)
    write_song(songs / "a_song.wav", "Breaking", seed=2)
    (songs / "c_broken.wav").write_bytes(b"RIFF" + bytes(range(256)) * 40)  # a wav header, then garbage
    (songs / "notes.txt").write_text("not a song")  # a folder contributes its audio files only
    write_song(tmp_path / "more" / "a_song.wav", "Dai", seed=3)  # same stem as songs/a_song.wav
    out = tmp_path / "dances"
    proc = dancegen("generate", songs, str(tmp_path / "more" / "*.wav"), "--genre", "Jazz", "--steps", "1",
                    "--format", "npz", "--out", out, "--json", "--no-progress")
    assert proc.returncode == BAD_INPUT_EXIT, proc.stderr  # an undecodable song is a bad input
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"error: {songs / 'c_broken.wav'}: ")
    assert sum("loading the model" in line for line in lines) == 1, proc.stderr  # one model for every song
    assert [line.split(" → ")[0] for line in lines if line.startswith("song ")] == [
        "song 1/4 a_song.wav", "song 2/4 b_song.wav", "song 3/4 c_broken.wav", "song 4/4 a_song.wav"]
    assert lines[-1] == "3 ok / 1 failed"

    results = json.loads(proc.stdout)  # a list: one entry per song, in order
    assert [r["status"] for r in results] == ["ok", "ok", "bad input", "ok"]
    assert [Path(r["out"]).name for r in results if r["status"] == "ok"] == ["a_song", "b_song", "a_song-2"]
    assert results[2]["song"] == str(songs / "c_broken.wav")
    assert results[0]["genre"]["genre"] == "Jazz"
    assert sorted(p.name for p in out.iterdir()) == ["a_song", "a_song-2", "b_song"]  # no lock or stage left
    for r in results:
        if r["status"] == "ok":
            folder = Path(r["out"])
            assert sorted(p.name for p in folder.iterdir()) == ["generation.json", "motion.npz"]
            assert json.loads((folder / "generation.json").read_text())["song"] == r["song"]
            assert Path(r["files"]["0"]["npz"]).is_file()
    assert json.loads((out / "a_song-2" / "generation.json").read_text())["song"] == str(tmp_path / "more" /
                                                                                         "a_song.wav")

    # a second run replaces the song folders (dancegen's own files) and prints the table
    again = dancegen("generate", str(songs / "a_*.wav"), "--genre", "Jazz", "--steps", "1", "--format", "bvh",
                     "--out", out)
    assert again.returncode == 0, again.stderr
    assert str(songs / "a_song.wav") in again.stdout  # the table
    assert again.stderr.strip().splitlines()[-1] == "1 ok / 0 failed"
    assert sorted(p.name for p in (out / "a_song").iterdir()) == ["dance.bvh", "generation.json"]


def test_batch_with_no_usable_input_exits_2_before_loading_the_model(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "song.txt").write_text("la la la")
    (tmp_path / "blank.wav").write_bytes(b"")
    proc = dancegen("generate", tmp_path / "missing.wav", tmp_path / "song.txt", tmp_path / "empty",
                    tmp_path / "blank.wav", str(tmp_path / "*.mp3"), "--genre", "Jazz", "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [  # one line each, nothing else: no model was loaded
        f"error: {tmp_path / 'missing.wav'}: not found",
        f"error: {tmp_path / 'song.txt'}: unsupported file type '.txt'; songs are wav, flac, ogg, mp3 files",
        f"error: {tmp_path / 'empty'}: the folder holds no song (wav, flac, ogg, mp3 files)",
        f"error: {tmp_path / 'blank.wav'}: the file is empty (0 bytes)",
        f"error: {tmp_path / '*.mp3'}: the pattern matches no song (wav, flac, ogg, mp3 files)",
    ], proc.stderr
    assert proc.stdout == ""
    assert not (tmp_path / "out").exists()


def test_batch_option_errors_are_one_line(tmp_path: Path) -> None:
    write_song(tmp_path / "a.wav", seconds=1.0)
    proc = dancegen("generate", tmp_path / "a.wav", tmp_path / "a.wav", "--genre", "Jazz", "--format", "gif")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "unknown export format" in proc.stderr


def test_song_arguments(tmp_path: Path) -> None:
    a = write_song(tmp_path / "x" / "Song.wav", seconds=0.5)
    b = write_song(tmp_path / "y" / "song.flac", seconds=0.5)
    assert not is_batch([a])  # one file: the single-song layout
    assert not is_batch([tmp_path / "nope.wav"])  # (reported as today: not found)
    assert is_batch([a, b])
    assert is_batch([tmp_path / "x"])
    assert is_batch([Path(str(tmp_path / "*" / "*.wav"))])
    songs, bad = expand_songs([tmp_path / "x", a, Path(str(tmp_path / "*" / "song.*"))])
    assert songs == [a, b]  # a file named twice is generated once
    assert bad == []
    assert song_folders(songs, tmp_path / "out") == [tmp_path / "out" / "Song", tmp_path / "out" / "song-2"]
    assert song_folders(songs, None) == [Path("Song-dance"), Path("song-2-dance")]


def test_exit_status_of_a_batch(capsys: pytest.CaptureFixture[str]) -> None:
    ok = _Outcome("a.wav", "ok", summary={"song": "a.wav", "out": "a", "genre": {"genre": "Jazz"}, "duration": 1.0})
    failed = _Outcome("b.wav", "failed", error="generation failed: boom")
    bad = _Outcome("c.wav", "bad input", error="not found")
    assert _finish_batch([ok], as_json=True) == 0
    assert _finish_batch([ok, failed], as_json=True) == FAILED_EXIT == 1
    assert _finish_batch([ok, failed, bad], as_json=True) == BAD_INPUT_EXIT == 2
    out = capsys.readouterr()
    assert json.loads(out.out.split("\n]\n")[0] + "\n]") == [{"song": "a.wav", "out": "a", "genre": {"genre": "Jazz"},
                                                              "duration": 1.0, "status": "ok"}]
    assert out.err.splitlines() == ["1 ok / 0 failed", "1 ok / 1 failed", "1 ok / 2 failed"]
