"""``ModelConfig``: the denoiser's hyper-parameters, with named presets and a JSON round trip for checkpoints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..errors import DancegenError


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of :class:`~dancegen.model.GCDanceDenoiser` (both expert decoders share them).

    ``music_dim`` and ``genre_dim`` are whatever the music features and the genre embedding provide (705 =
    Wav2CLIP 512 ‖ STFT 193 and 512 = CLIP text features in the paper); ``seq_len`` is the longest motion window
    (the learned null music tokens have this length).
    """

    width: int = 512
    layers: int = 8
    heads: int = 8
    ff: int = 1024
    dropout: float = 0.1
    music_dim: int = 705
    genre_dim: int = 512
    seq_len: int = 120
    cond_drop_prob: float = 0.25
    hand_music_dim: int = 32
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        for name in ("width", "layers", "heads", "ff", "music_dim", "genre_dim", "seq_len", "hand_music_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise DancegenError(f"model config: {name} must be a positive integer, got {value!r}")
        if self.width % self.heads:
            raise DancegenError(f"model config: width {self.width} is not divisible by heads {self.heads}")
        if (self.width // self.heads) % 2:
            raise DancegenError(f"model config: head size {self.width // self.heads} must be even (rotary pairs)")
        if not 0.0 <= self.dropout < 1.0:
            raise DancegenError(f"model config: dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.cond_drop_prob <= 1.0:
            raise DancegenError(f"model config: cond_drop_prob must be in [0, 1], got {self.cond_drop_prob}")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ModelConfig:
        """A named preset (``paper``, ``small``, ``tiny``) with any field overridden."""
        if name not in PRESETS:
            raise DancegenError(f"unknown model preset {name!r}; choose one of: {', '.join(PRESETS)}")
        return replace(PRESETS[name], **_check_keys(overrides))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (stored in checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a checkpoint from another version)."""
        return cls(**_check_keys(dict(data)))


def _check_keys(data: dict[str, Any]) -> dict[str, Any]:
    known = {f.name for f in fields(ModelConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise DancegenError(f"unknown model config field(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return data


#: Named presets. ``paper`` is the published configuration (≈ 88M parameters); ``small`` trains on a laptop CPU
#: in minutes; ``tiny`` is for tests.
PRESETS: dict[str, ModelConfig] = {
    "paper": ModelConfig(),
    "small": ModelConfig(width=128, layers=3, heads=4, ff=256),
    "tiny": ModelConfig(width=32, layers=1, heads=2, ff=64),
}
