"""``clap``: the CLAP audio tower (HTSAT) of transformers, frame tokens interpolated to 30 FPS.

Audio at 48 kHz is cut into 10-s windows (the last one zero-padded); each window gives 32 frame tokens
(~3.2 tokens/s, 768-D for the LAION models: the last HTSAT stage averaged over frequency), placed at their
centres and linearly interpolated to motion-frame centres. ``clip_embedding=True`` instead gives each frame the
512-D projected, L2-normalised CLAP embedding of its 10-s window (the vector CLAP matches against text).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import DancegenError
from ..motion.layout import FPS
from .encoder import ResamplingEncoder

DEFAULT_MODEL = "laion/clap-htsat-unfused"
WINDOW_SECONDS = 10


class CLAPEncoder(ResamplingEncoder):
    """CLAP (HTSAT) audio frame tokens, or 10-s clip embeddings, at 30 FPS."""

    name: ClassVar[str] = "clap"
    needs_weights: ClassVar[bool] = True
    weights: ClassVar[str] = f"HF {DEFAULT_MODEL}"
    download_size: ClassVar[str] = "≈ 615 MB"
    offline: ClassVar[bool] = False
    nominal_dim: ClassVar[int | None] = 768

    def __init__(
        self,
        model: str | None = DEFAULT_MODEL,
        *,
        clip_embedding: bool = False,
        batch_size: int = 4,
        device: str | None = None,
        allow_random_weights: bool = False,
        config: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        import torch
        from transformers import ClapAudioConfig, ClapAudioModelWithProjection, ClapFeatureExtractor

        from .hf import load_model

        hint = "pass model=/local/dir (a saved ClapModel) or a hub id while online"
        self.model, self.weights_id = load_model(
            ClapAudioModelWithProjection, ClapAudioConfig, model, who="clap", option_hint=hint,
            allow_random_weights=allow_random_weights, config=config, seed=seed,
        )
        if int(batch_size) < 1:
            raise DancegenError(f"clap: batch_size must be ≥ 1, got {batch_size}")
        self.clip_embedding, self.batch_size, self.sample_rate = bool(clip_embedding), int(batch_size), 48000
        self.fusion = bool(getattr(self.model.config, "enable_fusion", False))
        self.extractor = ClapFeatureExtractor(feature_size=self.model.config.num_mel_bins)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)

    @property
    def dim(self) -> int:
        cfg = self.model.config
        return int(cfg.projection_dim if self.clip_embedding else cfg.hidden_size)

    def encode_prepared(self, y: np.ndarray, frames: int) -> np.ndarray:
        import torch

        from .timing import frame_centres, interpolate_to_frames

        win = WINDOW_SECONDS * self.sample_rate
        n_win = -(-len(y) // win)
        y = np.pad(y, (0, n_win * win - len(y)))
        tokens, clips = [], []
        with torch.inference_mode():
            for b in range(0, n_win, self.batch_size):
                batch = [y[i * win : (i + 1) * win] for i in range(b, min(b + self.batch_size, n_win))]
                inp = self.extractor(batch, sampling_rate=self.sample_rate, return_tensors="pt",
                                     truncation="fusion" if self.fusion else "rand_trunc", padding="repeatpad")
                out = self.model.audio_model(input_features=inp["input_features"].to(self.device),
                                             is_longer=inp["is_longer"].to(self.device))
                if self.clip_embedding:
                    emb = self.model.audio_projection(out.pooler_output)
                    clips.append(torch.nn.functional.normalize(emb, dim=-1).float().cpu().numpy())
                else:  # (B, C, freq, time) → (B, time, C)
                    tokens.append(out.last_hidden_state.mean(dim=2).transpose(1, 2).float().cpu().numpy())
        if self.clip_embedding:
            per_window = np.concatenate(clips)
            window_of_frame = np.minimum((frame_centres(frames) // WINDOW_SECONDS).astype(int), n_win - 1)
            return per_window[window_of_frame]
        tok = np.concatenate(tokens)  # (windows, n_tokens, C)
        n_tok = tok.shape[1]
        times = (np.arange(n_win)[:, None] * WINDOW_SECONDS + (np.arange(n_tok) + 0.5) * WINDOW_SECONDS / n_tok)
        return interpolate_to_frames(tok.reshape(-1, tok.shape[2]), times.reshape(-1), frames)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "sample_rate": self.sample_rate, "window_seconds": WINDOW_SECONDS,
                "fps": FPS, "clip_embedding": self.clip_embedding, "weights": self.weights_id}
