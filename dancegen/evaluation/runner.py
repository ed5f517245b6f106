"""Run a protocol: generate (or read) motions for the test clips, score them and the ground-truth row.

The **GT row** (the paper's "GT" line, for orientation) scores the ground-truth test clips as if they were
generated, against the ground-truth *training* clips as the reference — the distance between two real sets of the
same data, i.e. what a model that reproduced the data perfectly would get. BAS, PFC, PBC, FSR and genre accuracy of
the GT row are those of the real test clips. Under the whole-song ``songs`` protocol the GT row is the test songs
scored like the generated ones (contacts from the data's contact channels, window boundaries of the plan a song of
that length would be generated with), so its seam ratio shows what "no seam" looks like.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..motion.layout import CONTACTS
from .protocols import Clip, Protocol, clip_audio, cut_clips, get_protocol, saved_beats
from .scoring import score_set, score_songs, summarise

BEAT_SOURCES = ("auto", "saved", "audio")
CONDITIONS = ("label", "text")
PROMPT = "This is a {genre} type of music."
Progress = Callable[[str, int, int], None]


def skeleton_kind(source: str) -> str:
    """``"approximate"`` for dancegen's built-in rest pose, ``"exact SMPL-X"`` for a user's model or joints file."""
    return "approximate" if "approximate" in source else "exact SMPL-X"


def _joints_fn(skeleton: object) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
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


def _load_audio(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        y, sr = sf.read(str(path), dtype="float32", always_2d=False)
    except Exception as exc:
        raise DataError(f"cannot read audio file {path}: {exc}".replace("\n", " ")) from None
    return (y.mean(axis=1) if y.ndim == 2 else y), int(sr)


def _beats(data: Path, clips: list[Clip], audio: dict[str, Path], mode: str) -> tuple[list[np.ndarray], str]:
    """Music beats per clip (frame indices) and where they came from ("saved" beats/NNN.npy or "audio")."""
    from ..metrics import music_beats

    if mode not in BEAT_SOURCES:
        raise DataError(f"unknown beat source {mode!r}; choose one of {', '.join(BEAT_SOURCES)}")
    songs = sorted({c.sequence_id for c in clips})
    have_saved = all((data / "beats" / f"{s}.npy").is_file() for s in songs)
    if mode == "saved" and not have_saved:
        raise DataError(f"--beats saved: {data / 'beats'} lacks beat files for some test songs")
    if mode == "saved" or (mode == "auto" and have_saved):
        saved = {s: np.load(data / "beats" / f"{s}.npy", allow_pickle=False) for s in songs}
        return [saved_beats(saved[c.sequence_id], c) for c in clips], "saved (beats/NNN.npy, seconds → frames)"
    waves = {s: _load_audio(audio[s]) for s in songs}
    out = []
    for c in clips:
        y, sr = waves[c.sequence_id]
        out.append(np.asarray(music_beats(clip_audio(y, sr, c), sr)))
    return out, "audio (librosa beat tracking on each clip's audio, dancegen.metrics.music_beats)"


def clips_batched(proto: Protocol, clips: list[Clip]) -> bool:
    """Whether ``clips`` are sampled in batches by :mod:`dancegen.clip_batch` (one window each, raw model output)
    rather than one pipeline call each (long-form sampling and clean-up): every clip fits one 4-s window and the
    protocol is not a whole-song one."""
    from ..longform import WINDOW

    return not proto.whole_song and all(c.frames <= WINDOW for c in clips)


def _generate(pipe: Any, clips: list[Clip], waves: dict[str, tuple[np.ndarray, int]], condition: str, steps: int,
              guidance: float, seed: int, batch_size: int, progress: Callable[[int, int], None],
              batched: bool = True, longform: str = "blend", cleanup: str = "feet"
              ) -> tuple[list[np.ndarray], list[list[int]] | None]:
    """One generated motion per clip (clip i with seed ``seed + i``) and, unless batched, each clip's window
    boundaries. ``batched``: :mod:`dancegen.clip_batch` (clips of one window, raw); otherwise one pipeline call per
    clip with ``longform`` and ``cleanup``."""
    from ..clip_batch import ClipRequest, generate_clips
    from ..metrics.longform import window_boundaries

    def cond(c: Clip) -> dict[str, str]:
        return {"genre": c.genre} if condition == "label" else {"text": PROMPT.format(genre=c.genre)}

    if batched:
        reqs = [ClipRequest(clip_audio(*waves[c.sequence_id], c), waves[c.sequence_id][1], seed=seed + i, **cond(c))
                for i, c in enumerate(clips)]
        out = generate_clips(pipe, reqs, steps=steps, guidance=guidance, batch_size=batch_size, progress=progress)
        return [m[: c.frames].numpy() for m, c in zip(out, clips)], None
    motions, bounds = [], []
    for i, c in enumerate(clips):
        y, sr = waves[c.sequence_id]
        result = pipe(clip_audio(y, sr, c), sr, steps=steps, guidance=guidance, seed=seed + i, longform=longform,
                      cleanup=cleanup, **cond(c))
        motions.append(result.motion[0, : c.frames].numpy())
        bounds.append(window_boundaries(result.windows))
        progress(i + 1, len(clips))
    return motions, bounds


def _motion_contacts(folder: str | Path, clips: list[Clip], joints: list[np.ndarray], skeleton: object
                     ) -> tuple[list[np.ndarray | None], list[str]]:
    """Contact channels (T, 4) of each matched whole-song motion file: the file's own for 319-D motion, labelled
    from the joints (:func:`~dancegen.motion.contacts.foot_contacts`, the data's own rule) for joints-only files."""
    import torch

    from ..motion.contacts import foot_contacts
    from .motions import _STEM, _read, find_motion_files

    paths: dict[str, Path] = {}
    for stem, path in find_motion_files(Path(folder).expanduser()).items():
        m = _STEM.match(stem)
        song = m["song"] if m else stem
        paths[f"{int(song):03d}" if song.isdigit() else song] = path
    out: list[np.ndarray | None] = []
    labelled = 0
    for c, j in zip(clips, joints):
        motion, _ = _read(paths[c.sequence_id], skeleton, None)  # type: ignore[arg-type]
        if motion is None:
            out.append(foot_contacts(torch.from_numpy(np.asarray(j, dtype=np.float64))).numpy())
            labelled += 1
        else:
            out.append(np.asarray(motion[: len(j), CONTACTS]))
    notes = [f"contact skating: {labelled} joints-only motion files have no contact channels; their contacts are "
             "labelled from the joints (foot moving < 1 cm per frame)"] if labelled else []
    return out, notes


def _song_rows(clips: list[Clip], figures: list[dict[str, Any]], seeds: list[int] | None = None
               ) -> list[dict[str, Any]]:
    """Per-song figures for the JSON report, labelled with the song, its genre and (generated) the seed."""
    rows = []
    for i, (c, f) in enumerate(zip(clips, figures)):
        rows.append({"song": c.sequence_id, "genre": c.genre, **({"seed": seeds[i]} if seeds else {}), **f})
    return rows


def evaluate(
    data: str | Path,
    protocol: str | Protocol = "gcdance",
    checkpoint: str | Path | None = None,
    motions: str | Path | None = None,
    repeats: int = 1,
    steps: int = 50,
    guidance: float = 2.7,
    seed: int = 0,
    beats: str = "auto",
    condition: str = "label",
    cache_dir: str | Path | None = None,
    device: str = "cpu",
    skeleton: str = "default",
    progress: Progress | None = None,
    batch_size: int = 0,
    longform: str | None = None,
    cleanup: str | None = None,
) -> dict[str, Any]:
    """Evaluate a checkpoint (``checkpoint``) or a folder of motions (``motions``) under ``protocol``; returns the
    report as a JSON-serialisable dict (see docs/dancegen/evaluation.md). Clips of at most one 4-s window are
    generated ``batch_size`` at a time (:mod:`dancegen.clip_batch`; the same motions as one by one; 0 = 16 on
    CUDA, 1 on the CPU, where batching measured no faster: benchmarks/clip_batch.py), raw. Longer clips and the
    ``songs`` protocol's whole songs go through the pipeline one by one with ``longform`` (how windows are joined,
    default ``blend``) and ``cleanup`` (default ``feet`` for ``songs``, ``none`` — raw model output, as published
    tables score it — for ``lodge``)."""
    from ..data import load_finedance
    from ..data.finedance import check_layout

    t0 = time.perf_counter()
    proto = protocol if isinstance(protocol, Protocol) else get_protocol(protocol)
    if (checkpoint is None) == (motions is None):
        raise DataError("pass exactly one of --checkpoint DIR (generate with a trained model) or --motions DIR")
    if repeats < 1 or steps < 1 or batch_size < 0:
        raise DataError(f"repeats and steps must be >= 1 and batch size >= 0, got {repeats}, {steps} and {batch_size}")
    batch_size = batch_size or (16 if str(device).startswith("cuda") else 1)
    if condition not in CONDITIONS:
        raise DataError(f"unknown condition {condition!r}; choose one of {', '.join(CONDITIONS)}")
    from ..pipeline import check_generation_options

    check_generation_options(longform, cleanup, steps=steps, guidance=guidance)
    root = Path(data).expanduser()
    check_layout(root)
    if motions is not None:
        from .motions import find_motion_files

        find_motion_files(Path(motions).expanduser())  # fail fast, before loading the data set
    pipe = None
    if checkpoint is not None:
        from ..pipeline import DancePipeline

        pipe = DancePipeline.from_checkpoint(Path(checkpoint).expanduser(), device=device)
        skel = pipe.skeleton
    else:
        from ..train.state import load_skeleton

        skel = load_skeleton(skeleton)
    joints_of = _joints_fn(skel)

    test = load_finedance(root, split="test", skeleton=skel)
    train = [] if proto.whole_song else load_finedance(root, split="train", skeleton=skel)
    ref_seqs = test if proto.gt_split == "test" else load_finedance(root, split="all", skeleton=skel)
    test_clips = cut_clips(test, proto)
    if not test_clips:
        raise DataError(f"no {proto.name} test clips in {root}: every test song is shorter than "
                        f"{proto.clip_frames} frames")
    ref_clips, train_clips = cut_clips(ref_seqs, proto), cut_clips(train, proto)
    audio = {s.id: s.audio for s in [*test, *train]}
    ref_joints = [] if proto.whole_song else joints_of([c.motion for c in ref_clips])
    notes: list[str] = []
    per_song: list[list[dict[str, Any]]] = []

    classifier, clf_info = None, {}
    if "genre_acc" in proto.metrics:
        from .genre import genre_classifier

        classifier, folder, note = genre_classifier(root, skel, cache_dir, joints_of)
        clf_info = {"held_out_accuracy": classifier.held_out_accuracy if classifier else None,
                    "classes": classifier.classes if classifier else [], "path": str(folder) if folder else None,
                    "note": note, "trained_on": "training split GT motion, 4-s slices at a 2-s stride "
                                                "(20% held out, stratified)"}

    rows: list[dict[str, float | None]] = []
    gen_notes: list[str] = []
    gen_seconds = 0.0
    if pipe is not None:
        clip_beats, beat_source = _beats(root, test_clips, audio, beats)  # type: ignore[arg-type]
        waves = {s: _load_audio(audio[s]) for s in {c.sequence_id for c in test_clips}}  # type: ignore[arg-type]
        gt_for_gen = test_clips
        batched = clips_batched(proto, test_clips)
        # published tables score raw model output: only the whole-song protocol cleans up by default
        gen_longform, gen_cleanup = longform or "blend", cleanup or ("feet" if proto.whole_song else "none")
        for r in range(repeats):
            t1 = time.perf_counter()
            def tick(done: int, _total: int, r: int = r) -> None:
                if progress:
                    progress("generate", r * len(test_clips) + done, repeats * len(test_clips))

            seed_r = seed + 100_003 * r
            motions_r, bounds_r = _generate(pipe, test_clips, waves, condition, steps, guidance, seed_r,
                                            batch_size, tick, batched, gen_longform, gen_cleanup)
            gen_seconds += time.perf_counter() - t1
            if proto.whole_song:
                values, n, figures = score_songs(joints_of(motions_r), [m[:, CONTACTS] for m in motions_r], bounds_r,
                                                 clip_beats)
                per_song.append(_song_rows(test_clips, figures, [seed_r + i for i in range(len(test_clips))]))
            else:
                values, n = score_set(proto, joints_of(motions_r), ref_joints, clip_beats,
                                      [c.genre for c in test_clips], classifier)
            rows.append(values)
            gen_notes.extend(x for x in n if x not in gen_notes)
        what = "song" if proto.whole_song else "clip"
        source = {"kind": "checkpoint", "path": str(checkpoint), "checkpoint_id": pipe.checkpoint_id,
                  "steps": steps, "guidance": guidance, "condition": condition,
                  "longform": None if batched else gen_longform, "cleanup": "none" if batched else gen_cleanup,
                  "seeds": f"seed + 100003·repeat + {what} index (seed={seed})"}
        if batched and (longform or cleanup):
            notes.append(f"--longform/--cleanup do not apply to {proto.name}: every clip is one 4-s window, sampled "
                         "in batches without clean-up (raw model output, as published evaluations score)")
    else:
        from .motions import match_motions

        gt_for_gen, gen_joints, match_notes = match_motions(motions, test_clips, proto, skel,  # type: ignore[arg-type]
                                                            joints_of)
        clip_beats, beat_source = _beats(root, gt_for_gen, audio, beats)  # type: ignore[arg-type]
        if proto.whole_song:
            contacts, contact_notes = _motion_contacts(motions, gt_for_gen, gen_joints, skel)
            values, n, figures = score_songs(gen_joints, contacts, None, clip_beats)
            per_song.append(_song_rows(gt_for_gen, figures))
            n = [*contact_notes, *n, "window boundaries: the standard plan of each song's length (how the motions "
                                     "were stitched is unknown)"]
        else:
            values, n = score_set(proto, gen_joints, ref_joints, clip_beats, [c.genre for c in gt_for_gen],
                                  classifier)
        rows.append(values)
        gen_notes = match_notes + n
        source = {"kind": "motions", "path": str(motions), "clips": len(gt_for_gen)}
        if repeats > 1:
            notes.append("--repeats applies to --checkpoint only; a motions folder is one set")
        if longform or cleanup:
            notes.append("--longform/--cleanup apply to --checkpoint only; motions from a folder are scored as given")

    test_beats, _ = _beats(root, test_clips, audio, beats)  # type: ignore[arg-type]
    gt_songs: list[dict[str, Any]] | None = None
    if proto.whole_song:
        gt_values, gt_notes, gt_figures = score_songs(joints_of([c.motion for c in test_clips]),
                                                      [c.motion[:, CONTACTS] for c in test_clips], None, test_beats)
        gt_songs = _song_rows(test_clips, gt_figures)
        gt_definition = (f"GT test songs ({len(test_clips)}) scored whole like the generated ones: contacts from the "
                         "data's contact channels, boundaries of the window plan of each song's length")
    else:
        gt_values, gt_notes = score_set(proto, joints_of([c.motion for c in test_clips]),
                                        joints_of([c.motion for c in train_clips]), test_beats,
                                        [c.genre for c in test_clips], classifier)
        gt_definition = (f"GT test clips ({len(test_clips)}) scored against GT training-split clips "
                         f"({len(train_clips)}) as the reference")
        if {s.id for s in test} == {s.id for s in train}:
            gt_notes.append("the train and test splits are the same songs, so the GT row's FIDs are 0 by "
                            "construction")
    generated: dict[str, Any] = {"source": source, "repeats": len(rows), "clips": len(gt_for_gen),
                                 "metrics": summarise(rows), "per_repeat": rows, "notes": gen_notes}
    gt_row: dict[str, Any] = {"definition": gt_definition, "metrics": gt_values, "notes": gt_notes}
    if proto.whole_song:
        generated["per_song"] = per_song
        gt_row["per_song"] = gt_songs
    return {
        "protocol": proto.to_dict(),
        "data": str(root),
        "skeleton": {"source": str(getattr(skel, "source", "?")), "kind": skeleton_kind(str(getattr(skel, "source",
                                                                                                     "")))},
        "gt_set": {"split": proto.gt_split, "songs": len(ref_seqs), "clips": len(ref_clips),
                   "test_songs": len(test), "test_clips": len(test_clips)},
        "beats_source": beat_source,
        "generated": generated,
        "gt_row": gt_row,
        "genre_classifier": clf_info or None,
        "notes": notes,
        "timing": {"total_seconds": round(time.perf_counter() - t0, 3), "generation_seconds": round(gen_seconds, 3),
                   "seconds_per_clip": round(gen_seconds / max(1, len(rows) * len(gt_for_gen)), 4) if pipe else None,
                   "device": device},
    }
