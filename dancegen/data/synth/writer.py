"""Write the procedural data set to disk in the FineDance layout (built in a temporary folder, then renamed).

```
OUT/motion/NNN.npy      (T, 315) float32: root translation 3 + 52 joints × rot6d, 30 FPS, y up, metres
OUT/music_wav/NNN.wav   mono 16-bit PCM at ``sr`` Hz (default 15360 = 30 × 512), exactly T / 30 s long
OUT/beats/NNN.npy       (B,) float64 ground-truth beat times in seconds (frame = round(seconds · 30))
OUT/labels.json         [{"name", "style1", "style2", "frames", "filename"}, ...]; genre = style2
OUT/splits.json         {"train": [ids], "test": [ids]}: the last song of every genre is a test song
OUT/synth.json          how it was made: seed, sizes, per-song tempo, meter and beat count
```
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...atomic import make_temp_dir
from ...errors import DataError
from ...genre.genres import GENRES, genre_group, genre_index
from .motion import FPS, perform
from .music import synthesize
from .styles import STYLES

DEFAULT_SONGS_PER_GENRE = 4
DEFAULT_SECONDS = 30.0
DEFAULT_SAMPLE_RATE = 15360
MIN_SECONDS, MAX_SECONDS = 2.0, 600.0


@dataclass
class SynthReport:
    """What :func:`build` wrote: the directory, counts, total minutes and the wall-clock seconds it took."""

    out: Path
    songs: int
    genres: int
    minutes: float
    seconds_taken: float
    train: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"out": str(self.out), "songs": self.songs, "genres": self.genres, "minutes": round(self.minutes, 2),
                "seconds_taken": round(self.seconds_taken, 2), "train": len(self.train), "test": len(self.test)}


def _check_args(songs_per_genre: int, seconds: float, sr: int, genres: list[str]) -> None:
    if songs_per_genre < 1:
        raise DataError(f"--songs-per-genre must be at least 1, got {songs_per_genre}")
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise DataError(f"--seconds must be between {MIN_SECONDS:g} and {MAX_SECONDS:g}, got {seconds:g}")
    if not 8000 <= sr <= 48000:
        raise DataError(f"--sample-rate must be between 8000 and 48000 Hz, got {sr}")
    if not genres:
        raise DataError("no genres selected")


def _prepare_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise DataError(f"{out} is not empty; pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)


def build(out: str | Path, songs_per_genre: int = DEFAULT_SONGS_PER_GENRE, seconds: float = DEFAULT_SECONDS,
          seed: int = 0, sr: int = DEFAULT_SAMPLE_RATE, force: bool = False,
          genres: list[str] | None = None) -> SynthReport:
    """Generate ``songs_per_genre`` songs of ``seconds`` for each genre (all 16 by default) into ``out``.

    Song ``s`` of genre ``g`` is drawn from ``numpy.random.default_rng([seed, g, s])``: the same seed gives
    identical files, and each song is independent of the others and of the set's size. A non-empty ``out`` is
    replaced only with ``force``.
    """
    import soundfile as sf

    names = [GENRES[genre_index(g)] for g in genres] if genres else list(GENRES)
    _check_args(songs_per_genre, seconds, sr, names)
    out = Path(out).expanduser()
    _prepare_out(out, force)
    start = time.perf_counter()
    tmp = make_temp_dir(out.parent, prefix=f".{out.name}.tmp-")
    try:
        for sub in ("motion", "music_wav", "beats"):
            (tmp / sub).mkdir()
        labels: list[dict[str, Any]] = []
        songs: list[dict[str, Any]] = []
        train: list[str] = []
        test: list[str] = []
        n_frames = round(seconds * FPS)
        for genre in names:
            g = genre_index(genre)
            for s in range(songs_per_genre):
                seq_id = f"{len(labels) + 1:03d}"
                rng = np.random.default_rng([seed, g, s])
                song = synthesize(STYLES[genre].music, n_frames / FPS, sr, rng)
                dance = perform(STYLES[genre].dance, song.beats, n_frames, rng)
                np.save(tmp / "motion" / f"{seq_id}.npy", dance.motion)
                sf.write(tmp / "music_wav" / f"{seq_id}.wav", song.audio, sr, subtype="PCM_16")
                np.save(tmp / "beats" / f"{seq_id}.npy", song.beats)
                labels.append({"name": f"synth_{genre}_{s:02d}", "style1": genre_group(genre), "style2": genre,
                               "frames": n_frames, "filename": f"{seq_id}.npy"})
                songs.append({"id": seq_id, "genre": genre, "song": s, "bpm": round(song.bpm, 3),
                              "meter": song.meter, "beats": len(song.beats)})
                (test if s == songs_per_genre - 1 and songs_per_genre > 1 else train).append(seq_id)
        if songs_per_genre == 1:  # no song to hold out: the test split repeats the training songs
            test = list(train)
        (tmp / "labels.json").write_text(json.dumps(labels, indent=1))
        (tmp / "splits.json").write_text(json.dumps({"train": train, "test": test}))
        meta = {"generator": "dancegen data synth", "seed": seed, "songs_per_genre": songs_per_genre,
                "seconds": n_frames / FPS, "fps": FPS, "sample_rate": sr, "beats_unit": "seconds", "songs": songs}
        (tmp / "synth.json").write_text(json.dumps(meta, indent=1))
        if out.exists():
            shutil.rmtree(out) if any(out.iterdir()) else out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SynthReport(out, len(labels), len(names), len(labels) * n_frames / FPS / 60,
                       time.perf_counter() - start, train, test)
