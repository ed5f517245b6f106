"""Motions produced elsewhere (``dancegen evaluate --motions DIR``), matched to the data set's test clips by file name.

Naming convention (the file stem, or the folder name for ``NAME/motion.npz`` as written by ``dancegen generate``):

* ``NNN_sliceK`` — slice K of test song NNN (frames ``60·K … 60·K + 119``), slice protocols (gcdance, slices) only;
* ``NNN`` — the whole test song NNN: cut into the protocol's clips exactly like the ground truth (gcdance/slices:
  4-s slices at a 2-s stride; lodge: the first 1024 frames; aist: the whole sequence).

``NNN`` is the data set's sequence id: a FineDance number or an AIST++ name such as ``gBR_sBM_cAll_d04_mBR0_ch01``.
Motion files are read at 30 FPS (dancegen's rate), also under ``aist``.

An optional ``test_`` prefix (EDGE's output naming) is ignored. Files: our ``motion.npz`` (``motion_319`` or AMASS
``poses``/``trans``; joints by forward kinematics on the evaluation skeleton) or an EDGE-style ``.pkl`` with
``full_pose`` (T, 24, 3) joint positions, y up (body only: hand metrics are skipped), read with
:func:`dancegen.safe_pickle.load_pickle` (numpy arrays and containers only).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..motion.layout import NUM_CHANNELS, ROOT
from ..safe_pickle import load_pickle
from .protocols import Clip, Protocol

_STEM = re.compile(r"^(?:test_)?(?P<song>.+?)(?:_slice(?P<k>\d+))?$")


def find_motion_files(folder: Path) -> dict[str, Path]:
    """Stem → file for every ``*.npz`` / ``*.pkl`` in ``folder`` and every ``*/motion.npz`` one level down."""
    if not folder.is_dir():
        raise DataError(f"motions directory not found: {folder}")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in (".npz", ".pkl"):
            files[path.stem] = path
        elif path.is_dir() and (path / "motion.npz").is_file():
            files[path.name] = path / "motion.npz"
    if not files:
        raise DataError(f"no motion files in {folder} (expected NNN.npz, NNN_sliceK.npz, .pkl or NAME/motion.npz)")
    return files


def _read(path: Path, skeleton: object, joints_of: Callable) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(319-D motion or None, joints (T, 24, 3) or None) of one file."""
    if path.suffix == ".pkl":
        data = load_pickle(path)  # numpy arrays and containers only: no code runs
        if not isinstance(data, dict) or "full_pose" not in data:
            raise DataError(f"{path}: expected an EDGE-style dict with 'full_pose' (T, 24, 3) joint positions")
        joints = np.asarray(data["full_pose"], dtype=np.float64)
        if joints.ndim == 2 and joints.shape[1] == 72:
            joints = joints.reshape(-1, 24, 3)
        if joints.ndim != 3 or joints.shape[1:] != (24, 3):
            raise DataError(f"{path}: full_pose must have shape (T, 24, 3), got {joints.shape}")
        return None, joints
    from ..export import load_npz

    motion, _ = load_npz(path, skeleton)
    return motion, None


def match_motions(folder: str | Path, clips: list[Clip], protocol: Protocol, skeleton: object,
                  joints_of: Callable[[list[np.ndarray]], list[np.ndarray]]) -> tuple[list[Clip], list[np.ndarray],
                                                                                      list[str]]:
    """(GT clips that have a generated motion, their generated joints, notes). Raises on unmatched files."""
    files = find_motion_files(Path(folder).expanduser())
    by_key = {c.key: c for c in clips}
    by_song: dict[str, list[Clip]] = {}
    for c in clips:
        by_song.setdefault(c.sequence_id, []).append(c)
    chosen: dict[str, tuple[Clip, Path]] = {}
    whole: dict[str, Path] = {}
    unmatched = []
    for stem, path in files.items():
        m = _STEM.match(stem)
        song = m["song"] if m else stem
        if m and song.isdigit():
            song = f"{int(song):03d}"
        if m and m["k"] is not None and protocol.clip_frames is not None:
            key = f"{song}_slice{int(m['k'])}"
            if key in by_key:
                chosen[key] = (by_key[key], path)
                continue
        elif m and m["k"] is None and song in by_song:
            whole[song] = path
            continue
        unmatched.append(path.name)
    if unmatched:
        raise DataError(f"{len(unmatched)} motion files match no {protocol.name} test clip of the data set: "
                        f"{', '.join(unmatched[:5])} (name them NNN.npz for a whole test song"
                        + (" or NNN_sliceK.npz for slice K" if protocol.clip_frames else "") + ")")
    gt: list[Clip] = []
    gen: list[np.ndarray] = []
    for song, path in whole.items():
        motion, joints = _read(path, skeleton, joints_of)
        for c in by_song[song]:
            if c.key in chosen:
                continue
            part = _cut(motion, joints, c, path)
            gt.append(c)
            gen.append(part)
    for c, path in chosen.values():
        motion, joints = _read(path, skeleton, joints_of)
        gt.append(c)
        gen.append(_cut(motion, joints, Clip(c.sequence_id, c.genre, 0, c.frames, c.motion), path))
    notes = []
    missing = len(clips) - len(gt)
    if missing:
        notes.append(f"{missing} of {len(clips)} test clips have no generated motion and are left out")
    # forward kinematics for the 319-D ones, in one batch per length
    out = [joints_of([g])[0] if g.shape[-1] == NUM_CHANNELS else g for g in gen]
    return gt, out, notes


def _cut(motion: np.ndarray | None, joints: np.ndarray | None, clip: Clip, path: Path) -> np.ndarray:
    """The clip's frames of a file's motion (319-D, root re-centred like the GT) or joints."""
    src = motion if motion is not None else joints
    assert src is not None
    if len(src) < clip.start + clip.frames:
        if clip.start == 0 and len(src) >= 3 and clip.sliced is False:
            return _recentre(src[:])
        raise DataError(f"{path}: {len(src)} frames, but clip {clip.key} needs frames {clip.start}-"
                        f"{clip.start + clip.frames - 1}")
    return _recentre(np.array(src[clip.start:clip.start + clip.frames]))


def _recentre(part: np.ndarray) -> np.ndarray:
    part = np.array(part, dtype=np.float32 if part.shape[-1] == NUM_CHANNELS else np.float64)
    if part.shape[-1] == NUM_CHANNELS:
        part[:, ROOT] -= part[0, ROOT]
    return part
