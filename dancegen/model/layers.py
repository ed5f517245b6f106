"""Building blocks of the denoiser: rotary positions, FiLM, attention and the FiLM transformer decoder layer."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


# ---------------------------------------------------------------------------------------------- rotary positions
def rotary_cos_sin(positions: Tensor, dim: int, base: float = 10000.0, dtype: torch.dtype = torch.float32
                   ) -> tuple[Tensor, Tensor]:
    """cos and sin of the rotary angles, each (len(positions), dim // 2).

    Pair i (channels 2i, 2i+1) at position p turns by p · base^(−2i / dim) (RoFormer, Su et al. 2021).
    """
    inv_freq = base ** (-torch.arange(0, dim, 2, dtype=torch.float64, device=positions.device) / dim)
    angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate each channel pair (2i, 2i+1) of x (..., T, D) by its angle: (a, b) → (a cos − b sin, a sin + b cos)."""
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1)
    return out.flatten(-2)


def sinusoidal_embedding(t: Tensor, dim: int) -> Tensor:
    """Transformer sinusoidal embedding of the diffusion step t (B,) → (B, dim) = [sin | cos] (as EDGE)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / max(half - 1, 1))
    args = t.float()[:, None] * freqs[None, :]
    emb = torch.cat((args.sin(), args.cos()), dim=-1)
    return F.pad(emb, (0, dim - 2 * half))


# ---------------------------------------------------------------------------------------------- FiLM
class FiLM(nn.Module):
    """Feature-wise linear modulation: y ↦ (1 + γ) · y + β with (γ, β) = Linear(Mish(c))."""

    def __init__(self, cond_dim: int, width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(cond_dim, 2 * width)

    def forward(self, y: Tensor, cond: Tensor) -> Tensor:
        gamma, beta = self.proj(F.mish(cond)).unsqueeze(1).chunk(2, dim=-1)
        return (1 + gamma) * y + beta


def gated_sum(t: Tensor, text: Tensor) -> Tensor:
    """σ(t) ⊙ t + σ(text) ⊙ text: the time ⊕ genre condition of the feed-forward FiLM (GCDance gated units)."""
    return torch.sigmoid(t) * t + torch.sigmoid(text) * text


# ---------------------------------------------------------------------------------------------- attention
class Attention(nn.Module):
    """Multi-head attention (self or cross) with rotary queries/keys, on ``scaled_dot_product_attention``."""

    def __init__(self, width: int, heads: int, dropout: float, cross: bool) -> None:
        super().__init__()
        self.heads, self.dropout, self.cross = heads, dropout, cross
        if cross:
            self.q_proj = nn.Linear(width, width)
            self.kv_proj = nn.Linear(width, 2 * width)
        else:
            self.qkv_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(width, width)

    def _split(self, x: Tensor) -> Tensor:  # (B, T, W) → (B, H, T, W/H)
        b, n, w = x.shape
        return x.view(b, n, self.heads, w // self.heads).transpose(1, 2)

    def project_memory(self, memory: Tensor, rope_k: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """Cross-attention keys (rotated) and values of ``memory`` tokens (B, M, W) → two (B, H, M, W/H).

        Each token's key and value depend on that token (and its position) only, so those of constant memory
        tokens can be computed once and passed to :meth:`forward` as ``memory_prefix``.
        """
        k, v = self.kv_proj(memory).chunk(2, dim=-1)
        return apply_rotary(self._split(k), *rope_k), self._split(v)

    def forward(self, x: Tensor, memory: Tensor | None, rope_q: tuple[Tensor, Tensor],
                rope_k: tuple[Tensor, Tensor], memory_prefix: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """``memory_prefix`` (cross attention only): precomputed (K, V) of the memory tokens that come before
        ``memory`` (from :meth:`project_memory`); ``rope_k`` then holds the positions of ``memory``'s tokens."""
        if self.cross:
            assert memory is not None
            q = self.q_proj(x)
            k, v = self.kv_proj(memory).chunk(2, dim=-1)
        else:
            q, k, v = self.qkv_proj(x).chunk(3, dim=-1)
        q, k, v = self._split(q), self._split(k), self._split(v)
        q, k = apply_rotary(q, *rope_q), apply_rotary(k, *rope_k)
        if memory_prefix is not None:
            k, v = torch.cat((memory_prefix[0], k), dim=2), torch.cat((memory_prefix[1], v), dim=2)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        b, _, n, _ = y.shape
        return self.out_proj(y.transpose(1, 2).reshape(b, n, -1))


# ---------------------------------------------------------------------------------------------- decoder layer
class FiLMDecoderLayer(nn.Module):
    """Pre-LayerNorm decoder layer with FiLM after each block (EDGE's layer plus GCDance's gated genre input).

    x += FiLM_t(SelfAttn(LN x)); x += FiLM_t(CrossAttn(LN x, memory)); x += FiLM_g(FF(LN x)), where the first two
    FiLMs read the time condition t and the last reads g = σ(t)⊙t + σ(α(C_E))⊙α(C_E) (paper eq. 3–4).
    """

    def __init__(self, width: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(width), nn.LayerNorm(width), nn.LayerNorm(width)
        self.self_attn = Attention(width, heads, dropout, cross=False)
        self.cross_attn = Attention(width, heads, dropout, cross=True)
        self.ff = nn.Sequential(nn.Linear(width, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, width))
        self.drop = nn.Dropout(dropout)
        self.film1, self.film2, self.film3 = FiLM(width, width), FiLM(width, width), FiLM(width, width)

    def forward(self, x: Tensor, memory: Tensor, t_cond: Tensor, ff_cond: Tensor,
                rope_x: tuple[Tensor, Tensor], rope_mem: tuple[Tensor, Tensor],
                memory_prefix: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """``memory_prefix``: cached cross-attention (K, V) of the memory tokens before ``memory`` (see
        :meth:`Attention.forward`)."""
        x = x + self.film1(self.drop(self.self_attn(self.norm1(x), None, rope_x, rope_x)), t_cond)
        x = x + self.film2(self.drop(self.cross_attn(self.norm2(x), memory, rope_x, rope_mem, memory_prefix)),
                           t_cond)
        return x + self.film3(self.drop(self.ff(self.norm3(x))), ff_cond)
