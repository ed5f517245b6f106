"""``dancegen evaluate --motions``: score motions made elsewhere (matched to the test clips by file name, see
:mod:`dancegen.evaluation.motions`) next to the GT row."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..motion.layout import CONTACTS
from .motions import _STEM, _read, find_motion_files, match_motions
from .protocols import Clip, Protocol, sample_sets
from .shared import build_report, check_data, prepare, resolve_device, resolve_protocol, score_row

WHOLE_SONG_BOUNDARIES = ("window boundaries: the standard plan of each song's length (how the motions were stitched "
                         "is unknown)")


def evaluate_motions(
    data: str | Path,
    motions: str | Path,
    protocol: str | Protocol = "gcdance",
    *,
    beats: str = "auto",
    cache_dir: str | Path | None = None,
    skeleton: str = "default",
    device: str = "auto",
    seed: int = 0,
) -> dict[str, Any]:
    """Score the motion files in ``motions`` against the test clips of ``data`` under ``protocol``; returns the
    report (see docs/dancegen/evaluation.md). ``skeleton``: ``default``, an SMPL-X model folder or a (55, 3) joints
    ``.npy`` (forward kinematics of 319-D files); ``device`` is only recorded in the report. A sampled protocol
    (``gcdance``) draws its sets (``seed``) among the clips that have a motion file and scores each against the
    ground truth of its own clips: mean ± std over the sets."""
    from ..motion.skeleton_files import load_skeleton

    t0 = time.perf_counter()
    proto = resolve_protocol(protocol)
    requested, device = device, resolve_device(device)
    root = check_data(data)
    find_motion_files(Path(motions).expanduser())  # fail fast, before loading the data set
    skel = load_skeleton(skeleton)
    ev = prepare(root, proto, skel, beats, cache_dir, t0, seed)
    clips, joints, notes = match_motions(motions, ev.test_clips, proto, skel, ev.joints_of)
    source = {"kind": "motions", "path": str(motions), "clips": len(clips)}
    if proto.whole_song:
        contacts, contact_notes = _motion_contacts(motions, clips, joints, skel)
        values, score_notes, songs = score_row(ev, clips, joints, contacts=contacts)
        score_notes = [*contact_notes, *score_notes, WHOLE_SONG_BOUNDARIES]
        return build_report(ev, source, len(clips), [values], notes + score_notes, [songs] if songs else [], [],
                            device, None, requested)
    by_key = dict(zip([c.key for c in clips], joints))
    sets = sample_sets(clips, proto, seed)
    rows = []
    for clip_set in sets:
        values, score_notes, _ = score_row(ev, clip_set.clips, [by_key[c.key] for c in clip_set.clips])
        rows.append(values)
        notes.extend(n for n in score_notes if n not in notes)
    if len(sets) > 1 and len({tuple(c.key for c in s.clips) for s in sets}) == 1:
        notes.append(f"every one of the {len(sets)} sets drew the same clips (no song has more motion files than "
                     "the clips per song), so the std over sets is 0")
    return build_report(ev, source, len(sets[0].clips), rows, notes, [], [], device, None, requested, sets)


def _motion_contacts(folder: str | Path, clips: list[Clip], joints: list[np.ndarray], skeleton: object
                     ) -> tuple[list[np.ndarray | None], list[str]]:
    """Contact channels (T, 4) of each matched whole-song motion file: the file's own for 319-D motion, labelled
    from the joints (:func:`~dancegen.motion.contacts.foot_contacts`, the data's own rule) for joints-only files."""
    import torch

    from ..motion.contacts import foot_contacts

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
