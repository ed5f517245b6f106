"""The GCDance denoiser (body + hand expert FiLM transformer decoders), its config and the motion normaliser."""

from .config import PRESETS, ModelConfig
from .denoiser import BODY_CHANNELS, HAND_CHANNELS, MOTION_CHANNELS, ExpertDecoder, GCDanceDenoiser
from .normalizer import MotionNormalizer

__all__ = [
    "BODY_CHANNELS",
    "HAND_CHANNELS",
    "MOTION_CHANNELS",
    "PRESETS",
    "ExpertDecoder",
    "GCDanceDenoiser",
    "ModelConfig",
    "MotionNormalizer",
]
