"""Score one set of motions against a ground-truth set under a protocol (one row of the report).

Motions are joint positions ``(T, J, 3)`` (metres, y up, 30 FPS) with ``J = 55`` (SMPL-X order, from our forward
kinematics) or ``J = 24`` (SMPL-24 order, e.g. an EDGE pickle's ``full_pose``: no hands, hand metrics are None).
A protocol scored at 60 FPS (``aist``) interpolates them ×2 first (:func:`~dancegen.metrics.upsample_joints`).
Whole-song protocols (``songs``) are scored song by song with :func:`score_songs` and need no reference set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DataError
from ..metrics import (
    BODY_JOINTS,
    HAND_JOINTS,
    GenreClassifier,
    beat_align_score,
    diversity,
    fid,
    foot_sliding_ratio,
    genre_control_accuracy,
    kinetic_features,
    manual_features,
    normalize,
    pbc,
    pfc,
    root_relative,
    smplx55_to_smpl24,
    upsample_joints,
)
from .protocols import Protocol

BODY = list(BODY_JOINTS)
HANDS = list(HAND_JOINTS)


def _kinetic(clips: Sequence[np.ndarray], joints: list[int]) -> np.ndarray:
    """Kinetic features per clip of the joint subset, made root-relative on its first joint at frame 0 (the
    published protocol's convention: the pelvis for the body, the left index1 for the hands)."""
    return np.stack([kinetic_features(root_relative(c[:, joints])) for c in clips])


def _smpl24(c: np.ndarray) -> np.ndarray:
    return smplx55_to_smpl24(c) if c.shape[1] == 55 else c[:, :24]


def _geometric(clips: Sequence[np.ndarray]) -> np.ndarray:
    """The 32 geometric features per clip on SMPL-24-ordered joints, root-relative at frame 0."""
    return np.stack([manual_features(root_relative(_smpl24(c))) for c in clips])


def _kinetic24(clips: Sequence[np.ndarray]) -> np.ndarray:
    """Kinetic features per clip on all SMPL-24-ordered joints, root-relative at frame 0 (Bailando's AIST++)."""
    return np.stack([kinetic_features(root_relative(_smpl24(c))) for c in clips])


def _rate(clips: Sequence[np.ndarray], protocol: Protocol, frames: int | None = None) -> list[np.ndarray]:
    """Clips at the protocol's scoring rate (30-FPS input interpolated ×2 for 60 FPS), cut to their first
    ``frames`` frames at that rate (None: whole)."""
    factor = protocol.fps // 30
    out = [upsample_joints(c, factor) if factor > 1 else np.asarray(c) for c in clips]
    return [c[:frames] for c in out] if frames else out


def _features(what: str, clips: Sequence[np.ndarray], cache: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Features ``what`` (body, hands, kinetic24, geometric) of ``clips``, from ``cache`` when it has them."""
    if cache is not None and what in cache:
        return cache[what]
    feats = {"body": lambda: _kinetic(clips, BODY), "hands": lambda: _kinetic(clips, HANDS),
             "kinetic24": lambda: _kinetic24(clips), "kinetic": lambda: _kinetic(clips, BODY),
             "geometric": lambda: _geometric(clips)}[what]()
    if cache is not None:
        cache[what] = feats
    return feats


def _fid_div(gen: np.ndarray, ref: np.ndarray, notes: list[str], what: str) -> tuple[float | None, float | None]:
    try:
        value = fid(gen, ref)
        gen_n, _ = normalize(gen, ref)
        return float(value), float(diversity(gen_n))
    except DataError as exc:
        notes.append(f"{what}: {exc}")
        return None, None


def score_set(
    protocol: Protocol,
    generated: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    beats: Sequence[np.ndarray] | None = None,
    genres: Sequence[str] | None = None,
    classifier: GenreClassifier | None = None,
    ref_cache: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, float | None], list[str]]:
    """Metric values (keys of ``protocol.metrics``; None where not computable) and notes explaining any None.

    ``beats[i]``: music-beat frame indices of clip ``i`` at the protocol's rate; ``genres[i]``: the genre clip ``i``
    was generated for. ``ref_cache``: a dict reused across calls with the same ``reference`` (its features are
    computed once). The protocol decides the joints (``joint_set``, ``bas_joints``), the scoring rate (``fps``), the
    generated frames that enter the features (``feature_frames``) and the up axis of PFC/PBC (``up_axis``).
    A whole-song protocol ignores ``reference``, ``genres`` and ``classifier`` and scores with :func:`score_songs`
    (no contacts: skating is None; boundaries: the standard window plan of each song's length).
    """
    if len(generated) == 0:
        raise DataError("no motions to score")
    if protocol.whole_song:
        song_values, song_notes, _ = score_songs(generated, beats=beats)
        return {k: song_values.get(k) for k in protocol.metrics}, song_notes
    notes: list[str] = []
    values: dict[str, float | None] = dict.fromkeys(protocol.metrics)
    has_hands = all(c.shape[1] == 55 for c in generated) and all(c.shape[1] == 55 for c in reference)
    whole = _rate(generated, protocol)
    ff = protocol.feature_frames * (protocol.fps // 30) if protocol.feature_frames else None
    gen = [c[:ff] for c in whole] if ff else whole
    ref: Sequence[np.ndarray] = reference
    if ref_cache is None or not ref_cache:
        ref = _rate(reference, protocol)
    if protocol.hands:
        values["fid_k_body"], values["div_k_body"] = _fid_div(_features("body", gen), _features("body", ref, ref_cache),
                                                              notes, "body")
        if has_hands:
            values["fid_k_hand"], values["div_k_hand"] = _fid_div(
                _features("hands", gen), _features("hands", ref, ref_cache), notes, "hands")
        else:
            notes.append("hands: some motions have no finger joints (SMPL-24 input); hand metrics skipped")
    else:
        kin = "kinetic24" if protocol.joint_set == "smpl24" else "kinetic"
        values["fid_k"], values["div_k"] = _fid_div(_features(kin, gen), _features(kin, ref, ref_cache), notes,
                                                    "kinetic")
        values["fid_g"], values["div_g"] = _fid_div(_features("geometric", gen), _features("geometric", ref, ref_cache),
                                                    notes, "geometric")
    if beats is not None and "bas" in values:
        values["bas"] = _bas(whole, beats, notes, protocol.bas_joints)
    full = [c if c.shape[1] in (24, 52, 55) else c[:, :22] for c in whole]
    if "pfc" in values:
        values["pfc"] = float(pfc(list(full), up_axis=protocol.up_axis))
    if "pbc" in values:
        values["pbc"] = float(pbc(list(full), up_axis=protocol.up_axis, gcdance_indices=protocol.pbc_gcdance_indices))
    if "fsr" in values:
        values["fsr"] = float(foot_sliding_ratio(list(full)))
    if "genre_acc" in values:
        values["genre_acc"] = _genre(classifier, generated, genres, notes)
    return values, notes


def _bas(clips: Sequence[np.ndarray], beats: Sequence[np.ndarray], notes: list[str], joints: str = "body"
         ) -> float | None:
    """Mean BAS over clips that have at least one music beat before their last frame; ``joints``: ``body``
    (0–21) or ``all`` joints of each clip (GCDance's eval_beat.py, Bailando's beat_align_score.py)."""
    scores, skipped = [], 0
    for clip, b in zip(clips, beats):
        b = np.asarray(b)
        if b.size == 0 or not (b < clip.shape[0] - 1).any():
            skipped += 1
            continue
        scores.append(float(beat_align_score(clip if joints == "all" else clip[:, BODY], b)))
    if skipped:
        notes.append(f"BAS: {skipped} of {len(clips)} clips have no music beat inside them and are left out")
    return float(np.mean(scores)) if scores else None


def _genre(classifier: GenreClassifier | None, clips: Sequence[np.ndarray], genres: Sequence[str] | None,
           notes: list[str]) -> float | None:
    if classifier is None or genres is None:
        notes.append("genre accuracy: no genre classifier")
        return None
    known = [i for i, g in enumerate(genres) if g in classifier.classes]
    if len(known) < len(genres):
        notes.append(f"genre accuracy: {len(genres) - len(known)} clips ask for genres the classifier never saw "
                     f"(absent from the training split); left out")
    if not known:
        return None
    result = genre_control_accuracy(classifier, [clips[i] for i in known], [genres[i] for i in known])
    return float(result["genre_accuracy"])  # type: ignore[arg-type]


#: ``songs`` metric → (key of :func:`~dancegen.metrics.longform.longform_report`, take the absolute value per song).
SONG_FIGURES: dict[str, tuple[str, bool]] = {
    "seam_ratio": ("seam_ratio", False),
    "height_drift": ("height_drift_m", True),
    "floor_deviation": ("floor_deviation_m", False),
    "contact_skating": ("contact_skating_mps", False),
    "contact_fraction": ("contact_fraction", False),
    "penetration_max": ("penetration_max_m", False),
    "joint_speed": ("joint_speed_mps", False),
}


def score_songs(
    songs: Sequence[np.ndarray],
    contacts: Sequence[np.ndarray | None] | None = None,
    boundaries: Sequence[Sequence[int]] | None = None,
    beats: Sequence[np.ndarray] | None = None,
) -> tuple[dict[str, float | None], list[str], list[dict[str, Any]]]:
    """Whole-song figures: (means over songs per :data:`SONG_FIGURES` metric and ``bas``, notes, per-song figures).

    ``songs[i]``: joints (T, J ≥ 22, 3) of a whole song; ``contacts[i]``: its (T, 4) contact channels (None: no
    skating figure); ``boundaries[i]``: its window-boundary frames (default: those of
    :func:`~dancegen.longform.plan_windows` for its length); ``beats[i]``: music-beat frames (BAS on body joints).
    Each song's figures are :func:`~dancegen.metrics.longform.longform_report` plus ``bas``; a metric's value is the
    mean over the songs that have it (height drift: of |drift|).
    """
    from ..longform import plan_windows
    from ..metrics.longform import longform_report, window_boundaries

    if len(songs) == 0:
        raise DataError("no songs to score")
    notes: list[str] = []
    per_song: list[dict[str, Any]] = []
    for i, joints in enumerate(songs):
        c = None if contacts is None else contacts[i]
        b = window_boundaries(plan_windows(len(joints))) if boundaries is None else list(boundaries[i])
        c = None if c is None else np.asarray(c)[: len(joints)]
        figures: dict[str, Any] = {"frames": len(joints), **longform_report(joints, c, b)}
        bas = None
        if beats is not None:
            frames = np.asarray(beats[i])
            if frames.size and (frames < len(joints) - 1).any():
                bas = float(beat_align_score(joints[:, BODY], frames))
        figures["bas"] = bas
        per_song.append(figures)
    values: dict[str, float | None] = {}
    for key, (figure, absolute) in SONG_FIGURES.items():
        vals = [abs(f[figure]) if absolute else f[figure] for f in per_song if f.get(figure) is not None]
        values[key] = float(np.mean(vals)) if vals else None
    n = len(per_song)
    no_seam = sum(f["seam_ratio"] is None for f in per_song)
    if no_seam:
        notes.append(f"seam ratio: {no_seam} of {n} songs fit one window (no boundary inside) and are left out")
    no_contacts = sum("contact_skating_mps" not in f for f in per_song)
    if no_contacts:
        notes.append(f"contact skating and fraction: {no_contacts} of {n} songs have no contact channels and are "
                     "left out")
    if beats is None:
        values["bas"] = None
    else:
        scored = [f["bas"] for f in per_song if f["bas"] is not None]
        values["bas"] = float(np.mean(scored)) if scored else None
        if len(scored) < n:
            notes.append(f"BAS: {n - len(scored)} of {n} songs have no music beat inside them and are left out")
    return values, notes, per_song


def summarise(rows: Sequence[dict[str, float | None]]) -> dict[str, dict[str, Any]]:
    """Per metric over repeats: mean, std (sample std, ddof 1; None for one repeat), n and the values."""
    out: dict[str, dict[str, Any]] = {}
    for key in rows[0]:
        vals = [v for r in rows if (v := r.get(key)) is not None]
        if not vals:
            out[key] = {"mean": None, "std": None, "n": 0, "values": []}
            continue
        arr = np.asarray(vals, dtype=np.float64)
        std: float | None = float(arr.std(ddof=1)) if len(arr) > 1 else None
        out[key] = {"mean": float(arr.mean()), "std": std, "n": len(vals), "values": [float(v) for v in vals]}
    return out
