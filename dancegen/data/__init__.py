"""Data: FineDance / AIST++ / procedural loaders, the 120-frame window data set and the music-feature cache."""

from .aist import AIST_GENRE_CODES, AIST_GENRES, load_aist
from .cache import FeatureCache, default_cache_root
from .finedance import OFFICIAL_SPLITS, PROTOCOLS, load_finedance
from .sequence import DataReport, Sequence, SequenceSet
from .windows import WindowDataset

__all__ = [
    "AIST_GENRES", "AIST_GENRE_CODES", "OFFICIAL_SPLITS", "PROTOCOLS", "DataReport", "FeatureCache", "Sequence",
    "SequenceSet", "WindowDataset", "default_cache_root", "load_aist", "load_finedance",
]
