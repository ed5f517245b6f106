"""``wav2clip``: 512-D Wav2CLIP embedding of each 30-FPS frame's own 512-sample window at 15360 Hz.

Frame i embeds samples [512·i, 512·(i+1)) — exactly motion frame i. The model (:mod:`.wav2clip_model`) is our
own implementation; its weights are the original project's ``Wav2CLIP.pt`` (MIT), found in this order:
option ``weights=``, env ``DANCEGEN_WAV2CLIP_WEIGHTS``, the cache (``$DANCEGEN_CACHE`` or
``~/.cache/dancegen``), else downloaded once from :data:`WEIGHTS_URL` (unless offline). The file (a torch state
dict, or the same as ``.safetensors``) is read without running pickled code (``weights_only=True``); a
checkpoint's ``config.json`` never names it (:func:`dancegen.checkpoint.paths.checkpoint_encoder_options`).
Standardisation uses the statistics of all of a song's windows (``norm="song"``, as the published extraction,
which embeds a whole song as one batch) or of each window alone (``norm="window"``).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import DancegenError, MissingWeightsError, UnsafeFileError
from .encoder import ResamplingEncoder

WEIGHTS_URL = "https://github.com/descriptinc/lyrebird-wav2clip/releases/download/v0.1.0-alpha/Wav2CLIP.pt"
WEIGHTS_FILE = "Wav2CLIP.pt"
ENV_WEIGHTS = "DANCEGEN_WAV2CLIP_WEIGHTS"
ENV_SHA256 = "DANCEGEN_WAV2CLIP_SHA256"
WINDOW = 512
NORMS = ("song", "window")
HINT = (f"pass weights=/path/to/{WEIGHTS_FILE} or set {ENV_WEIGHTS} (the file is at {WEIGHTS_URL}); "
        "allow_random_weights=True gives random features for tests only")
CONVERT_HINT = ("convert a copy you trust to safetensors (docs/dancegen/music-encoders.md, \"Converting weights\") and "
                f"point {ENV_WEIGHTS} at the .safetensors file")
log = logging.getLogger(__name__)


def _read_checkpoint(path: Path) -> dict[str, Any]:
    """The state dict in a ``.safetensors`` file, or in a torch file read with ``weights_only=True`` (tensors and
    containers only: a file that needs more, e.g. a Lightning checkpoint with pickled hyper-parameters, is refused
    with how to convert it)."""
    import pickle

    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path))
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # torch's weights-only unpickler met a global it does not allow
        found = re.search(r"GLOBAL (\S+)", str(exc))
        raise UnsafeFileError(f"wav2clip: {path} holds more than tensors ({found[1] if found else 'a pickled object'}"
                              f"), and loading it could run code; {CONVERT_HINT}") from None
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DancegenError(f"wav2clip: cannot read weights {path}: not a safetensors or torch state-dict file, or "
                            f"cut short ({reason})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise DancegenError(f"wav2clip: {path} holds no state dict (got {type(obj).__name__})")
    return obj


class Wav2CLIPEncoder(ResamplingEncoder):
    """Wav2CLIP embedding of each frame's own 512-sample window."""

    name: ClassVar[str] = "wav2clip"
    needs_weights: ClassVar[bool] = True
    weights: ClassVar[str] = WEIGHTS_FILE
    download_size: ClassVar[str] = "≈ 49 MB"  # 12.2 M float32 parameters (the architecture in wav2clip_model)
    offline: ClassVar[bool] = False
    nominal_dim: ClassVar[int | None] = 512

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        norm: str = "song",
        batch_size: int = 512,
        device: str | None = None,
        allow_random_weights: bool = False,
        seed: int = 0,
        download: bool = True,
    ) -> None:
        import torch

        from ..tensor_files import state_mismatch
        from .wav2clip_model import Wav2CLIPAudioEncoder, is_original_state_dict, map_original_names

        if norm not in NORMS:
            raise DancegenError(f"wav2clip: norm must be one of {', '.join(NORMS)}, got {norm!r}")
        if int(batch_size) < 1:
            raise DancegenError(f"wav2clip: batch_size must be ≥ 1, got {batch_size}")
        self.norm, self.batch_size, self.sample_rate = norm, int(batch_size), 15360
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = Wav2CLIPAudioEncoder()
        path = self._find_weights(weights, allow_random_weights, download)
        if path is None:
            log.warning("wav2clip: no weights found; using RANDOM weights (seed %d) — features are meaningless", seed)
            self.weights_id: dict[str, Any] = {"random": True, "seed": int(seed)}
        else:
            from .weights import sha256_file

            state = _read_checkpoint(path)
            state = map_original_names(state) if is_original_state_dict(state) else state
            expected = {k: tuple(v.shape) for k, v in self.model.state_dict().items()}
            problem = state_mismatch(expected, {k: tuple(getattr(v, "shape", ())) for k, v in state.items()})
            if problem:
                raise DancegenError(f"wav2clip: {path} is not a Wav2CLIP checkpoint ({problem})")
            self.model.load_state_dict(state, strict=True)
            self.weights_id = {"random": False, "sha256": sha256_file(path)}
            expected = os.environ.get(ENV_SHA256)
            if expected and expected.lower() != self.weights_id["sha256"]:
                raise DancegenError(f"wav2clip: {path} has sha256 {self.weights_id['sha256']}, {ENV_SHA256} wants "
                                    f"{expected}")
        self.model.eval().to(self.device)

    @staticmethod
    def _find_weights(weights: str | Path | None, allow_random: bool, download: bool) -> Path | None:
        from .weights import cache_dir, cached_file_ok, fetch_weights

        given = weights if weights is not None else os.environ.get(ENV_WEIGHTS) or None
        if given is not None:
            p = Path(given).expanduser()
            if not p.is_file():
                who = "weights=" if weights is not None else ENV_WEIGHTS
                raise MissingWeightsError(f"wav2clip: {who} points to {p}, which does not exist; {HINT}")
            return p
        cached = cache_dir() / WEIGHTS_FILE
        if cached_file_ok(cached):
            return cached
        if allow_random:
            return None
        if not download:
            raise MissingWeightsError(f"wav2clip: no weights and download=False; {HINT}")
        return fetch_weights(WEIGHTS_URL, WEIGHTS_FILE, HINT, os.environ.get(ENV_SHA256), who="wav2clip")

    @property
    def dim(self) -> int:
        return 512

    def encode_prepared(self, y: np.ndarray, frames: int) -> np.ndarray:
        import torch

        windows = torch.from_numpy(np.ascontiguousarray(y[: frames * WINDOW]).reshape(frames, WINDOW))
        out = np.empty((frames, 512), dtype=np.float32)
        with torch.inference_mode():
            logspecs = [self.model.log_spectrogram(windows[i : i + self.batch_size].to(self.device))
                        for i in range(0, frames, self.batch_size)]
            song_stats = None
            if self.norm == "song":  # one set of statistics over every window of the song
                flat = torch.cat([s.flatten().double() for s in logspecs])
                song_stats = (flat.mean().float(), flat.std().float())
            for b, logspec in enumerate(logspecs):
                dims = (1, 2, 3)
                mean, std = song_stats or (logspec.mean(dim=dims, keepdim=True), logspec.std(dim=dims, keepdim=True))
                emb = self.model.embed(logspec, mean, std)
                out[b * self.batch_size : b * self.batch_size + len(emb)] = emb.float().cpu().numpy()
        return out

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "sample_rate": self.sample_rate, "window": WINDOW, "n_fft": 512, "hop": 353,
                "norm": self.norm, "weights": self.weights_id}
