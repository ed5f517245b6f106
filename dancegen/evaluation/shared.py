"""What both evaluation modes share: the data set cut under a protocol with its songs, reference joints and genre
classifier (:class:`EvalSet`, built by :func:`prepare`), scoring one set of motions (:func:`score_row`), the GT row
(:func:`gt_row`) and the report (:func:`build_report`).

The **GT row** (the paper's "GT" line, for orientation) scores the ground-truth test clips as if they were
generated, against the ground-truth *training* clips as the reference — the distance between two real sets of the
same data, i.e. what a model that reproduced the data perfectly would get. Under a sampled protocol (``gcdance``)
it scores the ground truth of each sampled set that way and reports mean ± std over the sets. BAS, PFC, PBC, FSR
and genre accuracy of the GT row are those of the real test clips. Under the whole-song ``songs`` protocol the GT
row is the test songs scored like the generated ones (contacts from the data's contact channels, window boundaries
of the plan a song of that length would be generated with), so its seam ratio shows what "no seam" looks like.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DancegenError, DataError
from ..metrics import GenreClassifier
from ..motion.layout import CONTACTS
from .music import CLIP_SOURCE, Songs, load_songs
from .protocols import Clip, ClipSet, Protocol, cut_clips, get_protocol, sample_sets
from .scoring import score_set, score_songs, summarise

Progress = Callable[[str, int, int], None]
JointsOf = Callable[[list[np.ndarray]], list[np.ndarray]]


def skeleton_kind(source: str) -> str:
    """``"approximate"`` for dancegen's built-in rest pose, ``"exact SMPL-X"`` for a user's model or joints file."""
    return "approximate" if "approximate" in source else "exact SMPL-X"


def joints_fn(skeleton: object) -> JointsOf:
    """``joints_of(list of 319-D motions) → list of (T, 55, 3) joints``: forward kinematics on ``skeleton``, one
    batch per motion length."""
    import torch

    from ..motion import forward_kinematics

    def joints_of(motions: list[np.ndarray]) -> list[np.ndarray]:
        out: list[np.ndarray] = [np.empty(0)] * len(motions)
        by_len: dict[int, list[int]] = {}
        for i, m in enumerate(motions):
            by_len.setdefault(len(m), []).append(i)
        with torch.no_grad():
            for idx in by_len.values():
                batch = torch.from_numpy(np.stack([np.asarray(motions[i], dtype=np.float32) for i in idx]))
                pos = forward_kinematics(batch, skeleton).numpy().astype(np.float64)  # type: ignore[arg-type]
                for j, i in enumerate(idx):
                    out[i] = pos[j]
        return out

    return joints_of


def resolve_protocol(protocol: str | Protocol) -> Protocol:
    return protocol if isinstance(protocol, Protocol) else get_protocol(protocol)


def check_data(data: str | Path) -> Path:
    """The data folder, its layout (FineDance-layout or AIST++) checked before anything heavy is loaded."""
    from ..data import check_dataset

    root = Path(data).expanduser()
    check_dataset(root)
    return root


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cpu``, ``cuda``, ``cuda:N`` and ``mps`` pass through; any
    other value is a one-line :class:`DataError`."""
    import re

    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", device):
        raise DataError(f"unknown device {device!r}; choose auto, cpu, cuda, cuda:N or mps")
    return device


@dataclass
class EvalSet:
    """The data set cut under a protocol, for one evaluation: test clips and their songs (audio and beats, each read
    once), the sampled clip sets, the reference clips and their joints, the training-split clips (the GT row's
    reference) and the genre classifier."""

    proto: Protocol
    root: Path
    skeleton: Any
    joints_of: JointsOf
    test: list[Any]
    train: list[Any]
    ref_seqs: list[Any]
    test_clips: list[Clip]
    ref_clips: list[Clip]
    train_clips: list[Clip]
    songs: Songs
    ref_joints: list[np.ndarray]
    classifier: GenreClassifier | None = None
    clf_info: dict[str, Any] = field(default_factory=dict)
    t0: float = field(default_factory=time.perf_counter)
    seed: int = 0
    sets: list[ClipSet] = field(default_factory=list)
    test_joints: dict[str, np.ndarray] = field(default_factory=dict)
    data_notes: list[str] = field(default_factory=list)

    def reference_for(self, clips: Sequence[Clip]) -> list[np.ndarray]:
        """The GT reference joints of a scored set: the ground truth of the same clips (``gt_split`` ``sampled``)
        or the protocol's reference set."""
        if self.proto.gt_split == "sampled":
            return [self.test_joints[c.key] for c in clips]
        return self.ref_joints


