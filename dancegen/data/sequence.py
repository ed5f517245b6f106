"""What every data loader returns: whole sequences (319-D motion at 30 FPS plus audio and labels) and a report
of everything that was skipped, ignored or truncated, so nothing is dropped silently."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import DataError
from ..genre.genres import GENRE_SETS, GenreSet
from ..motion.layout import FPS

OnError = Literal["raise", "skip"]


@dataclass
class Sequence:
    """One dance: ``motion`` (T, 319) float32 at 30 FPS, its music file and genre.

    ``genre`` indexes the loader's genre set (``genre_table``, a built-in set of :mod:`dancegen.genre.genres`:
    ``"finedance"`` = the 16 FineDance genres, ``"aist"`` = the 10 AIST++ genres). ``song_id`` keys the feature
    cache (several AIST++ dances share one song). ``hands_present`` is False when the source has no finger data
    (AIST++: SMPL 24 joints mapped into the 52-joint layout with the hands at rest): hand channels then hold the rest
    pose and the training losses leave them out (the ``hands`` batch field, :func:`dancegen.losses.task_loss_terms`).
    """

    id: str
    motion: np.ndarray
    genre: int
    genre_name: str
    song_id: str
    audio: Path | None
    genre_table: str = "finedance"
    hands_present: bool = True

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])


@dataclass
class DataReport:
    """Counts and reasons for everything a loader did not load as-is."""

    source: str
    root: str
    split: str
    loaded: int = 0
    frames: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # id → reason
    ignored: list[str] = field(default_factory=list)  # ids excluded by the split's ignore list
    truncated: dict[str, tuple[int, int]] = field(default_factory=dict)  # id → (motion frames, music frames)
    notes: list[str] = field(default_factory=list)

    def problem(self, seq_id: str, message: str, on_error: OnError) -> None:
        """Raise ``message`` as a :class:`DataError`, or record ``seq_id`` as skipped with that reason."""
        if on_error == "raise":
            raise DataError(message)
        self.skipped[seq_id] = message

    @property
    def minutes(self) -> float:
        return self.frames / FPS / 60.0

    def summary(self) -> str:
        """One line: loaded, minutes, skipped, ignored, truncated."""
        return (
            f"{self.source} {self.split}: {self.loaded} sequences ({self.minutes:.1f} min) loaded, "
            f"{len(self.skipped)} skipped, {len(self.ignored)} ignored, {len(self.truncated)} truncated "
            f"(music/motion length mismatch)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "root": self.root, "split": self.split, "loaded": self.loaded,
            "frames": self.frames, "minutes": round(self.minutes, 3), "skipped": dict(self.skipped),
            "ignored": list(self.ignored), "truncated": {k: list(v) for k, v in self.truncated.items()},
            "notes": list(self.notes),
        }


@dataclass
class SequenceSet:
    """The sequences of one split plus the loader's :class:`DataReport`.

    ``genres`` are the data set's genre names in index order (what ``Sequence.genre`` indexes) and ``genre_table``
    names its genre set; :attr:`genre_set` is that :class:`~dancegen.genre.genres.GenreSet`, which training gives
    the genre controller and records in the checkpoint.
    """

    sequences: list[Sequence]
    report: DataReport
    genres: tuple[str, ...]
    genre_table: str = "finedance"

    @property
    def genre_set(self) -> GenreSet:
        """The :class:`~dancegen.genre.genres.GenreSet` of ``genre_table`` when its names are ``genres``, else a
        plain set of ``genres`` (no aliases) named after ``genre_table``."""
        built_in = GENRE_SETS.get(self.genre_table)
        if built_in is not None and built_in.genres == tuple(self.genres):
            return built_in
        return GenreSet(self.genre_table or "custom", self.genres)

    @property
    def hands_present(self) -> bool:
        """Whether every sequence has finger data (False for AIST++)."""
        return all(s.hands_present for s in self.sequences)

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[Sequence]:
        return iter(self.sequences)

    def __getitem__(self, index: int) -> Sequence:
        return self.sequences[index]

    def genre_counts(self) -> dict[str, int]:
        return dict(Counter(s.genre_name for s in self.sequences))


def check_motion(motion: np.ndarray, channels: int, what: str) -> str | None:
    """Why ``motion`` is unusable ((T, channels) with T ≥ 1, finite), or None when it is fine."""
    if motion.ndim != 2 or motion.shape[1] != channels:
        return f"{what}: expected a (T, {channels}) array, got shape {motion.shape}"
    if motion.shape[0] < 1:
        return f"{what}: the motion has no frames"
    if not np.isfinite(motion).all():
        return f"{what}: {int((~np.isfinite(motion)).sum())} motion values are NaN or infinite"
    return None


def audio_frames(path: Path) -> int:
    """Whole 30-FPS frames in an audio file, from its header (no decoding)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise DataError(f"cannot read audio file {path}: {exc}".replace("\n", " ")) from None
    return (int(info.frames) * FPS) // int(info.samplerate)
