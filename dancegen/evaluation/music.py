"""The test songs' music for one evaluation: each song's audio decoded at most once (by the project's one audio
loader, :func:`dancegen.features.audio.load_audio`) and its music beats found at most once, for the whole song, then
cut into every clip that needs them.

Beats come from the data set's saved ``beats/NNN.npy`` (times in seconds) or from librosa beat tracking
(:func:`dancegen.metrics.music_beats`) on the song's whole audio; either way a song's beats are frames of the song
(at the protocol's scoring rate, 30 or 60 FPS), and a clip's beats are those inside it, counted from its first frame
(:func:`beats_in_clip`). The ``gcdance`` protocol instead tracks beats on each clip's own 4-s audio, as GCDance's
``eval/eval_beat.py`` reads the sliced wav (``per_clip``; each distinct clip tracked once).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..motion.layout import FPS
from .protocols import Clip, clip_audio

BEAT_SOURCES = ("auto", "saved", "audio")
SAVED_SOURCE = "saved (beats/NNN.npy, seconds → frames)"
AUDIO_SOURCE = "audio (librosa beat tracking on each test song's whole audio, dancegen.metrics.music_beats)"
CLIP_SOURCE = ("audio per clip (librosa beat tracking on each clip's own audio, dancegen.metrics.music_beats, "
               "as GCDance's eval_beat.py)")


class Song:
    """One test song: its audio file, its saved beats file (None: beats from the audio), and both read once."""

    def __init__(self, song_id: str, audio: Path | None, saved_beats: Path | None = None, fps: int = FPS,
                 per_clip: bool = False) -> None:
        self.id, self.audio, self.saved_beats = song_id, audio, saved_beats
        self.fps, self.per_clip = fps, per_clip
        self._clip_beats: dict[tuple[int, int], np.ndarray] = {}

    @cached_property
    def wave(self) -> tuple[np.ndarray, int]:
        """(mono float32 samples, sample rate) of the whole song."""
        from ..features.audio import load_audio

        if self.audio is None:
            raise DataError(f"test song {self.id} has no audio file")
        return load_audio(self.audio)

    @cached_property
    def beats(self) -> np.ndarray:
        """Music-beat frames (at ``fps``) of the whole song: the saved beats, else librosa on the whole audio."""
        if self.saved_beats is not None:
            seconds = np.asarray(np.load(self.saved_beats, allow_pickle=False), dtype=np.float64)
            return np.round(seconds * self.fps).astype(np.int64)
        from ..metrics import music_beats

        return np.asarray(music_beats(*self.wave, fps=self.fps), dtype=np.int64)

    def clip_wave(self, clip: Clip) -> np.ndarray:
        """The song's samples under ``clip``."""
        y, sr = self.wave
        return clip_audio(y, sr, clip)

    def clip_beats(self, clip: Clip) -> np.ndarray:
        """Music-beat frames inside ``clip``, from its start, at ``fps``: the song's beats inside it, or (``per_clip``)
        beats tracked on the clip's own audio (once per clip span)."""
        ratio = self.fps // FPS
        if not self.per_clip:
            frames = self.beats - clip.start * ratio
            return frames[(frames >= 0) & (frames < clip.frames * ratio)]
        span = (clip.start, clip.frames)
        if span not in self._clip_beats:
            from ..metrics import music_beats

            self._clip_beats[span] = np.asarray(music_beats(self.clip_wave(clip), self.wave[1], fps=self.fps),
                                                dtype=np.int64)
        return self._clip_beats[span]


class Songs(dict[str, Song]):
    """Song id → :class:`Song` for the test songs, with ``source``: where their beats come from (the report's
    ``beats_source``)."""

    source: str

    def clip_beats(self, clips: Iterable[Clip]) -> list[np.ndarray]:
        """Music-beat frames of each clip, from its song's beats (found once per song)."""
        return [self[c.sequence_id].clip_beats(c) for c in clips]


def load_songs(data: Path, sequences: Iterable[object], mode: str = "auto", fps: int = FPS,
               per_clip: bool = False) -> Songs:
    """The :class:`Songs` of ``sequences`` (data-set sequences with ``id`` and ``audio``) under beat source ``mode``:
    ``saved`` (``data/beats/NNN.npy``, all of them required), ``audio`` (librosa) or ``auto`` (``per_clip``: beats
    tracked on each clip's audio; otherwise saved when every song has them, else audio). Beat frames are at ``fps``.
    Nothing is decoded or tracked here; a bad ``mode`` or missing saved beats raise at once."""
    if mode not in BEAT_SOURCES:
        raise DataError(f"unknown beat source {mode!r}; choose one of {', '.join(BEAT_SOURCES)}")
    seqs = list(sequences)
    saved = {s.id: data / "beats" / f"{s.id}.npy" for s in seqs}  # type: ignore[attr-defined]
    have_saved = all(p.is_file() for p in saved.values())
    if mode == "saved" and not have_saved:
        raise DataError(f"--beats saved: {data / 'beats'} lacks beat files for some test songs")
    clip_mode = per_clip and mode == "auto"
    use_saved = mode == "saved" or (mode == "auto" and have_saved and not clip_mode)
    songs = Songs()
    for s in seqs:
        songs[s.id] = Song(s.id, s.audio, saved[s.id] if use_saved else None, fps,  # type: ignore[attr-defined]
                           clip_mode)
    songs.source = CLIP_SOURCE if clip_mode else SAVED_SOURCE if use_saved else AUDIO_SOURCE
    if fps != FPS:
        songs.source += f", frames at {fps} FPS"
    return songs
