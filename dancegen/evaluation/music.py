"""The test songs' music for one evaluation: each song's audio decoded at most once (by the project's one audio
loader, :func:`dancegen.features.audio.load_audio`) and its music beats found at most once, for the whole song, then
cut into every clip that needs them.

Beats come from the data set's saved ``beats/NNN.npy`` (times in seconds) or from librosa beat tracking
(:func:`dancegen.metrics.music_beats`) on the song's whole audio; either way a song's beats are 30-FPS frames of the
song, and a clip's beats are those inside it, counted from its first frame (:func:`beats_in_clip`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import DataError
from .protocols import Clip, beats_in_clip, clip_audio, seconds_to_frames

BEAT_SOURCES = ("auto", "saved", "audio")
SAVED_SOURCE = "saved (beats/NNN.npy, seconds → frames)"
AUDIO_SOURCE = "audio (librosa beat tracking on each test song's whole audio, dancegen.metrics.music_beats)"


class Song:
    """One test song: its audio file, its saved beats file (None: beats from the audio), and both read once."""

    def __init__(self, song_id: str, audio: Path | None, saved_beats: Path | None = None) -> None:
        self.id, self.audio, self.saved_beats = song_id, audio, saved_beats

    @cached_property
    def wave(self) -> tuple[np.ndarray, int]:
        """(mono float32 samples, sample rate) of the whole song."""
        from ..features.audio import load_audio

        if self.audio is None:
            raise DataError(f"test song {self.id} has no audio file")
        return load_audio(self.audio)

    @cached_property
    def beats(self) -> np.ndarray:
        """Music-beat frames (30 FPS) of the whole song: the saved beats, else librosa on the whole audio."""
        if self.saved_beats is not None:
            return seconds_to_frames(np.load(self.saved_beats, allow_pickle=False))
        from ..metrics import music_beats

        return np.asarray(music_beats(*self.wave), dtype=np.int64)

    def clip_wave(self, clip: Clip) -> np.ndarray:
        """The song's samples under ``clip``."""
        y, sr = self.wave
        return clip_audio(y, sr, clip)

    def clip_beats(self, clip: Clip) -> np.ndarray:
        """The song's beats inside ``clip`` (frames from its start)."""
        return beats_in_clip(self.beats, clip)


class Songs(dict[str, Song]):
    """Song id → :class:`Song` for the test songs, with ``source``: where their beats come from (the report's
    ``beats_source``)."""

    source: str

    def clip_beats(self, clips: Iterable[Clip]) -> list[np.ndarray]:
        """Music-beat frames of each clip, from its song's beats (found once per song)."""
        return [self[c.sequence_id].clip_beats(c) for c in clips]


def load_songs(data: Path, sequences: Iterable[object], mode: str = "auto") -> Songs:
    """The :class:`Songs` of ``sequences`` (data-set sequences with ``id`` and ``audio``) under beat source ``mode``:
    ``saved`` (``data/beats/NNN.npy``, all of them required), ``audio`` (librosa) or ``auto`` (saved when every song
    has them). Nothing is decoded or tracked here; a bad ``mode`` or missing saved beats raise at once."""
    if mode not in BEAT_SOURCES:
        raise DataError(f"unknown beat source {mode!r}; choose one of {', '.join(BEAT_SOURCES)}")
    seqs = list(sequences)
    saved = {s.id: data / "beats" / f"{s.id}.npy" for s in seqs}  # type: ignore[attr-defined]
    have_saved = all(p.is_file() for p in saved.values())
    if mode == "saved" and not have_saved:
        raise DataError(f"--beats saved: {data / 'beats'} lacks beat files for some test songs")
    use_saved = mode == "saved" or (mode == "auto" and have_saved)
    songs = Songs()
    for s in seqs:
        songs[s.id] = Song(s.id, s.audio, saved[s.id] if use_saved else None)  # type: ignore[attr-defined]
    songs.source = SAVED_SOURCE if use_saved else AUDIO_SOURCE
    return songs
