"""Dance metrics: kinetic/geometric features, FID and diversity, beat alignment, physical plausibility.

Reimplementations of the reference evaluation code (AIST++ / Bailando, EDGE, FineDance/LODGE, POPDG, GCDance)
in vectorised numpy/scipy, keeping the conventions that change published numbers; see ``docs/dancegen/metrics.md``.
"""

from .beats import beat_align_score, motion_beats, music_beats
from .fid import diversity, fid, normalize
from .genre_classifier import GenreClassifier, genre_control_accuracy, motion_descriptor
from .joints import BODY_JOINTS, HAND_JOINTS, root_relative, smplx55_to_smpl24, upsample_joints
from .kinetic import kinetic_features
from .manual import manual_features
from .physical import foot_sliding_ratio, pbc, pfc

__all__ = [
    "BODY_JOINTS",
    "HAND_JOINTS",
    "GenreClassifier",
    "beat_align_score",
    "diversity",
    "fid",
    "foot_sliding_ratio",
    "genre_control_accuracy",
    "kinetic_features",
    "manual_features",
    "motion_beats",
    "motion_descriptor",
    "music_beats",
    "normalize",
    "pbc",
    "pfc",
    "root_relative",
    "smplx55_to_smpl24",
    "upsample_joints",
]
