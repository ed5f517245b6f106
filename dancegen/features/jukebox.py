"""``jukebox``: precomputed Jukebox features (layer 66 of the 5B prior, 4800-D, 30 FPS), read from disk.

Jukebox itself is far too large to run here, so features are produced once, offline, with jukemirlib (as EDGE
does) and saved as ``<features_dir>/<audio stem>.npy`` of shape (T, 4800)::

    import jukemirlib, numpy as np
    audio = jukemirlib.load_audio("song.wav")
    reps = jukemirlib.extract(audio, layers=[66], downsample_target_rate=30)
    np.save("juke_feats/song.npy", reps[66])

The encoder looks the song up by its file stem (:meth:`MusicEncoder.encode_file`); up to ``tolerance`` missing
trailing frames (jukemirlib rounds lengths) are filled by repeating the last frame, extra frames are dropped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import DancegenError, DataError
from .encoder import MusicEncoder, num_frames

ENV_DIR = "DANCEGEN_JUKEBOX_DIR"
DIM = 4800


class JukeboxEncoder(MusicEncoder):
    """Precomputed Jukebox layer-66 features read from <features_dir>/<song>.npy."""

    name: ClassVar[str] = "jukebox"
    needs_weights: ClassVar[bool] = True
    weights: ClassVar[str] = f"<song>.npy in ${ENV_DIR}"
    download_size: ClassVar[str] = "≈ 10 GB (jukemirlib)"
    offline: ClassVar[bool] = False
    nominal_dim: ClassVar[int | None] = DIM

    def __init__(self, features_dir: str | Path | None = None, tolerance: int = 3) -> None:
        given = features_dir if features_dir is not None else os.environ.get(ENV_DIR)
        if not given:
            raise DancegenError(f"jukebox: pass features_dir=DIR or set {ENV_DIR} (a folder of <song>.npy "
                                "(T, 4800) features made with jukemirlib; see docs/dancegen/music-encoders.md)")
        self.features_dir = Path(given).expanduser()
        if not self.features_dir.is_dir():
            raise DataError(f"jukebox: features directory {self.features_dir} does not exist")
        self.tolerance = int(tolerance)

    @property
    def dim(self) -> int:
        return DIM

    def encode(self, audio: np.ndarray, sr: int) -> np.ndarray:
        raise DancegenError("jukebox: features are looked up by song name; use encode_file(path) "
                            "(or encode_keyed(audio, sr, stem))")

    def encode_keyed(self, audio: np.ndarray, sr: int, key: str | None) -> np.ndarray:
        if key is None:
            return self.encode(audio, sr)
        from .audio import to_mono

        frames = num_frames(len(to_mono(audio)), sr)
        path = self.features_dir / f"{key}.npy"
        if not path.is_file():
            raise DataError(f"jukebox: no precomputed features {path}; extract them with jukemirlib (layer 66, 30 FPS)")
        feats = np.load(path, mmap_mode="r", allow_pickle=False)
        if feats.ndim != 2 or feats.shape[1] != DIM:
            raise DataError(f"jukebox: {path} has shape {feats.shape}, expected (T, {DIM})")
        if len(feats) == 0 or len(feats) + self.tolerance < frames:
            raise DataError(f"jukebox: {path} has {len(feats)} frames but the audio has {frames} (30 FPS)")
        feats = np.asarray(feats[:frames], dtype=np.float32)
        if len(feats) < frames:
            feats = np.concatenate([feats, np.repeat(feats[-1:], frames - len(feats), axis=0)])
        return feats

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "layer": 66, "features_dir": str(self.features_dir.resolve())}
