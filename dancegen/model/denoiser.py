"""GCDance's denoiser: a body expert and a hand expert FiLM transformer decoder predicting x̂0 (319-D motion).

    x_t (B,T,319) ─┬─ [:139] ─► body expert ──────────────► x̂0_body (139) ─┬──────────────► x̂0 (B,T,319)
                   │               ▲ memory: music adapter(music)           │                 ▲
                   │                                                        ▼                 │
                   └─ [139:] ─► hand expert ◄── memory: adapter(x̂0_body ‖ Linear(music → 32)) ─► x̂0_hands (180)

Each expert: Linear(in → W) → L × FiLMDecoderLayer → Linear(W → in), with rotary positions and
memory = LayerNorm([condition tokens (T), α(C_E) (1), 2 time tokens]); FiLM time vector = time MLP + pooled
condition; feed-forward FiLM on σ(t)⊙t + σ(α(C_E))⊙α(C_E) (genre control, paper eq. 3–4).
Classifier-free guidance drops the music condition only (learned null tokens), never the genre.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import DancegenError
from ..motion.layout import BODY_CHANNELS, HAND_CHANNELS, NUM_CHANNELS
from .config import ModelConfig
from .layers import FiLMDecoderLayer, gated_sum, rotary_cos_sin, sinusoidal_embedding


def _mlp(d_in: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, width), nn.ReLU(), nn.Linear(width, width))


class ExpertDecoder(nn.Module):
    """One expert: a FiLM transformer decoder over ``channels`` motion channels attending to a condition."""

    def __init__(self, channels: int, cond_dim: int, cfg: ModelConfig) -> None:
        super().__init__()
        w = cfg.width
        self.cfg = cfg
        self.input_projection = nn.Linear(channels, w)
        self.cond_adapter = _mlp(cond_dim, w)  # condition tokens for cross-attention
        self.text_adapter = _mlp(cfg.genre_dim, w)  # α in paper eq. 3–4
        self.time_mlp = nn.Sequential(nn.Linear(w, 4 * w), nn.Mish())
        self.to_time_cond = nn.Linear(4 * w, w)
        self.to_time_tokens = nn.Linear(4 * w, 2 * w)
        self.pooled_cond_projection = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.null_cond_tokens = nn.Parameter(torch.randn(1, cfg.seq_len, w))
        self.null_cond_hidden = nn.Parameter(torch.randn(1, w))
        self.norm_memory = nn.LayerNorm(w)
        self.layers = nn.ModuleList(FiLMDecoderLayer(w, cfg.heads, cfg.ff, cfg.dropout) for _ in range(cfg.layers))
        self.final_layer = nn.Linear(w, channels)
        # rotary tables for every position a window can use: seq_len motion/music tokens + text + 2 time tokens
        cos, sin = rotary_cos_sin(torch.arange(cfg.seq_len + 3), w // cfg.heads, cfg.rope_base)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def forward(self, x: Tensor, t: Tensor, cond: Tensor, genre: Tensor, drop: Tensor) -> Tensor:
        """x (B,T,C), t (B,), cond (B,T,cond_dim), genre (B,genre_dim), drop (B,) bool → x̂0 (B,T,C)."""
        n = x.shape[1]
        h = self.input_projection(x)
        cond_tokens = self.cond_adapter(cond)
        cond_tokens = torch.where(drop[:, None, None], self.null_cond_tokens[:, :n].to(h.dtype), cond_tokens)
        cond_hidden = self.pooled_cond_projection(cond_tokens.mean(dim=1))
        cond_hidden = torch.where(drop[:, None], self.null_cond_hidden.to(h.dtype), cond_hidden)

        t_hidden = self.time_mlp(sinusoidal_embedding(t, self.cfg.width).to(h.dtype))
        t_cond = self.to_time_cond(t_hidden) + cond_hidden
        t_tokens = self.to_time_tokens(t_hidden).view(x.shape[0], 2, -1)
        text = self.text_adapter(genre)
        memory = self.norm_memory(torch.cat((cond_tokens, text[:, None], t_tokens), dim=1))
        ff_cond = gated_sum(t_cond, text)

        m = memory.shape[1]  # n music tokens + 3; memory token i sits at position i
        cos, sin = self.rope_cos.to(h.dtype), self.rope_sin.to(h.dtype)
        rope_x, rope_mem = (cos[:n], sin[:n]), (cos[:m], sin[:m])
        for layer in self.layers:
            h = layer(h, memory, t_cond, ff_cond, rope_x, rope_mem)
        return self.final_layer(h)


class GCDanceDenoiser(nn.Module):
    """x_t, diffusion step, music features and genre embedding → predicted clean motion x̂0 (B, T, 319)."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        cfg = self.config
        self.body = ExpertDecoder(BODY_CHANNELS, cfg.music_dim, cfg)
        self.hand_music = nn.Linear(cfg.music_dim, cfg.hand_music_dim)
        self.hand = ExpertDecoder(HAND_CHANNELS, BODY_CHANNELS + cfg.hand_music_dim, cfg)

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def _check(self, x_t: Tensor, t: Tensor, music: Tensor, genre: Tensor) -> None:
        cfg = self.config
        if x_t.ndim != 3 or x_t.shape[-1] != NUM_CHANNELS:
            raise DancegenError(f"x_t must be (B, T, {NUM_CHANNELS}), got {tuple(x_t.shape)}")
        b, n, _ = x_t.shape
        if n > cfg.seq_len:
            raise DancegenError(f"motion window of {n} frames exceeds the model's seq_len {cfg.seq_len}")
        if tuple(music.shape) != (b, n, cfg.music_dim):
            raise DancegenError(f"music features must be ({b}, {n}, {cfg.music_dim}), got {tuple(music.shape)}")
        if tuple(genre.shape) != (b, cfg.genre_dim):
            raise DancegenError(f"genre embedding must be ({b}, {cfg.genre_dim}), got {tuple(genre.shape)}")
        if t.shape != (b,):
            raise DancegenError(f"timesteps must be ({b},), got {tuple(t.shape)}")

    def forward(self, x_t: Tensor, t: Tensor, music: Tensor, genre_embedding: Tensor,
                drop_music_mask: Tensor | None = None) -> Tensor:
        """Predict x̂0.

        ``drop_music_mask`` (B,) bool replaces the music condition of the marked samples with the learned null
        embeddings (both experts). When None: in training mode each sample is dropped with probability
        ``cond_drop_prob`` (drawn like dropout, from torch's default generator); in eval mode nothing is dropped.
        """
        self._check(x_t, t, music, genre_embedding)
        b = x_t.shape[0]
        if drop_music_mask is None:
            if self.training and self.config.cond_drop_prob > 0:
                drop_music_mask = torch.rand(b, device=x_t.device) < self.config.cond_drop_prob
            else:
                drop_music_mask = torch.zeros(b, dtype=torch.bool, device=x_t.device)
        drop = drop_music_mask.to(device=x_t.device, dtype=torch.bool)
        if drop.shape != (b,):
            raise DancegenError(f"drop_music_mask must be ({b},), got {tuple(drop.shape)}")
        body = self.body(x_t[..., :BODY_CHANNELS], t, music, genre_embedding, drop)
        hand_cond = torch.cat((body, self.hand_music(music)), dim=-1)
        hands = self.hand(x_t[..., BODY_CHANNELS:], t, hand_cond, genre_embedding, drop)
        return torch.cat((body, hands), dim=-1)

    def guided_forward(self, x_t: Tensor, t: Tensor, music: Tensor, genre_embedding: Tensor,
                       guidance_weight: float) -> Tensor:
        """Classifier-free guided x̂0 = uncond + w · (cond − uncond), both passes batched into one (2B) forward."""
        b = x_t.shape[0]
        drop = torch.cat((torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool))).to(x_t.device)
        out = self(x_t.repeat(2, 1, 1), t.repeat(2), music.repeat(2, 1, 1), genre_embedding.repeat(2, 1), drop)
        cond, uncond = out[:b], out[b:]
        return uncond + guidance_weight * (cond - uncond)
