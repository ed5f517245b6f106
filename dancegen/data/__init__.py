"""Data: FineDance / AIST++ / procedural loaders, the 120-frame window data set and the music-feature cache."""

from .aist import AIST_GENRE_CODES, AIST_GENRES, load_aist
from .cache import FeatureCache, default_cache_root
from .finedance import OFFICIAL_SPLITS, PROTOCOLS, load_finedance
from .load import check_dataset, detect_format, load_dataset
from .sequence import DataReport, Sequence, SequenceSet
from .windows import WindowDataset

__all__ = [
    "AIST_GENRES", "AIST_GENRE_CODES", "OFFICIAL_SPLITS", "PROTOCOLS", "DataReport", "FeatureCache", "Sequence",
    "SequenceSet", "WindowDataset", "check_dataset", "default_cache_root", "detect_format", "load_aist",
    "load_dataset", "load_finedance",
]
