"""The GCDance denoiser (body + hand expert FiLM transformer decoders), its config and the motion normaliser."""

from .config import PRESETS, ModelConfig
from .denoiser import ExpertDecoder, GCDanceDenoiser
from .normalizer import MotionNormalizer

__all__ = [
    "PRESETS",
    "ExpertDecoder",
    "GCDanceDenoiser",
    "ModelConfig",
    "MotionNormalizer",
]