def _load_splits(root: Path, splits: Sequence[str], skeleton: Any, notes: list[str]) -> list[Any]:
    """Sequences of every split in ``splits`` (the first is required; a later one absent from the data is noted)."""
    from ..data import load_dataset

    out: list[Any] = list(load_dataset(root, split=splits[0], skeleton=skeleton))
    for extra in splits[1:]:
        try:
            out += [s for s in load_dataset(root, split=extra, skeleton=skeleton) if s.id not in {x.id for x in out}]
        except DancegenError as exc:
            notes.append(f"no {extra} split added to the generated set ({exc})")
    return out


def _ignore_list(root: Path) -> set[str]:
    """AIST++'s ignore list (``ignore_list.txt`` in the folder or in ``splits/``), empty when absent."""
    names: set[str] = set()
    for path in (root / "ignore_list.txt", root / "splits" / "ignore_list.txt"):
        if path.is_file():
            names |= {line.strip() for line in path.read_text().splitlines() if line.strip()}
    return names


def prepare(root: Path, proto: Protocol, skeleton: Any, beats: str = "auto", cache_dir: str | Path | None = None,
            t0: float | None = None, seed: int = 0) -> EvalSet:
    """Load and cut the data set at ``root`` (FineDance-layout or AIST++, :func:`dancegen.data.load_dataset`) under
    ``proto`` with ``skeleton``; ``beats``: where music beats come from (:func:`~dancegen.evaluation.music.load_songs`);
    ``cache_dir``: the genre classifier's cache; ``seed``: the sampled protocols' clip draws."""
    from dataclasses import replace

    from ..data import load_dataset

    joints_of = joints_fn(skeleton)
    data_notes: list[str] = []
    test = _load_splits(root, proto.test_splits, skeleton, data_notes)
    train_set = None if proto.whole_song else load_dataset(root, split="train", skeleton=skeleton)
    train = list(train_set) if train_set is not None else []
    ref_seqs = test if proto.gt_split in ("test", "sampled") else list(load_dataset(root, split="all",
                                                                                    skeleton=skeleton))
    if proto.name == "aist":  # Bailando's GT set leaves out AIST++'s ignore list (the data's "all" split keeps it)
        ignored = _ignore_list(root)
        ref_seqs = [s for s in ref_seqs if s.id not in ignored]
    test_clips = cut_clips(test, proto)
    if not test_clips:
        raise DataError(f"no {proto.name} test clips in {root}: every test song is shorter than "
                        f"{proto.clip_frames} frames")
    ref_clips = (test_clips if proto.gt_split == "sampled"
                 else cut_clips(ref_seqs, replace(proto, max_frames=None) if proto.ref_whole else proto))
    train_clips = cut_clips(train, proto)
    with_clips = {c.sequence_id for c in test_clips}
    songs = load_songs(root, [s for s in test if s.id in with_clips], beats, fps=proto.fps,
                       per_clip=proto.beats == "clip")
    test_joints: dict[str, np.ndarray] = {}
    ref_joints: list[np.ndarray] = []
    if proto.gt_split == "sampled":
        test_joints = dict(zip([c.key for c in test_clips], joints_of([c.motion for c in test_clips])))
    elif not proto.whole_song:
        ref_joints = joints_of([c.motion for c in ref_clips])
    ev = EvalSet(proto, root, skeleton, joints_of, test, train, ref_seqs, test_clips, ref_clips, train_clips, songs,
                 ref_joints, t0=time.perf_counter() if t0 is None else t0, seed=seed,
                 sets=sample_sets(test_clips, proto, seed), test_joints=test_joints, data_notes=data_notes)
    if "genre_acc" in proto.metrics:
        from .genre import genre_classifier

        ev.classifier, folder, note = genre_classifier(root, skeleton, cache_dir, joints_of)
        clf = ev.classifier
        ev.clf_info = {"held_out_accuracy": clf.held_out_accuracy if clf else None,
                       "classes": clf.classes if clf else [], "path": str(folder) if folder else None,
                       "genre_table": list(train_set.genres) if train_set is not None else [],
                       "note": note, "trained_on": "training split GT motion, 4-s slices at a 2-s stride "
                                                   "(20% held out, stratified)"}
    return ev


