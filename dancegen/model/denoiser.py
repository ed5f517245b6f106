"""GCDance's denoiser: a body expert and a hand expert FiLM transformer decoder predicting x̂0 (319-D motion).

    x_t (B,T,319) ─┬─ [:139] ─► body expert ──────────────► x̂0_body (139) ─┬──────────────► x̂0 (B,T,319)
                   │               ▲ memory: music adapter(music)           │                 ▲
                   │                                                        ▼                 │
                   └─ [139:] ─► hand expert ◄── memory: adapter(x̂0_body ‖ Linear(music → 32)) ─► x̂0_hands (180)

Each expert: Linear(in → W) → L × FiLMDecoderLayer → Linear(W → in), with rotary positions and
memory = LayerNorm([condition tokens (T), α(C_E) (1), 2 time tokens]); FiLM time vector = time MLP + pooled
condition; feed-forward FiLM on σ(t)⊙t + σ(α(C_E))⊙α(C_E) (genre control, paper eq. 3–4).
Classifier-free guidance drops the music condition only (learned null tokens), never the genre.

Sampling calls the denoiser at every reverse step with the same condition: :meth:`GCDanceDenoiser.prepare_condition`
computes once per window what does not depend on x_t or t (:class:`Condition`), and ``forward`` / ``guided_forward``
accept it in place of the raw music and genre tensors. Cached: the body memory's condition tokens and genre token
(adapters, LayerNorm) and their cross-attention keys (rotated) and values in every body layer, the pooled body
condition, σ(α)⊙α of both experts, Linear(music → 32), the hand memory's genre token K/V and null-token K/V
(the whole dropped/uncond hand memory but its time tokens). Not cacheable: everything reading t (time MLP, time
tokens and their K/V, FiLM conditions) and, for non-dropped rows, the hand condition tokens (they read x̂0_body).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

from ..errors import DancegenError
from ..motion.layout import BODY_CHANNELS, HAND_CHANNELS, NUM_CHANNELS
from .config import ModelConfig
from .layers import FiLMDecoderLayer, gated_sum, rotary_cos_sin, sinusoidal_embedding


def _mlp(d_in: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, width), nn.ReLU(), nn.Linear(width, width))


#: Per decoder layer, the cross-attention (K rotated, V) of some memory tokens, each (R, heads, tokens, width/heads).
LayerKV = tuple[tuple[Tensor, Tensor], ...]


def _scatter_rows(base: Tensor, rows: int, index: Tensor, values: Tensor) -> Tensor:
    """``base`` (1, ...) repeated to ``rows`` rows, with rows ``index`` replaced by ``values``."""
    out = base.to(values.dtype).expand(rows, *base.shape[1:]).contiguous()
    return out.index_copy_(0, index, values)


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
        self.rope_cos: Tensor
        self.rope_sin: Tensor
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def _rope(self, dtype: torch.dtype, start: int, stop: int) -> tuple[Tensor, Tensor]:
        return self.rope_cos[start:stop].to(dtype), self.rope_sin[start:stop].to(dtype)

    def condition_tokens(self, cond: Tensor, drop: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Condition tokens (R, T, W) and pooled condition (R, W) of ``cond`` (R, T, cond_dim); rows marked in
        ``drop`` (R,) bool get the learned null tokens / null pooled vector (as :meth:`forward`)."""
        n = cond.shape[1]
        tokens = self.cond_adapter(cond)
        if drop is not None:
            tokens = torch.where(drop[:, None, None], self.null_cond_tokens[:, :n].to(tokens.dtype), tokens)
        hidden = self.pooled_cond_projection(tokens.mean(dim=1))
        if drop is not None:
            hidden = torch.where(drop[:, None], self.null_cond_hidden.to(hidden.dtype), hidden)
        return tokens, hidden

    def genre_token(self, genre: Tensor) -> tuple[Tensor, Tensor]:
        """α(C_E) (R, W) and its gate term σ(α)⊙α of the feed-forward FiLM condition (:func:`gated_sum`)."""
        text = self.text_adapter(genre)
        return text, torch.sigmoid(text) * text

    def memory_kv(self, tokens: Tensor, start: int) -> LayerKV:
        """Per layer cross-attention (K, V) of memory tokens (R, M, W) sitting at positions ``start`` … (the
        memory LayerNorm is applied here; it is per token, so tokens can be normalised apart)."""
        memory = self.norm_memory(tokens)
        rope = self._rope(memory.dtype, start, start + memory.shape[1])
        return tuple(cast(FiLMDecoderLayer, layer).cross_attn.project_memory(memory, rope) for layer in self.layers)

    def decode(self, x: Tensor, t: Tensor, prefix_kv: LayerKV, cond_hidden: Tensor, text_gate: Tensor) -> Tensor:
        """:meth:`forward` from a cached condition: x (R,T,C), t (R,), ``prefix_kv`` the per-layer (K, V) of the
        memory's T condition tokens and genre token (positions 0 … T), ``cond_hidden`` the pooled condition (R, W),
        ``text_gate`` σ(α)⊙α (R, W) → x̂0 (R,T,C). Only the two time tokens of the memory are projected here."""
        n = x.shape[1]
        h = self.input_projection(x)
        t_hidden = self.time_mlp(sinusoidal_embedding(t, self.cfg.width).to(h.dtype))
        t_cond = self.to_time_cond(t_hidden) + cond_hidden
        t_tokens = self.norm_memory(self.to_time_tokens(t_hidden).view(x.shape[0], 2, -1))
        ff_cond = torch.sigmoid(t_cond) * t_cond + text_gate  # = gated_sum(t_cond, text)
        rope_x, rope_t = self._rope(h.dtype, 0, n), self._rope(h.dtype, n + 1, n + 3)
        for layer, kv in zip(self.layers, prefix_kv, strict=True):
            h = layer(h, t_tokens, t_cond, ff_cond, rope_x, rope_t, kv)
        return self.final_layer(h)

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


