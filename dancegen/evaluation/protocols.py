"""Evaluation protocols as named objects: which clips are generated, which joints are scored, what the ground truth is.

``gcdance`` (GCDance paper, Table I): test songs cut in 4-s slices at a 2-s stride, each slice generated on its own;
FID_k / Div_k for the body (SMPL-X joints 0–21) and the hands (25–54), BAS, PFC, PBC, FSR and genre-control
accuracy; the ground truth is the test slices.

``lodge`` (FineDance / LODGE tables): whole test songs of at most 1024 frames; body joints; FID_k, FID_g, Div_k,
Div_g, BAS, FSR, PFC; the ground truth is every sequence of the data set (train and test).

``songs`` (whole-song quality, no published counterpart): every test song generated whole, at its full length, by
the pipeline's long-form sampling; the whole-song figures of :mod:`dancegen.metrics.longform` (seam ratio, height
drift, floor deviation, contact skating, floor penetration, joint speed) and BAS over the song; the ground truth is
the test songs themselves, scored the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DancegenError
from ..motion.layout import FPS, ROOT


@dataclass(frozen=True)
class Protocol:
    """How clips are cut, which data-set split is the ground truth and which metrics are reported.

    ``clip_frames``/``stride``: fixed-length slices (``None``: whole sequences cut to ``max_frames``).
    ``gt_split``: the data-set split whose clips are the ground-truth reference of the generated row.
    ``metrics``: the report's columns, in order (see :data:`METRICS`).
    ``whole_song``: score whole-song figures (:func:`~dancegen.evaluation.scoring.score_songs`) instead of clip
    metrics against a reference set; generation always goes through the pipeline's long-form sampling.
    """

    name: str
    description: str
    clip_frames: int | None
    stride: int | None
    max_frames: int | None
    gt_split: str
    metrics: tuple[str, ...]
    hands: bool
    whole_song: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "description": self.description, "clip_frames": self.clip_frames,
                "stride": self.stride, "max_frames": self.max_frames, "gt_split": self.gt_split,
                "metrics": list(self.metrics), "whole_song": self.whole_song}


#: Metric key → (display name, which is better: "lower", "higher" or "closest" to the GT row). PBC subtracts the PFC
#: term and goes negative for bad foot contact, so neither lower nor higher is simply better: closest to GT. The
#: ``songs`` figures are means over songs; a real dance has a seam ratio near 1 and its own liveliness, so seam ratio
#: and joint speed are closest-to-GT; height drift is the mean of |drift| (a sinking and a rising song do not cancel);
#: the share of contact frames is shown next to skating, which only counts those frames (closest to GT).
METRICS: dict[str, tuple[str, str]] = {
    "fid_k_hand": ("FID_k hand", "lower"),
    "fid_k_body": ("FID_k body", "lower"),
    "div_k_hand": ("Div_k hand", "higher"),
    "div_k_body": ("Div_k body", "higher"),
    "fid_k": ("FID_k", "lower"),
    "fid_g": ("FID_g", "lower"),
    "div_k": ("Div_k", "higher"),
    "div_g": ("Div_g", "higher"),
    "bas": ("BAS", "higher"),
    "pfc": ("PFC", "lower"),
    "pbc": ("PBC", "closest"),
    "fsr": ("FSR", "lower"),
    "genre_acc": ("Genre acc", "higher"),
    "seam_ratio": ("Seam ratio", "closest"),
    "height_drift": ("|Drift| m", "lower"),
    "floor_deviation": ("Floor dev m", "lower"),
    "contact_skating": ("Skating m/s", "lower"),
    "contact_fraction": ("Contacts", "closest"),
    "penetration_max": ("Penetration m", "lower"),
    "joint_speed": ("Speed m/s", "closest"),
}

GCDANCE = Protocol(
    name="gcdance",
    description="4-s test slices at a 2-s stride, each generated independently; body = SMPL-X joints 0-21, "
                "hands = 25-54; GT = the test slices",
    clip_frames=120, stride=60, max_frames=None, gt_split="test",
    metrics=("fid_k_hand", "fid_k_body", "div_k_hand", "div_k_body", "bas", "pfc", "pbc", "fsr", "genre_acc"),
    hands=True,
)
LODGE = Protocol(
    name="lodge",
    description="whole test songs of at most 1024 frames; body joints (SMPL-24 order for FID_g); "
                "GT = all sequences of the data set",
    clip_frames=None, stride=None, max_frames=1024, gt_split="all",
    metrics=("fid_k", "fid_g", "div_k", "div_g", "bas", "fsr", "pfc"),
    hands=False,
)
SONGS = Protocol(
    name="songs",
    description="every test song generated whole (full length, long-form sampling, one pipeline call per song); "
                "whole-song figures on body joints; GT = the test songs, contacts from their contact channels, "
                "boundaries of the window plan of each song's length",
    clip_frames=None, stride=None, max_frames=None, gt_split="test",
    metrics=("seam_ratio", "height_drift", "floor_deviation", "contact_skating", "contact_fraction", "penetration_max",
             "joint_speed", "bas"),
    hands=False, whole_song=True,
)
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (GCDANCE, LODGE, SONGS)}


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``, or a :class:`DancegenError` listing the known ones."""
    if name not in PROTOCOLS:
        raise DancegenError(f"unknown evaluation protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


@dataclass
class Clip:
    """One evaluation clip of a data-set sequence: motion frames ``[start, start + frames)`` (319-D, root re-centred
    on the clip's first frame, as in training windows) and the matching audio span."""

    sequence_id: str
    genre: str
    start: int
    frames: int
    motion: np.ndarray
    index: int = 0  # slice number within the song (start = index · stride)
    sliced: bool = True

    @property
    def key(self) -> str:
        """File-name stem of this clip's motion: ``NNN_sliceK`` for slices, ``NNN`` for whole songs."""
        return f"{self.sequence_id}_slice{self.index}" if self.sliced else self.sequence_id


def cut_clips(sequences: object, protocol: Protocol) -> list[Clip]:
    """Cut data-set sequences into the protocol's clips (songs shorter than one slice are skipped)."""
    clips: list[Clip] = []
    for seq in sequences:  # type: ignore[attr-defined]
        motion = np.asarray(seq.motion, dtype=np.float32)
        if protocol.clip_frames is None:
            n = min(len(motion), protocol.max_frames or len(motion))
            clips.append(_clip(seq, 0, n, motion, 0, sliced=False))
            continue
        w, s = protocol.clip_frames, protocol.stride or protocol.clip_frames
        for k, start in enumerate(range(0, len(motion) - w + 1, s)):
            clips.append(_clip(seq, start, w, motion, k))
    return clips


def _clip(seq: object, start: int, frames: int, motion: np.ndarray, index: int, sliced: bool = True) -> Clip:
    part = np.array(motion[start:start + frames], dtype=np.float32)
    part[:, ROOT] -= part[0, ROOT]
    return Clip(seq.id, seq.genre_name, start, frames, part, index, sliced)  # type: ignore[attr-defined]


def clip_audio(audio: np.ndarray, sr: int, clip: Clip) -> np.ndarray:
    """The samples of ``audio`` (a whole song at ``sr`` Hz) under ``clip``."""
    a = round(clip.start * sr / FPS)
    b = round((clip.start + clip.frames) * sr / FPS)
    return audio[a:b]


def beats_in_clip(song_frames: np.ndarray, clip: Clip) -> np.ndarray:
    """A song's beat frames (30 FPS) → those inside ``clip``, counted from its first frame (``frame − start``)."""
    frames = np.asarray(song_frames, dtype=np.int64) - clip.start
    return frames[(frames >= 0) & (frames < clip.frames)]


def seconds_to_frames(beats_seconds: np.ndarray) -> np.ndarray:
    """Beat times (seconds) → 30-FPS frame indices (``round(t · 30)``)."""
    return np.round(np.asarray(beats_seconds, dtype=np.float64) * FPS).astype(np.int64)


def saved_beats(beats_seconds: np.ndarray, clip: Clip) -> np.ndarray:
    """Saved song beats (seconds) → frame indices inside ``clip`` (``round(t · 30) − start``, kept in range)."""
    return beats_in_clip(seconds_to_frames(beats_seconds), clip)
