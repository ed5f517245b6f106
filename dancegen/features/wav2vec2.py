"""``wav2vec2``: hidden states of a transformers ``Wav2Vec2Model`` at 16 kHz, interpolated to 30 FPS.

Audio is standardised (zero mean, unit variance, like ``Wav2Vec2FeatureExtractor(do_normalize=True)``) and
encoded in chunks of ``chunk_seconds``; wav2vec 2.0 frame j covers samples [320·j, 320·j + 400) of its chunk
(~50 frames/s) and is placed at its centre, then features are linearly interpolated to motion-frame centres.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import DancegenError
from .encoder import ResamplingEncoder

DEFAULT_MODEL = "facebook/wav2vec2-base"
STRIDE, FIELD = 320, 400  # conv feature encoder stride and receptive field, in samples at 16 kHz


class Wav2Vec2Encoder(ResamplingEncoder):
    """wav2vec 2.0 hidden states (selectable layer) interpolated to 30 FPS."""

    name: ClassVar[str] = "wav2vec2"
    needs_weights: ClassVar[bool] = True
    weights: ClassVar[str] = f"HF {DEFAULT_MODEL}"
    download_size: ClassVar[str] = "≈ 380 MB"
    offline: ClassVar[bool] = False
    nominal_dim: ClassVar[int | None] = 768

    def __init__(
        self,
        model: str | None = DEFAULT_MODEL,
        *,
        layer: int = -1,
        chunk_seconds: float = 20.0,
        device: str | None = None,
        allow_random_weights: bool = False,
        config: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        import torch
        from transformers import Wav2Vec2Config, Wav2Vec2Model

        from .hf import load_model

        hint = "pass model=/local/dir (a saved Wav2Vec2Model) or a hub id while online"
        self.model, self.weights_id = load_model(
            Wav2Vec2Model, Wav2Vec2Config, model, who="wav2vec2", option_hint=hint,
            allow_random_weights=allow_random_weights, config=config, seed=seed,
        )
        n_layers = self.model.config.num_hidden_layers
        if not -(n_layers + 1) <= int(layer) <= n_layers:
            raise DancegenError(f"wav2vec2: layer must be in [-{n_layers + 1}, {n_layers}], got {layer}")
        if chunk_seconds < 1.0:
            raise DancegenError(f"wav2vec2: chunk_seconds must be ≥ 1, got {chunk_seconds}")
        self.layer, self.chunk_seconds, self.sample_rate = int(layer), float(chunk_seconds), 16000
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode_prepared(self, y: np.ndarray, frames: int) -> np.ndarray:
        import torch

        from .timing import interpolate_to_frames

        y = (y - y.mean()) / np.sqrt(y.var() + 1e-7)
        chunk = int(self.chunk_seconds * self.sample_rate)
        feats, times = [], []
        with torch.inference_mode():
            for start in range(0, len(y), chunk):
                piece = y[start : start + chunk]
                if len(piece) < FIELD:  # too short for one wav2vec frame: pad the tail chunk with zeros
                    piece = np.pad(piece, (0, FIELD - len(piece)))
                x = torch.from_numpy(np.ascontiguousarray(piece, dtype=np.float32))[None].to(self.device)
                out = self.model(x, output_hidden_states=True)
                h = out.hidden_states[self.layer][0].float().cpu().numpy()
                feats.append(h)
                times.append((start + STRIDE * np.arange(len(h)) + FIELD / 2) / self.sample_rate)
        return interpolate_to_frames(np.concatenate(feats), np.concatenate(times), frames)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "sample_rate": self.sample_rate, "layer": self.layer,
                "chunk_seconds": self.chunk_seconds, "normalize": True, "weights": self.weights_id}
