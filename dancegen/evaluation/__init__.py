"""Evaluation protocols (``gcdance``, ``slices``, ``lodge``, ``songs``, ``aist``) and the runner behind
``dancegen evaluate``.

>>> from dancegen.evaluation import PROTOCOLS
>>> sorted(PROTOCOLS)
['aist', 'gcdance', 'lodge', 'slices', 'songs']
"""

from .from_checkpoint import evaluate_checkpoint
from .from_motions import evaluate_motions
from .music import Song, Songs, load_songs
from .protocols import (
    AIST,
    GCDANCE,
    LODGE,
    METRICS,
    PROTOCOLS,
    SLICES,
    SONGS,
    Clip,
    ClipSet,
    Protocol,
    cut_clips,
    get_protocol,
    sample_sets,
)
from .report import print_report, report_table
from .runner import evaluate
from .scoring import score_set, summarise
from .shared import skeleton_kind

__all__ = [
    "AIST", "GCDANCE", "LODGE", "METRICS", "PROTOCOLS", "SLICES", "SONGS", "Clip", "ClipSet", "Protocol", "Song",
    "Songs", "cut_clips", "evaluate", "evaluate_checkpoint", "evaluate_motions", "get_protocol", "load_songs",
    "print_report", "report_table", "sample_sets", "score_set", "skeleton_kind", "summarise",
]
