"""Evaluation protocols as named objects: which clips are generated, which joints are scored, what the ground truth is.

``gcdance`` (GCDance paper, Table I, as its published evaluation ``test_10.py`` runs it): every test song cut in 4-s
slices at a 2-s stride; per song a random run of 15 consecutive slices (all of them when a song has 15 or fewer);
10 such sets, each generated and scored on its own against the ground-truth slices of the same clips, every metric
reported as mean ± std over the sets. FID_k / Div_k for the body (SMPL-X joints 0–21) and the hands (25–54), BAS on
all 55 joints with music beats tracked on each clip's own audio, PFC/PBC with z as up (the published code's axis on
y-up data). :attr:`Protocol.conventions` names every quirk reproduced and every difference from that code.

``slices`` (dancegen's every-slice variant of ``gcdance``): every 4-s test slice at a 2-s stride, each generated on
its own; body/hand FID_k and Div_k, BAS on body joints with the whole song's beats, PFC/PBC y up; the ground truth is
every test slice. One set, cheaper to read than ten and deterministic in its clips.

``lodge`` (FineDance / LODGE tables): whole test songs of at most 1024 frames; body joints; FID_k, FID_g, Div_k,
Div_g, BAS, FSR, PFC; the ground truth is every sequence of the data set (train and test).

``songs`` (whole-song quality, no published counterpart): every test song generated whole, at its full length, by
the pipeline's long-form sampling; the whole-song figures of :mod:`dancegen.metrics.longform` (seam ratio, height
drift, floor deviation, contact skating, floor penetration, joint speed) and BAS over the song; the ground truth is
the test songs themselves, scored the same way.

``aist`` (Bailando's AIST++ protocol, which the GCDance paper follows on AIST++): every crossmodal test (and val,
when listed) sequence generated whole; scored at 60 FPS (30-FPS joints interpolated); FID_k / Div_k / FID_g / Div_g
on SMPL-24 joints of the first 20 s (1200 frames at 60 FPS), root-relative at frame 0; the ground truth is every
sequence of the data set at full length; BAS on all 24 joints of the whole generated sequence with music beats
tracked on the whole song at 60 frames per second.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import DancegenError
from ..motion.layout import FPS, ROOT


@dataclass(frozen=True)
class Protocol:
    """How clips are cut and sampled, which data-set split is the ground truth and which metrics are reported.

    ``clip_frames``/``stride``: fixed-length slices (``None``: whole sequences cut to ``max_frames``).
    ``gt_split``: the ground-truth reference of the generated row: ``test`` (every test clip), ``all`` (every
    sequence of the data set) or ``sampled`` (the ground truth of the same clips as the set being scored).
    ``metrics``: the report's columns, in order (see :data:`METRICS`).
    ``whole_song``: score whole-song figures (:func:`~dancegen.evaluation.scoring.score_songs`) instead of clip
    metrics against a reference set; generation always goes through the pipeline's long-form sampling.
    ``sampling``: ``all`` (every clip) or ``block`` (per song a random run of ``clips_per_song`` consecutive
    slices, ``sets`` times: GCDance's ``test_10.py``). ``bas_joints``: ``body`` (0–21) or ``all`` joints given.
    ``up_axis``: the axis PFC/PBC treat as up (1 = y, the data's; 2 = z, the published code's quirk).
    ``pbc_gcdance_indices``: PBC's upper-body joints as GCDance's code indexes them (see :func:`~dancegen.metrics.pbc`).
    ``beats``: music beats of a clip from its whole ``song`` or tracked on the ``clip``'s own audio.
    ``fps``: the frame rate clips are scored at (60: 30-FPS joints interpolated ×2, Bailando's AIST++ rate).
    ``joint_set``: kinetic features on ``smplx`` body/hand subsets or on ``smpl24`` joints.
    ``feature_frames``: generated clips' features use only their first frames (at ``fps``); None: all.
    ``ref_whole``: reference sequences are not cut to ``max_frames``.
    ``test_splits``: the data-set splits whose sequences are generated (an absent optional split is skipped).
    ``conventions``: quirks of the official code reproduced and differences from it (each a sentence).
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
    sampling: str = "all"
    clips_per_song: int | None = None
    sets: int = 1
    bas_joints: str = "body"
    up_axis: int = 1
    pbc_gcdance_indices: bool = False
    beats: str = "song"
    fps: int = FPS
    joint_set: str = "smplx"
    feature_frames: int | None = None
    ref_whole: bool = False
    test_splits: tuple[str, ...] = ("test",)
    conventions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "description": self.description, "clip_frames": self.clip_frames,
                "stride": self.stride, "max_frames": self.max_frames, "gt_split": self.gt_split,
                "metrics": list(self.metrics), "whole_song": self.whole_song, "sampling": self.sampling,
                "clips_per_song": self.clips_per_song, "sets": self.sets, "bas_joints": self.bas_joints,
                "up_axis": "xyz"[self.up_axis], "beats": self.beats, "fps": self.fps, "joint_set": self.joint_set,
                "feature_frames": self.feature_frames, "test_splits": list(self.test_splits)}

    def with_sets(self, sets: int | None = None, clips_per_song: int | None = None) -> Protocol:
        """This protocol with ``sets`` / ``clips_per_song`` overridden (None or 0: keep); only ``block`` sampling
        has sets."""
        if not sets and not clips_per_song:
            return self
        if self.sampling != "block":
            raise DancegenError(f"--sets and --clips-per-song apply to sampled protocols (gcdance), not {self.name}")
        if (sets is not None and sets < 0) or (clips_per_song is not None and clips_per_song < 0):
            raise DancegenError(f"--sets and --clips-per-song must be >= 1, got {sets} and {clips_per_song}")
        return replace(self, sets=sets or self.sets, clips_per_song=clips_per_song or self.clips_per_song)


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

#: Every quirk of GCDance's published evaluation (``test_10.py``, ``eval/eval_metrics.py``, ``eval/eval_beat.py``,
#: ``eval/eval_pfc.py``, ``eval/eval_pbc.py``) that ``gcdance`` reproduces, and every way it differs from that code.
GCDANCE_CONVENTIONS = (
    "clips: per test song a random run of 15 consecutive 4-s slices (2-s stride), all slices when a song has 15 or "
    "fewer, as test_10.py draws them (rand_idx = randint(0, n - 15))",
    "sets: 10 sets, each generated and scored on its own; mean ± std (sample std) over the sets",
    "GT reference of each set: the ground-truth slices of that set's own clips (test_10.py's move_gt)",
    "FID_k/Div_k: body = joints 0-21 made relative to the pelvis at frame 0, hands = joints 25-54 made relative to "
    "joint 25 (left index1) at frame 0, as eval_metrics.py subtracts the first selected joint",
    "BAS: all 55 joints (eval_beat.py uses the whole full_pose)",
    "BAS music beats: librosa beat tracking on each 4-s clip's own audio (eval_beat.py reads the sliced wav), "
    "beats at frames >= 119 dropped",
    "PFC: z used as up on y-up data, as the official code (eval_pfc.py up_dir = 2)",
    "PBC: z used as up and joints 22/23 (jaw, left eye in SMPL-X order) as the 'hands', as eval_pbc.py",
    "differs: clip sampling uses a seeded numpy generator (--seed); the official code uses Python's unseeded random",
    "differs: a clip whose audio has no beat is left out of BAS (the official code divides by zero: NaN)",
    "differs: each set is scored on its own clips; the official 10-round loop deletes ./test but writes motions to "
    "tests/motions, so later rounds would also score earlier rounds' leftover files (not reproduced)",
    "differs: FSR and genre-control accuracy are dancegen additions, not in the official evaluation",
)
GCDANCE = Protocol(
    name="gcdance",
    description="GCDance paper protocol: per test song 15 consecutive random 4-s slices (2-s stride), 10 seeded "
                "sets, mean ± std; body = SMPL-X joints 0-21, hands = 25-54; BAS on all 55 joints with each "
                "clip's own beats; PFC/PBC z-up as the official code; GT = the sampled clips' ground truth",
    clip_frames=120, stride=60, max_frames=None, gt_split="sampled",
    metrics=("fid_k_hand", "fid_k_body", "div_k_hand", "div_k_body", "bas", "pfc", "pbc", "fsr", "genre_acc"),
    hands=True, sampling="block", clips_per_song=15, sets=10, bas_joints="all", up_axis=2,
    pbc_gcdance_indices=True, beats="clip", conventions=GCDANCE_CONVENTIONS,
)
SLICES = Protocol(
    name="slices",
    description="4-s test slices at a 2-s stride, each generated independently; body = SMPL-X joints 0-21, "
                "hands = 25-54; GT = the test slices",
    clip_frames=120, stride=60, max_frames=None, gt_split="test",
    metrics=("fid_k_hand", "fid_k_body", "div_k_hand", "div_k_body", "bas", "pfc", "pbc", "fsr", "genre_acc"),
    hands=True,
    conventions=("differs from the paper: every test slice (not 15 random consecutive slices per song), one set",
                 "differs: BAS on body joints 0-21 with the whole song's beats cut into each slice",
                 "differs: PFC/PBC with y as up (the data's axis; the official code uses z)"),
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
AIST = Protocol(
    name="aist",
    description="Bailando's AIST++ protocol: crossmodal test (+ val) sequences generated whole; FID_k/Div_k/FID_g/"
                "Div_g on SMPL-24 joints of the first 20 s at 60 FPS; GT = every sequence at full length; BAS on all "
                "24 joints with whole-song beats at 60 FPS",
    clip_frames=None, stride=None, max_frames=None, gt_split="all",
    metrics=("fid_k", "fid_g", "div_k", "div_g", "bas"),
    hands=False, bas_joints="all", fps=60, joint_set="smpl24", feature_frames=600, ref_whole=True,
    test_splits=("test", "val"),
    conventions=(
        "generated set: the crossmodal_test and crossmodal_val lists, as Bailando's _prepro_aistpp.py writes both "
        "into its test folder",
        "features of generated dances: the first 1200 frames at 60 FPS (utils/metrics_new.py), root-relative at "
        "frame 0 (pelvis), SMPL-24 joints",
        "GT: kinetic and geometric features of every AIST++ sequence (train, val and test, ignore list excluded) "
        "at full length (extract_aist_features.py)",
        "BAS: all 24 joints, absolute positions, of the whole generated sequence; music beats from librosa beat "
        "tracking on the whole song's percussive onset envelope at 60 frames per second (30720 Hz, hop 512: "
        "_prepro_aistpp.py column 53), as utils/beat_align_score.py",
        "Div: mean pairwise distance of the generated features normalised with the GT mean/std",
        "differs: motion is loaded at 30 FPS (every other frame) and linearly interpolated back to 60 FPS",
        "differs: joints from dancegen's forward kinematics on the evaluation skeleton, not the SMPL male model",
        "differs: SMPL joints 22/23 (hands) stand in as SMPL-X middle1 finger joints",
    ),
)
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (GCDANCE, SLICES, LODGE, SONGS, AIST)}


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


@dataclass
class ClipSet:
    """One sampled set of clips (``gcdance``: 15 consecutive slices per song) and the songs that had fewer slices
    than asked (song id → slices taken)."""

    clips: list[Clip]
    short: dict[str, int]

    def summary(self) -> list[dict[str, object]]:
        """Per song: its first slice index and the number of slices in this set (compact, for the report)."""
        out: dict[str, dict[str, object]] = {}
        for c in self.clips:
            row = out.setdefault(c.sequence_id, {"song": c.sequence_id, "first_slice": c.index, "slices": 0})
            row["slices"] = int(row["slices"]) + 1  # type: ignore[call-overload]
        return list(out.values())


def sample_sets(clips: list[Clip], protocol: Protocol, seed: int = 0) -> list[ClipSet]:
    """The protocol's clip sets drawn from ``clips`` (every clip of each song, in slice order).

    ``block`` sampling (GCDance ``test_10.py``): per song with ``n`` slices, all of them when ``n <= k``
    (``k = clips_per_song``), else the ``k`` consecutive slices from a start drawn uniformly from ``0 … n − k``
    (inclusive, as ``random.randint``); ``sets`` draws from one ``numpy.random.default_rng(seed)``. Other
    protocols: one set of every clip.
    """
    if protocol.sampling != "block":
        return [ClipSet(list(clips), {})]
    by_song: dict[str, list[Clip]] = {}
    for c in clips:
        by_song.setdefault(c.sequence_id, []).append(c)
    k = int(protocol.clips_per_song or 1)
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(protocol.sets):
        chosen: list[Clip] = []
        short: dict[str, int] = {}
        for song in sorted(by_song):
            ordered = sorted(by_song[song], key=lambda c: c.index)
            if len(ordered) <= k:
                chosen.extend(ordered)
                if len(ordered) < k:
                    short[song] = len(ordered)
                continue
            start = int(rng.integers(0, len(ordered) - k, endpoint=True))
            chosen.extend(ordered[start:start + k])
        sets.append(ClipSet(chosen, short))
    return sets