def song_rows(clips: Sequence[Clip], figures: Sequence[dict[str, Any]], seeds: Sequence[int] | None = None
              ) -> list[dict[str, Any]]:
    """Per-song figures for the JSON report, labelled with the song, its genre and (generated) the seed."""
    rows = []
    for i, (c, f) in enumerate(zip(clips, figures)):
        rows.append({"song": c.sequence_id, "genre": c.genre, **({"seed": seeds[i]} if seeds else {}), **f})
    return rows


def score_row(ev: EvalSet, clips: Sequence[Clip], joints: Sequence[np.ndarray], *,
              contacts: Sequence[np.ndarray | None] | None = None, boundaries: Sequence[Sequence[int]] | None = None,
              reference: Sequence[np.ndarray] | None = None, seeds: Sequence[int] | None = None,
              ref_cache: dict[str, np.ndarray] | None = None
              ) -> tuple[dict[str, float | None], list[str], list[dict[str, Any]] | None]:
    """One row of the report: (metric values, notes, per-song rows or None) of ``joints`` (one per clip of
    ``clips``), with each clip's music beats. Whole-song protocols: :func:`score_songs` with ``contacts`` and
    ``boundaries``; the others: :func:`score_set` against ``reference`` (default: :meth:`EvalSet.reference_for`
    the clips), the clips' genres and the genre classifier; ``ref_cache`` reuses reference features across rows."""
    beats = ev.songs.clip_beats(clips)
    if ev.proto.whole_song:
        values, notes, figures = score_songs(joints, contacts, boundaries, beats)
        return values, notes, song_rows(clips, figures, seeds)
    values, notes = score_set(ev.proto, joints, ev.reference_for(clips) if reference is None else reference, beats,
                              [c.genre for c in clips], ev.classifier, ref_cache)
    return values, notes, None


def gt_row(ev: EvalSet) -> dict[str, Any]:
    """The report's ``gt_row``: the ground-truth test clips scored like generated ones (see the module doc);
    ``metrics`` are means over the sets, ``std`` their sample std (None for one set)."""
    if ev.proto.whole_song:
        clips = ev.test_clips
        joints = ev.joints_of([c.motion for c in clips])
        song_values, song_notes, rows = score_row(ev, clips, joints, contacts=[c.motion[:, CONTACTS] for c in clips])
        definition = (f"GT test songs ({len(clips)}) scored whole like the generated ones: contacts from the "
                      "data's contact channels, boundaries of the window plan of each song's length")
        return {"definition": definition, "metrics": song_values, "notes": song_notes, "per_song": rows}
    train_joints = ev.joints_of([c.motion for c in ev.train_clips])
    cache: dict[str, np.ndarray] = {}
    per_set: list[dict[str, float | None]] = []
    notes: list[str] = []
    joints_by_key = ev.test_joints or {}
    for clip_set in ev.sets:
        clips = clip_set.clips
        missing = [c for c in clips if c.key not in joints_by_key]
        if missing:
            joints_by_key.update(zip([c.key for c in missing], ev.joints_of([c.motion for c in missing])))
        values, set_notes, _ = score_row(ev, clips, [joints_by_key[c.key] for c in clips], reference=train_joints,
                                         ref_cache=cache)
        per_set.append(values)
        notes.extend(n for n in set_notes if n not in notes)
    summary = summarise(per_set)
    n_sets = len(ev.sets)
    what = (f"GT test clips of each of the {n_sets} sampled sets ({len(ev.sets[0].clips)} clips in the first)"
            if n_sets > 1 or ev.proto.sampling == "block" else f"GT test clips ({len(ev.sets[0].clips)})")
    definition = f"{what} scored against GT training-split clips ({len(ev.train_clips)}) as the reference"
    if {s.id for s in ev.test} == {s.id for s in ev.train}:
        notes.append("the train and test splits are the same songs, so the GT row compares the data with itself "
                     "(its FIDs are 0 when every test clip is scored)")
    row: dict[str, Any] = {"definition": definition, "metrics": {k: v["mean"] for k, v in summary.items()},
                           "std": {k: v["std"] for k, v in summary.items()}, "notes": notes}
    if n_sets > 1:
        row["per_set"] = per_set
    return row


