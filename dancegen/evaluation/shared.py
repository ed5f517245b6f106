"""What both evaluation modes share: the data set cut under a protocol with its songs, reference joints and genre
classifier (:class:`EvalSet`, built by :func:`prepare`), scoring one set of motions (:func:`score_row`), the GT row
(:func:`gt_row`) and the report (:func:`build_report`).

The **GT row** (the paper's "GT" line, for orientation) scores the ground-truth test clips as if they were
generated, against the ground-truth *training* clips as the reference — the distance between two real sets of the
same data, i.e. what a model that reproduced the data perfectly would get. BAS, PFC, PBC, FSR and genre accuracy of
the GT row are those of the real test clips. Under the whole-song ``songs`` protocol the GT row is the test songs
scored like the generated ones (contacts from the data's contact channels, window boundaries of the plan a song of
that length would be generated with), so its seam ratio shows what "no seam" looks like.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..metrics import GenreClassifier
from ..motion.layout import CONTACTS
from .music import Songs, load_songs
from .protocols import Clip, Protocol, cut_clips, get_protocol
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
    """The data folder, its FineDance layout checked (before anything heavy is loaded)."""
    from ..data.finedance import check_layout

    root = Path(data).expanduser()
    check_layout(root)
    return root


@dataclass
class EvalSet:
    """The data set cut under a protocol, for one evaluation: test clips and their songs (audio and beats, each read
    once), the reference clips and their joints, the training-split clips (the GT row's reference) and the genre
    classifier."""

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


def prepare(root: Path, proto: Protocol, skeleton: Any, beats: str = "auto", cache_dir: str | Path | None = None,
            t0: float | None = None) -> EvalSet:
    """Load and cut the data set at ``root`` under ``proto`` with ``skeleton``; ``beats``: where music beats come
    from (:func:`~dancegen.evaluation.music.load_songs`); ``cache_dir``: the genre classifier's cache."""
    from ..data import load_finedance

    joints_of = joints_fn(skeleton)
    test = list(load_finedance(root, split="test", skeleton=skeleton))
    train = [] if proto.whole_song else list(load_finedance(root, split="train", skeleton=skeleton))
    ref_seqs = test if proto.gt_split == "test" else list(load_finedance(root, split="all", skeleton=skeleton))
    test_clips = cut_clips(test, proto)
    if not test_clips:
        raise DataError(f"no {proto.name} test clips in {root}: every test song is shorter than "
                        f"{proto.clip_frames} frames")
    ref_clips, train_clips = cut_clips(ref_seqs, proto), cut_clips(train, proto)
    with_clips = {c.sequence_id for c in test_clips}
    songs = load_songs(root, [s for s in test if s.id in with_clips], beats)
    ref_joints = [] if proto.whole_song else joints_of([c.motion for c in ref_clips])
    ev = EvalSet(proto, root, skeleton, joints_of, test, train, ref_seqs, test_clips, ref_clips, train_clips, songs,
                 ref_joints, t0=time.perf_counter() if t0 is None else t0)
    if "genre_acc" in proto.metrics:
        from .genre import genre_classifier

        ev.classifier, folder, note = genre_classifier(root, skeleton, cache_dir, joints_of)
        clf = ev.classifier
        ev.clf_info = {"held_out_accuracy": clf.held_out_accuracy if clf else None,
                       "classes": clf.classes if clf else [], "path": str(folder) if folder else None,
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
              reference: Sequence[np.ndarray] | None = None, seeds: Sequence[int] | None = None
              ) -> tuple[dict[str, float | None], list[str], list[dict[str, Any]] | None]:
    """One row of the report: (metric values, notes, per-song rows or None) of ``joints`` (one per clip of
    ``clips``), with each clip's music beats from its song. Whole-song protocols: :func:`score_songs` with
    ``contacts`` and ``boundaries``; the others: :func:`score_set` against ``reference`` (default: the protocol's
    reference joints), the clips' genres and the genre classifier."""
    beats = ev.songs.clip_beats(clips)
    if ev.proto.whole_song:
        values, notes, figures = score_songs(joints, contacts, boundaries, beats)
        return values, notes, song_rows(clips, figures, seeds)
    values, notes = score_set(ev.proto, joints, ev.ref_joints if reference is None else reference, beats,
                              [c.genre for c in clips], ev.classifier)
    return values, notes, None


def gt_row(ev: EvalSet) -> dict[str, Any]:
    """The report's ``gt_row``: the ground-truth test clips scored like generated ones (see the module doc)."""
    clips = ev.test_clips
    joints = ev.joints_of([c.motion for c in clips])
    if ev.proto.whole_song:
        values, notes, rows = score_row(ev, clips, joints, contacts=[c.motion[:, CONTACTS] for c in clips])
        definition = (f"GT test songs ({len(clips)}) scored whole like the generated ones: contacts from the "
                      "data's contact channels, boundaries of the window plan of each song's length")
        return {"definition": definition, "metrics": values, "notes": notes, "per_song": rows}
    values, notes, _ = score_row(ev, clips, joints, reference=ev.joints_of([c.motion for c in ev.train_clips]))
    definition = (f"GT test clips ({len(clips)}) scored against GT training-split clips ({len(ev.train_clips)}) "
                  "as the reference")
    if {s.id for s in ev.test} == {s.id for s in ev.train}:
        notes.append("the train and test splits are the same songs, so the GT row's FIDs are 0 by construction")
    return {"definition": definition, "metrics": values, "notes": notes}


def build_report(ev: EvalSet, source: dict[str, Any], clips: int, rows: list[dict[str, float | None]],
                 gen_notes: list[str], per_song: list[list[dict[str, Any]]], notes: list[str], device: str,
                 gen_seconds: float | None = None) -> dict[str, Any]:
    """The JSON-serialisable report (see docs/dancegen/evaluation.md) of ``rows`` (one per repeat) of ``clips``
    generated or read clips, with the GT row. ``gen_seconds``: time spent generating (None: nothing generated)."""
    generated: dict[str, Any] = {"source": source, "repeats": len(rows), "clips": clips,
                                 "metrics": summarise(rows), "per_repeat": rows, "notes": gen_notes}
    gt = gt_row(ev)
    if ev.proto.whole_song:
        generated["per_song"] = per_song
    skel_source = str(getattr(ev.skeleton, "source", "?"))
    spent = gen_seconds or 0.0
    return {
        "protocol": ev.proto.to_dict(),
        "data": str(ev.root),
        "skeleton": {"source": skel_source, "kind": skeleton_kind(str(getattr(ev.skeleton, "source", "")))},
        "gt_set": {"split": ev.proto.gt_split, "songs": len(ev.ref_seqs), "clips": len(ev.ref_clips),
                   "test_songs": len(ev.test), "test_clips": len(ev.test_clips)},
        "beats_source": ev.songs.source,
        "generated": generated,
        "gt_row": gt,
        "genre_classifier": ev.clf_info or None,
        "notes": notes,
        "timing": {"total_seconds": round(time.perf_counter() - ev.t0, 3), "generation_seconds": round(spent, 3),
                   "seconds_per_clip": (round(spent / max(1, len(rows) * clips), 4) if gen_seconds is not None
                                        else None),
                   "device": device},
    }
