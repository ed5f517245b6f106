"""FineDance loader (also reads the procedural data set, which writes the same layout).

Layout::

    DIR/motion/NNN.npy        (T, 315) float: root translation 3 + 52 joints × rot6d, 30 FPS, y up
    DIR/music_wav/NNN.wav     the song
    DIR/label_json/NNN.json   {"name", "style1", "style2", ...}   (or one DIR/labels.json: a list of records
                              with "filename"; "frames" is optional)
    DIR/splits.json           optional: {"train": [...], "test": [...], "ignore": [...]} overrides the official splits

The genre is ``style2`` resolved through the FineDance genre set (:data:`dancegen.genre.genres.FINEDANCE`; aliases
such as "Tai" → Dai).
Contacts are computed by forward kinematics on load. When the music is shorter or longer than the motion, both are
cut to the shorter length and the sequence is counted in ``report.truncated``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import DancegenError, DataError
from ..genre.genres import FINEDANCE
from ..motion.layout import FINEDANCE_CHANNELS
from .sequence import DataReport, OnError, Sequence, SequenceSet, audio_frames, check_motion

_ALL_IDS = tuple(f"{i:03d}" for i in range(1, 212))


def _ids(text: str) -> tuple[str, ...]:
    return tuple(f"{int(x):03d}" for x in text.split())


#: Official splits (ids as 3-digit strings). An id both in test and ignore is ignored.
OFFICIAL_SPLITS: dict[str, dict[str, tuple[str, ...]]] = {
    "cross_genre": {
        "test": _ids("063 132 143 036 098 198 130 012 211 193 179 065 137 161 092 037 109 204 144"),
        "ignore": _ids("116 117 118 119 120 121 122 123 202 130"),
    },
    "cross_dancer": {
        "test": _ids("1 2 3 4 5 6 7 8 9 10 11 12 13 124 126 128 130 132"),
        "ignore": _ids("115 117 119 121 122 135 137 139 141 143 145 147 116 118 120 123 202 159 130"),
    },
}
PROTOCOLS = tuple(OFFICIAL_SPLITS)
SPLITS = ("train", "test", "all")


def _normalise_id(value: object) -> str:
    text = Path(str(value)).stem
    return f"{int(text):03d}" if text.isdigit() else text


def read_labels(root: Path) -> dict[str, dict]:
    """Label records keyed by sequence id, from ``label_json/*.json`` or a single ``labels.json``/``label.json``."""
    labels: dict[str, dict] = {}
    label_dir = root / "label_json"
    if label_dir.is_dir():
        for path in sorted(label_dir.glob("*.json")):
            record = _read_json(path)
            if isinstance(record, list) and len(record) == 1:
                record = record[0]
            if not isinstance(record, dict):
                raise DataError(f"{path}: expected one JSON object with a 'style2' genre label")
            labels[_normalise_id(path.stem)] = record
        return labels
    for name in ("labels.json", "label.json", "label_json.json"):
        path = root / name
        if path.is_file():
            records = _read_json(path)
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise DataError(f"{path}: expected a JSON list of {{name, style1, style2, frames, filename}} records")
            for k, record in enumerate(records):
                key = record.get("filename", record.get("name"))
                if key is None:
                    raise DataError(f"{path}: record {k} has neither 'filename' nor 'name'")
                labels[_normalise_id(key)] = record
            return labels
    raise DataError(f"no genre labels in {root}: expected a label_json/ folder or a labels.json file")


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}".replace("\n", " ")) from None


def read_splits_file(root: Path) -> dict[str, tuple[str, ...]] | None:
    """``DIR/splits.json`` as {"train", "test", "ignore"} id tuples, or None when absent."""
    path = root / "splits.json"
    if not path.is_file():
        return None
    data = _read_json(path)
    if not isinstance(data, dict) or not {"train", "test"} <= set(data):
        raise DataError(f"{path}: expected {{\"train\": [ids], \"test\": [ids], \"ignore\": [ids] (optional)}}")
    out = {}
    for key in ("train", "test", "ignore"):
        values = data.get(key, [])
        if not isinstance(values, list):
            raise DataError(f"{path}: {key!r} must be a list of sequence ids")
        out[key] = tuple(_normalise_id(v) for v in values)
    return out


def split_ids(
    root: Path, available: list[str], split: str, protocol: str = "cross_genre"
) -> tuple[list[str], list[str]]:
    """(ids of ``split`` present on disk, ids excluded by the ignore list) for a protocol or ``splits.json``."""
    if split not in SPLITS:
        raise DancegenError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if protocol not in PROTOCOLS:
        raise DancegenError(f"unknown FineDance split protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if split == "all":
        return list(available), []
    table = read_splits_file(root) or OFFICIAL_SPLITS[protocol]
    ignore, test = set(table["ignore"]), set(table["test"])
    # splits.json lists train explicitly; the official tables list test and ignore only
    wanted = set(table[split]) if "train" in table else test if split == "test" else set(available) - test
    chosen = [i for i in available if i in wanted and i not in ignore]
    ignored = [i for i in available if i in wanted and i in ignore]
    return chosen, ignored


def motion_files(root: Path) -> dict[str, Path]:
    """Motion file of each sequence id (``motion/NNN.npy``), sorted by id."""
    return dict(sorted((_normalise_id(p.stem), p) for p in (root / "motion").glob("*.npy")))


def check_layout(root: Path) -> None:
    """Raise a :class:`DataError` when ``root`` is not a FineDance-layout directory."""
    if not root.is_dir():
        raise DataError(f"data directory not found: {root}")
    for sub in ("motion", "music_wav"):
        if not (root / sub).is_dir():
            raise DataError(f"{root} is not a FineDance-layout directory: missing {sub}/ folder")


def load_finedance(
    root: str | Path,
    split: str = "train",
    protocol: str = "cross_genre",
    skeleton: object | None = None,
    on_error: OnError = "raise",
) -> SequenceSet:
    """Load one split of a FineDance-layout directory as 319-D sequences (contacts by FK with ``skeleton``,
    default :meth:`Skeleton.default`). ``on_error="skip"`` records bad sequences in ``report.skipped`` instead of
    raising; an empty split always raises."""
    from ..motion.convert import from_finedance
    from ..motion.skeleton import Skeleton

    root = Path(root).expanduser()
    check_layout(root)
    labels = read_labels(root)
    files = motion_files(root)
    available = list(files)
    if not available:
        raise DataError(f"no motion files in {root / 'motion'} (expected NNN.npy arrays of shape (T, 315))")
    chosen, ignored = split_ids(root, available, split, protocol)
    report = DataReport(source="finedance", root=str(root), split=split, ignored=ignored)
    if (root / "splits.json").is_file() and split != "all":
        report.notes.append("splits from splits.json")
    skel = skeleton if isinstance(skeleton, Skeleton) else Skeleton.default()
    sequences = []
    for seq_id in chosen:
        seq = _load_one(root, files[seq_id], seq_id, labels, report, on_error)
        if seq is None:
            continue
        arr, genre, audio, music_frames = seq
        frames = min(len(arr), music_frames)
        if frames != len(arr) or frames != music_frames:
            report.truncated[seq_id] = (len(arr), music_frames)
        motion = from_finedance(arr[:frames], skel).numpy()
        sequences.append(Sequence(id=seq_id, motion=motion, genre=genre, genre_name=FINEDANCE.genres[genre],
                                  song_id=seq_id, audio=audio))
        report.loaded += 1
        report.frames += frames
    if not sequences:
        raise DataError(
            f"the {split} split of {root} is empty ({len(chosen)} listed, {len(report.skipped)} skipped, "
            f"{len(ignored)} ignored)"
        )
    return SequenceSet(sequences, report, FINEDANCE.genres, genre_table=FINEDANCE.name)


def _load_one(
    root: Path, motion_path: Path, seq_id: str, labels: dict[str, dict], report: DataReport, on_error: OnError
) -> tuple[np.ndarray, int, Path, int] | None:
    record = labels.get(seq_id)
    if record is None:
        return report.problem(seq_id, f"{motion_path}: no genre label for sequence {seq_id}", on_error)
    style = record.get("style2")
    if not isinstance(style, str):
        return report.problem(seq_id, f"label of sequence {seq_id} has no 'style2' genre", on_error)
    try:
        genre = FINEDANCE.index(style)
    except DancegenError as exc:
        return report.problem(seq_id, f"sequence {seq_id}: {exc}", on_error)
    try:
        arr = np.load(motion_path, allow_pickle=False)
    except Exception as exc:
        return report.problem(seq_id, f"cannot read {motion_path}: {exc}".replace("\n", " "), on_error)
    bad = check_motion(arr, FINEDANCE_CHANNELS, str(motion_path))
    if bad:
        return report.problem(seq_id, bad, on_error)
    audio = root / "music_wav" / f"{motion_path.stem}.wav"
    if not audio.is_file():
        return report.problem(seq_id, f"music file not found: {audio}", on_error)
    try:
        music_frames = audio_frames(audio)
    except DataError as exc:
        return report.problem(seq_id, str(exc), on_error)
    if music_frames < 1:
        return report.problem(seq_id, f"{audio}: shorter than one frame", on_error)
    return np.asarray(arr, dtype=np.float32), genre, audio, music_frames
