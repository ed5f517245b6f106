"""Multi-process training data: the feature cache filled by several ranks at once (each song encoded once, under
its lock), memory-mapped entries, and barriers that fail with one line instead of hanging."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dancegen.data import FeatureCache, WindowDataset
from dancegen.errors import DancegenError, DataError
from dancegen.features import build_music_encoder

WORKER = Path(__file__).parent / "workers" / "scale_worker.py"


def _songs(folder: Path, n: int, seconds: float = 5.0) -> dict[str, str]:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    songs = {}
    for k in range(n):
        path = folder / f"song{k}.wav"
        t = np.arange(int(15360 * seconds)) / 15360
        y = 0.3 * np.sin(2 * np.pi * (110 + 40 * k) * t) + 0.05 * rng.standard_normal(len(t))
        sf.write(path, y.astype(np.float32), 15360)
        songs[f"song{k}"] = str(path)
    return songs


def _run(*args: str, nproc: int | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = [sys.executable] if nproc is None else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", str(nproc)]
    return subprocess.run([*base, str(WORKER), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


def test_ranks_fill_one_cache_together_each_song_once(tmp_path: Path) -> None:
    songs = _songs(tmp_path / "wav", 6)
    (tmp_path / "songs.json").write_text(json.dumps(songs))
    out = tmp_path / "out"
    out.mkdir()
    proc = _run("fill", str(out), str(tmp_path / "cache"), str(tmp_path / "songs.json"), nproc=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    assert sum(c["computed"] for c in counts) == 6  # every song encoded exactly once in all
    assert all(c["computed"] >= 1 for c in counts)  # and both ranks did part of the work
    assert all(c["computed"] + c["cached"] == 6 for c in counts)
    cache = FeatureCache(tmp_path / "cache", build_music_encoder("stft"))
    reference = FeatureCache(tmp_path / "single", build_music_encoder("stft"))
    for song, audio in songs.items():  # the same features one process computes alone
        np.testing.assert_array_equal(cache.load(song, audio), reference.get(song, audio))


def test_open_maps_the_entry_and_windows_use_the_map(tmp_path: Path) -> None:
    from dancegen.data.sequence import Sequence

    songs = _songs(tmp_path / "wav", 2, seconds=6.0)
    cache = FeatureCache(tmp_path / "cache", build_music_encoder("stft"))
    cache.fill(songs.items(), progress=False)
    mapped = cache.open("song0", songs["song0"])
    assert isinstance(mapped, np.memmap)
    assert not mapped.flags.writeable
    np.testing.assert_array_equal(np.asarray(mapped), cache.load("song0", songs["song0"]))
    rng = np.random.default_rng(1)
    seqs = [Sequence(id=s, motion=rng.standard_normal((180, 319)).astype(np.float32), genre=0, genre_name="Breaking",
                     song_id=s, audio=Path(a)) for s, a in songs.items()]
    from_cache = WindowDataset(seqs, cache, "train")
    in_memory = WindowDataset(seqs, {s: cache.load(s, a) for s, a in songs.items()}, "train")
    assert all(isinstance(f, np.memmap) for f in from_cache.features.values())
    assert len(from_cache) == len(in_memory) > 0
    for i in (0, len(from_cache) - 1):
        np.testing.assert_array_equal(from_cache[i]["music"].numpy(), in_memory[i]["music"].numpy())
    assert cache.open("song0", tmp_path / "wav" / "song1.wav") is None  # stale for another audio file


def test_a_song_held_by_another_process_times_out_with_one_line(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "cache", build_music_encoder("stft"))
    held = "timed out after 0 s waiting for another process"
    with cache.locked("song0"), pytest.raises(DataError, match=held), cache.locked("song0", timeout=0.2):
        pass
    with cache.locked("song0", timeout=0.2):  # released: free again
        pass


def test_barrier_fails_with_one_line_when_a_rank_never_arrives(tmp_path: Path) -> None:
    proc = _run("barrier", str(tmp_path), nproc=2, env={"DANCEGEN_DIST_TIMEOUT": "2"})
    result = json.loads((tmp_path / "rank0.json").read_text())
    assert result["error"] is not None, proc.stderr[-2000:]
    assert result["error"].startswith("rank 0: timed out after 2 s waiting for the feature cache")
    assert "\n" not in result["error"]
    assert 1.5 < result["seconds"] < 30


def test_bad_timeout_setting_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from dancegen.train.distributed import DEFAULT_TIMEOUT, dist_timeout

    monkeypatch.delenv("DANCEGEN_DIST_TIMEOUT", raising=False)
    assert dist_timeout() == DEFAULT_TIMEOUT
    for bad in ("0", "-3", "soon", "inf"):
        monkeypatch.setenv("DANCEGEN_DIST_TIMEOUT", bad)
        with pytest.raises(DancegenError, match="DANCEGEN_DIST_TIMEOUT must be a positive number"):
            dist_timeout()
