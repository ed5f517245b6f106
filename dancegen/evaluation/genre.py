"""The motion genre classifier behind genre-control accuracy: trained once per data set (FineDance-layout or
AIST++, :func:`dancegen.data.load_dataset`) on its training split's ground-truth motion (4-s slices at a 2-s stride),
stored in the evaluation cache and reused. Its classes are the genres of the data set's own table present in the
training split (FineDance's 16 or AIST++'s 10), by name."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import DataError
from ..metrics import GenreClassifier
from .protocols import SLICES, cut_clips

CLASSIFIER_VERSION = 2


def default_cache_dir(data_dir: str | Path) -> Path:
    """``<data dir>/.dancegen_eval``."""
    return Path(data_dir).expanduser() / ".dancegen_eval"


def _fingerprint(data_dir: Path, ids: list[str], skeleton_source: str) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"version": CLASSIFIER_VERSION, "skeleton": skeleton_source}).encode())
    for seq_id in ids:
        path = data_dir / "motion" / f"{seq_id}.npy"
        if not path.is_file():  # AIST++ layout
            path = data_dir / "motions" / f"{seq_id}.pkl"
        st = path.stat() if path.is_file() else None
        h.update(f"{seq_id}:{st.st_size if st else 0}:{st.st_mtime_ns if st else 0};".encode())
    return h.hexdigest()[:16]


def genre_classifier(data_dir: str | Path, skeleton: object, cache_dir: str | Path | None = None,
                     joints_of: object = None) -> tuple[GenreClassifier | None, Path | None, str]:
    """(classifier, its folder, a note) for ``data_dir``'s training split; trained and cached on first use.

    ``joints_of(list of 319-D clips) → list of (T, 55, 3)`` is the forward kinematics used for the protocol.
    Returns ``(None, None, reason)`` when the training split has fewer than two genres.
    """
    from ..data import load_dataset

    data = Path(data_dir).expanduser()
    train = load_dataset(data, split="train", skeleton=skeleton)
    ids = [s.id for s in train]
    folder = Path(cache_dir).expanduser() if cache_dir else default_cache_dir(data)
    folder = folder / "genre_classifier" / _fingerprint(data, ids, getattr(skeleton, "source", "?"))
    try:
        return GenreClassifier.load(folder), folder, "loaded from cache"
    except DataError:
        pass
    clips = cut_clips(train, SLICES)
    labels = [c.genre for c in clips]
    if len(set(labels)) < 2:
        return None, None, "the training split has fewer than two genres: no genre classifier"
    joints = joints_of([c.motion for c in clips])  # type: ignore[operator]
    clf = GenreClassifier().fit(joints, labels, held_out=0.2, seed=0)
    try:
        clf.save(folder)
    except OSError as exc:
        return clf, None, f"trained (not cached: {exc})"
    return clf, folder, f"trained on {len(clips)} training-split slices"
