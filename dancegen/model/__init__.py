"""The GCDance denoiser (body + hand expert FiLM transformer decoders), its config and the motion normaliser."""

from .config import PRESETS, ModelConfig
from .denoiser import Condition, ExpertDecoder, GCDanceDenoiser
from .normalizer import MotionNormalizer

__all__ = [
    "PRESETS",
    "Condition",
    "ExpertDecoder",
    "GCDanceDenoiser",
    "ModelConfig",
    "MotionNormalizer",
]
