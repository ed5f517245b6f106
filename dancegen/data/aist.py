"""AIST++ loader: SMPL (24-joint) motion at 60 FPS → 319-D at 30 FPS with hands at rest.

Layout::

    DIR/motions/<name>.pkl    {"smpl_poses": (T, 72) axis-angle, "smpl_trans": (T, 3), "smpl_scaling": (1,)}
    DIR/wav/<music>.wav       (or wavs/, music/); <name> = gBR_sBM_cAll_d04_mBR0_ch01 → music mBR0, genre gBR
    DIR/splits/crossmodal_{train,val,test}.txt   optional official splits (one name per line)
    DIR/ignore_list.txt       optional (also looked for in splits/)
    DIR/splits.json           optional {"train", "test", "ignore"} override

The ``.pkl`` files are read with :func:`dancegen.safe_pickle.load_pickle` (numpy arrays and plain containers only;
a file asking for anything else raises :class:`~dancegen.errors.UnsafeFileError` and stops the load).
Frames are subsampled 60 → 30 FPS (every other frame); translation is divided by ``smpl_scaling`` (metres, y up).
SMPL joints 0–21 are the SMPL-H body joints; SMPL's two hand joints (22, 23) are dropped and the 30 finger joints
keep the identity rotation (hands at rest), so every sequence has ``hands_present=False`` and the training losses
leave its hand channels out. The report's ``notes`` say so. Genres use AIST++'s own genre set
(:data:`dancegen.genre.genres.AIST`, names :data:`AIST_GENRES` in the order of the codes :data:`AIST_GENRE_CODES`),
not FineDance's 16.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DancegenError, DataError
from ..genre.genres import AIST, AIST_GENRES
from ..safe_pickle import load_pickle
from .sequence import DataReport, OnError, Sequence, SequenceSet, audio_frames

#: AIST++ genre codes in index order (the names, :data:`AIST_GENRES`, live in :mod:`dancegen.genre.genres`).
AIST_GENRE_CODES: tuple[str, ...] = ("gBR", "gPO", "gLO", "gMH", "gLH", "gHO", "gWA", "gKR", "gJS", "gJB")
assert len(AIST_GENRE_CODES) == len(AIST_GENRES), "one AIST++ genre name per genre code"
#: What the report's notes say about every AIST++ load.
CONVERSION_NOTE = ("AIST++ SMPL 24 joints mapped to the 52-joint layout (body joints 0-21; hands at rest, "
                   "hands_present=False); 60 -> 30 FPS (every other frame)")
SPLITS = ("train", "val", "test", "all")
_WAV_DIRS = ("wav", "wavs", "music", "music_wav")


def parse_name(name: str) -> tuple[int, str]:
    """(genre index, music id) from an AIST++ sequence name such as ``gBR_sBM_cAll_d04_mBR0_ch01``."""
    parts = name.split("_")
    if len(parts) < 5 or parts[0] not in AIST_GENRE_CODES:
        raise DataError(f"{name}: not an AIST++ sequence name (expected gXX_sXX_cXX_dXX_mXXX_chXX, genre code one "
                        f"of {', '.join(AIST_GENRE_CODES)})")
    return AIST_GENRE_CODES.index(parts[0]), parts[4]


def smpl_to_motion(poses: np.ndarray, trans: np.ndarray, scaling: float, skeleton: object | None = None) -> np.ndarray:
    """AIST++ SMPL arrays at 60 FPS → 319-D float32 at 30 FPS (contacts by FK, hands at rest)."""
    import torch

    from ..motion.convert import from_finedance
    from ..motion.rotations import axis_angle_to_rot6d

    poses = np.asarray(poses, dtype=np.float32)[::2].reshape(-1, 24, 3)
    trans = np.asarray(trans, dtype=np.float32)[::2] / np.float32(scaling)
    aa = np.zeros((len(poses), 52, 3), dtype=np.float32)
    aa[:, :22] = poses[:, :22]
    rot6d = axis_angle_to_rot6d(torch.from_numpy(aa)).reshape(len(poses), 312)
    arr = torch.cat((torch.from_numpy(trans), rot6d), dim=-1)
    return from_finedance(arr, skeleton).numpy()


def _read_list(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def split_names(root: Path, available: list[str], split: str) -> tuple[list[str], list[str]]:
    """(names of ``split`` present on disk, names excluded by the ignore list)."""
    from .finedance import read_splits_file

    if split not in SPLITS:
        raise DancegenError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    ignore: set[str] = set()
    for path in (root / "ignore_list.txt", root / "splits" / "ignore_list.txt"):
        if path.is_file():
            ignore |= set(_read_list(path))
    if split == "all":
        return list(available), []
    table = read_splits_file(root)
    if table is not None:
        wanted = set(table.get(split, ()))
        ignore |= set(table["ignore"])
    else:
        path = root / "splits" / f"crossmodal_{split}.txt"
        if not path.is_file():
            raise DataError(f"no {split} split for {root}: expected splits/crossmodal_{split}.txt or a splits.json")
        wanted = set(_read_list(path))
    chosen = [n for n in available if n in wanted and n not in ignore]
    return chosen, [n for n in available if n in wanted and n in ignore]


def check_layout(root: Path) -> None:
    if not root.is_dir():
        raise DataError(f"data directory not found: {root}")
    if not (root / "motions").is_dir():
        raise DataError(f"{root} is not an AIST++ directory: missing motions/ folder")
    if not any((root / d).is_dir() for d in _WAV_DIRS):
        raise DataError(f"{root} is not an AIST++ directory: missing wav/ folder")


def load_aist(
    root: str | Path, split: str = "train", skeleton: object | None = None, on_error: OnError = "raise"
) -> SequenceSet:
    """Load one split of AIST++ as 319-D sequences at 30 FPS (``hands_present=False``)."""
    root = Path(root).expanduser()
    check_layout(root)
    wav_dir = next(root / d for d in _WAV_DIRS if (root / d).is_dir())
    files = {p.stem: p for p in sorted((root / "motions").glob("*.pkl"))}
    if not files:
        raise DataError(f"no motion files in {root / 'motions'} (expected AIST++ .pkl files)")
    chosen, ignored = split_names(root, list(files), split)
    report = DataReport(source="aist", root=str(root), split=split, ignored=ignored, notes=[CONVERSION_NOTE])
    sequences = []
    for name in chosen:
        loaded = _load_one(files[name], wav_dir, report, on_error, skeleton)
        if loaded is None:
            continue
        motion, genre, music_id, audio, music_frames = loaded
        frames = min(len(motion), music_frames)
        if frames != len(motion) or frames != music_frames:
            report.truncated[name] = (len(motion), music_frames)
        sequences.append(Sequence(id=name, motion=motion[:frames], genre=genre, genre_name=AIST.genres[genre],
                                  song_id=music_id, audio=audio, genre_table=AIST.name, hands_present=False))
        report.loaded += 1
        report.frames += frames
    if not sequences:
        raise DataError(f"the {split} split of {root} is empty ({len(chosen)} listed, {len(report.skipped)} skipped, "
                        f"{len(ignored)} ignored)")
    return SequenceSet(sequences, report, AIST.genres, genre_table=AIST.name)


def _load_one(
    path: Path, wav_dir: Path, report: DataReport, on_error: OnError, skeleton: object | None
) -> tuple[np.ndarray, int, str, Path, int] | None:
    name = path.stem
    try:
        genre, music_id = parse_name(name)
    except DataError as exc:
        return report.problem(name, str(exc), on_error)
    try:
        data = load_pickle(path)  # a file that asks to run code raises UnsafeFileError: it stops the load
    except DataError as exc:
        return report.problem(name, str(exc), on_error)
    try:
        poses = np.asarray(data["smpl_poses"], dtype=np.float64)
        trans = np.asarray(data["smpl_trans"], dtype=np.float64)
        scaling = float(np.asarray(data.get("smpl_scaling", 1.0)).reshape(-1)[0])
    except Exception as exc:
        return report.problem(name, f"cannot read {path}: {exc!r}".replace("\n", " "), on_error)
    if poses.ndim != 2 or poses.shape[1] != 72 or trans.shape != (len(poses), 3) or len(poses) < 2:
        return report.problem(name, f"{path}: expected smpl_poses (T, 72) and smpl_trans (T, 3) with T ≥ 2, got "
                                    f"{poses.shape} and {trans.shape}", on_error)
    if not (np.isfinite(poses).all() and np.isfinite(trans).all()):
        return report.problem(name, f"{path}: motion values are NaN or infinite", on_error)
    if not np.isfinite(scaling) or scaling <= 0:
        return report.problem(name, f"{path}: smpl_scaling must be positive, got {scaling}", on_error)
    audio = wav_dir / f"{music_id}.wav"
    if not audio.is_file():
        return report.problem(name, f"music file not found: {audio}", on_error)
    try:
        music_frames = audio_frames(audio)
    except DataError as exc:
        return report.problem(name, str(exc), on_error)
    motion = smpl_to_motion(poses, trans, scaling, skeleton)
    return motion, genre, music_id, audio, music_frames