@dataclass(frozen=True)
class Condition:
    """What the denoiser reads of a window's condition that depends neither on x_t nor on t, computed once by
    :meth:`GCDanceDenoiser.prepare_condition` and passed to every reverse step (see the module doc for what is and
    isn't cached). Rows: ``prepare_condition`` gives 2B rows, the B samples with their music and then the same B
    with it dropped (``guided``: the classifier-free guidance batch); :meth:`select` picks rows.
    """

    drop: Tensor  #: (R,) bool: rows whose music condition is dropped (learned null tokens)
    live: Tensor  #: (L,) long: indices of the rows that are not dropped
    guided: bool  #: rows are [cond (B); uncond (B)], as guided_forward needs
    body_kv: LayerKV  #: body memory's T condition tokens + genre token, (R, H, T + 1, W/H) per layer
    body_cond_hidden: Tensor  #: (R, W) pooled body condition (null for dropped rows)
    body_text_gate: Tensor  #: (R, W) σ(α)⊙α of the body expert
    hand_music: Tensor  #: (R, T, hand_music_dim) Linear(music → 32), the music half of the hand condition
    hand_text_kv: LayerKV  #: hand memory's genre token (position T), (R, H, 1, W/H) per layer
    hand_null_kv: LayerKV  #: hand memory's null condition tokens (dropped rows), (1, H, T, W/H) per layer
    hand_null_hidden: Tensor  #: (1, W) the hand expert's null pooled condition
    hand_text_gate: Tensor  #: (R, W) σ(α)⊙α of the hand expert

    @property
    def rows(self) -> int:
        """Number of rows R."""
        return int(self.drop.shape[0])

    @property
    def frames(self) -> int:
        """Window length T the condition was prepared for."""
        return int(self.hand_music.shape[1])

    def select(self, rows: Tensor) -> Condition:
        """The condition of rows ``rows`` (long indices, repeats allowed), in that order; not ``guided``."""
        def pick(x: Tensor) -> Tensor:
            return x.index_select(0, rows)

        def pick_kv(kv: LayerKV) -> LayerKV:
            return tuple((pick(k), pick(v)) for k, v in kv)

        drop = pick(self.drop)
        return Condition(drop=drop, live=torch.nonzero(~drop).squeeze(1), guided=False,
                         body_kv=pick_kv(self.body_kv), body_cond_hidden=pick(self.body_cond_hidden),
                         body_text_gate=pick(self.body_text_gate), hand_music=pick(self.hand_music),
                         hand_text_kv=pick_kv(self.hand_text_kv), hand_null_kv=self.hand_null_kv,
                         hand_null_hidden=self.hand_null_hidden, hand_text_gate=pick(self.hand_text_gate))


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

    def prepare_condition(self, music: Tensor, genre_embedding: Tensor) -> Condition:
        """Everything the denoiser computes from music (B, T, music_dim) and genre (B, genre_dim) alone, for the
        B samples with their music and with it dropped (the guidance batch): pass it to :meth:`guided_forward` /
        :meth:`forward` at every step instead of the raw tensors (same outputs up to float rounding)."""
        cfg = self.config
        if music.ndim != 3 or music.shape[-1] != cfg.music_dim:
            raise DancegenError(f"music features must be (B, T, {cfg.music_dim}), got {tuple(music.shape)}")
        b, n, _ = music.shape
        if n > cfg.seq_len:
            raise DancegenError(f"motion window of {n} frames exceeds the model's seq_len {cfg.seq_len}")
        if tuple(genre_embedding.shape) != (b, cfg.genre_dim):
            raise DancegenError(f"genre embedding must be ({b}, {cfg.genre_dim}), got {tuple(genre_embedding.shape)}")
        drop = torch.cat((torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool))).to(music.device)
        music2, genre2 = music.repeat(2, 1, 1), genre_embedding.repeat(2, 1)
        body_tokens, body_hidden = self.body.condition_tokens(music2, drop)
        body_text, body_gate = self.body.genre_token(genre2)
        hand_text, hand_gate = self.hand.genre_token(genre2)
        hand_null = self.hand.null_cond_tokens[:, :n].to(hand_text.dtype)
        return Condition(
            drop=drop, live=torch.arange(b, device=music.device), guided=True,
            body_kv=self.body.memory_kv(torch.cat((body_tokens, body_text[:, None]), dim=1), 0),
            body_cond_hidden=body_hidden, body_text_gate=body_gate, hand_music=self.hand_music(music2),
            hand_text_kv=self.hand.memory_kv(hand_text[:, None], n), hand_null_kv=self.hand.memory_kv(hand_null, 0),
            hand_null_hidden=self.hand.null_cond_hidden, hand_text_gate=hand_gate)

    def _cached_forward(self, x_t: Tensor, t: Tensor, c: Condition) -> Tensor:
        cfg = self.config
        if x_t.ndim != 3 or tuple(x_t.shape[:2]) != (c.rows, c.frames) or x_t.shape[-1] != NUM_CHANNELS:
            raise DancegenError(f"x_t must be ({c.rows}, {c.frames}, {NUM_CHANNELS}) for this condition, "
                                f"got {tuple(x_t.shape)}")
        if t.shape != (c.rows,):
            raise DancegenError(f"timesteps must be ({c.rows},), got {tuple(t.shape)}")
        rows = c.rows
        body = self.body.decode(x_t[..., :BODY_CHANNELS], t, c.body_kv, c.body_cond_hidden, c.body_text_gate)
        # hand memory: condition tokens read x̂0_body for the rows that keep their music; null tokens are cached
        live_cond = torch.cat((body.index_select(0, c.live), c.hand_music.index_select(0, c.live)), dim=-1)
        live_tokens, live_hidden = self.hand.condition_tokens(live_cond)
        live_kv = self.hand.memory_kv(live_tokens, 0)
        hand_kv = tuple(
            (torch.cat((_scatter_rows(nk, rows, c.live, lk), tk), dim=2),
             torch.cat((_scatter_rows(nv, rows, c.live, lv), tv), dim=2))
            for (nk, nv), (lk, lv), (tk, tv) in zip(c.hand_null_kv, live_kv, c.hand_text_kv, strict=True))
        hand_hidden = _scatter_rows(c.hand_null_hidden, rows, c.live, live_hidden)
        assert len(hand_kv) == cfg.layers
        hands = self.hand.decode(x_t[..., BODY_CHANNELS:], t, hand_kv, hand_hidden, c.hand_text_gate)
        return torch.cat((body, hands), dim=-1)

    def forward(self, x_t: Tensor, t: Tensor, music: Tensor | Condition, genre_embedding: Tensor | None = None,
                drop_music_mask: Tensor | None = None) -> Tensor:
        """Predict x̂0.

        ``drop_music_mask`` (B,) bool replaces the music condition of the marked samples with the learned null
        embeddings (both experts). When None: in training mode each sample is dropped with probability
        ``cond_drop_prob`` (drawn like dropout, from torch's default generator); in eval mode nothing is dropped.
        ``music`` may be a :class:`Condition` from :meth:`prepare_condition` for the same B samples (then
        ``genre_embedding`` is None).
        """
        if isinstance(music, Condition):
            if genre_embedding is not None:
                raise DancegenError("pass either a prepared Condition or music and genre_embedding, not both")
            b = x_t.shape[0]
            if not music.guided or music.rows != 2 * b:
                raise DancegenError(f"the condition must come from prepare_condition for {b} samples")
        elif genre_embedding is None:
            raise DancegenError("genre_embedding is required with raw music features")
        else:
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
        if isinstance(music, Condition):
            return self._cached_forward(x_t, t, music.select(torch.arange(b, device=drop.device) + b * drop.long()))
        assert genre_embedding is not None
        body = self.body(x_t[..., :BODY_CHANNELS], t, music, genre_embedding, drop)
        hand_cond = torch.cat((body, self.hand_music(music)), dim=-1)
        hands = self.hand(x_t[..., BODY_CHANNELS:], t, hand_cond, genre_embedding, drop)
        return torch.cat((body, hands), dim=-1)

    def guided_forward(self, x_t: Tensor, t: Tensor, music: Tensor | Condition, genre_embedding: Tensor | None,
                       guidance_weight: float) -> Tensor:
        """Classifier-free guided x̂0 = uncond + w · (cond − uncond), both passes batched into one (2B) forward.

        ``music`` may be a :class:`Condition` from :meth:`prepare_condition` (``genre_embedding`` None): the
        per-step work is then only what depends on x_t and t.
        """
        b = x_t.shape[0]
        if isinstance(music, Condition):
            if genre_embedding is not None:
                raise DancegenError("pass either a prepared Condition or music and genre_embedding, not both")
            if not music.guided or music.rows != 2 * b:
                raise DancegenError(f"the condition must come from prepare_condition for {b} samples")
            out = self._cached_forward(x_t.repeat(2, 1, 1), t.repeat(2), music)
            cond, uncond = out[:b], out[b:]
            return uncond + guidance_weight * (cond - uncond)
        if genre_embedding is None:
            raise DancegenError("genre_embedding is required with raw music features")
        drop = torch.cat((torch.zeros(b, dtype=torch.bool), torch.ones(b, dtype=torch.bool))).to(x_t.device)
        out = self(x_t.repeat(2, 1, 1), t.repeat(2), music.repeat(2, 1, 1), genre_embedding.repeat(2, 1), drop)
        cond, uncond = out[:b], out[b:]
        return uncond + guidance_weight * (cond - uncond)