def sampling_info(ev: EvalSet, sets: Sequence[ClipSet] | None = None) -> dict[str, Any] | None:
    """The report's ``sampling`` entry for a sampled protocol (None otherwise): sets, clips per song, the seed, the
    songs with fewer slices than asked and each set's clips (per song: first slice and count)."""
    if ev.proto.sampling != "block":
        return None
    sets = list(ev.sets if sets is None else sets)
    short: dict[str, int] = {}
    for s in sets:
        short.update(s.short)
    return {"sets": len(sets), "clips_per_song": ev.proto.clips_per_song, "seed": ev.seed,
            "rng": "numpy.random.default_rng(seed); per song start = integers(0, n - k, endpoint=True)",
            "clips_per_set": [len(s.clips) for s in sets],
            "short_songs": {k: f"{v} slices (fewer than {ev.proto.clips_per_song}): all taken"
                            for k, v in sorted(short.items())},
            "per_set": [s.summary() for s in sets]}


def deviations(ev: EvalSet, sampling: dict[str, Any] | None) -> list[str]:
    """Every difference of this run from the official code: the protocol's own plus what this run changed (beat
    source, skeleton, set counts, songs too short for the clip count, optional splits absent)."""
    from .protocols import PROTOCOLS

    proto = ev.proto
    out = [c for c in proto.conventions if c.startswith("differs")]
    default = PROTOCOLS.get(proto.name)
    if default is not None and (default.sets, default.clips_per_song) != (proto.sets, proto.clips_per_song):
        out.append(f"differs: {proto.sets} sets of {proto.clips_per_song} clips per song (the paper: "
                   f"{default.sets} sets of {default.clips_per_song})")
    if proto.beats == "clip" and ev.songs.source != CLIP_SOURCE:
        out.append(f"differs: music beats from {ev.songs.source.split(' (')[0]} beats of the whole song, not "
                   "tracked on each clip's own audio")
    if "approximate" in str(getattr(ev.skeleton, "source", "")):
        out.append("differs: joints from dancegen's approximate rest skeleton, not the SMPL-X/SMPL model (FID and "
                   "Div values shift)")
    if sampling and sampling["short_songs"]:
        out.append(f"{len(sampling['short_songs'])} test songs have fewer slices than {proto.clips_per_song}: every "
                   "slice of those songs is taken (as the official code does)")
    out.extend(f"differs: {n}" for n in ev.data_notes)
    return out


def build_report(ev: EvalSet, source: dict[str, Any], clips: int, rows: list[dict[str, float | None]],
                 gen_notes: list[str], per_song: list[list[dict[str, Any]]], notes: list[str], device: str,
                 gen_seconds: float | None = None, device_requested: str | None = None,
                 sets: Sequence[ClipSet] | None = None) -> dict[str, Any]:
    """The JSON-serialisable report (see docs/dancegen/evaluation.md) of ``rows`` (one per set and repeat) of
    ``clips`` generated or read clips per row, with the GT row. ``gen_seconds``: time spent generating (None: nothing
    generated); ``sets``: the sets scored (default: the evaluation's own draws)."""
    n_sets = len(ev.sets if sets is None else sets) if ev.proto.sampling == "block" else 1
    generated: dict[str, Any] = {"source": source, "repeats": max(1, len(rows) // n_sets), "sets": n_sets,
                                 "rows": len(rows), "clips": clips, "metrics": summarise(rows), "per_repeat": rows,
                                 "notes": gen_notes}
    gt = gt_row(ev)
    if ev.proto.whole_song:
        generated["per_song"] = per_song
    skel_source = str(getattr(ev.skeleton, "source", "?"))
    spent = gen_seconds or 0.0
    sampling = sampling_info(ev, sets)
    return {
        "protocol": ev.proto.to_dict(),
        "conventions": [c for c in ev.proto.conventions if not c.startswith("differs")],
        "deviations": deviations(ev, sampling),
        "data": str(ev.root),
        "skeleton": {"source": skel_source, "kind": skeleton_kind(str(getattr(ev.skeleton, "source", "")))},
        "gt_set": {"split": ev.proto.gt_split, "songs": len(ev.ref_seqs), "clips": len(ev.ref_clips),
                   "test_songs": len(ev.test), "test_clips": len(ev.test_clips)},
        "sampling": sampling,
        "beats_source": ev.songs.source,
        "generated": generated,
        "gt_row": gt,
        "genre_classifier": ev.clf_info or None,
        "notes": notes,
        "device": {"requested": device_requested or device, "used": device},
        "timing": {"total_seconds": round(time.perf_counter() - ev.t0, 3), "generation_seconds": round(spent, 3),
                   "seconds_per_clip": (round(spent / max(1, len(rows) * clips), 4) if gen_seconds is not None
                                        else None),
                   "device": device},
    }
