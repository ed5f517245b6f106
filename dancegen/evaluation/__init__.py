"""Evaluation protocols (``gcdance``, ``lodge``, ``songs``) and the runner behind ``dancegen evaluate``.

>>> from dancegen.evaluation import PROTOCOLS
>>> sorted(PROTOCOLS)
['gcdance', 'lodge', 'songs']
"""

from .from_checkpoint import evaluate_checkpoint
from .from_motions import evaluate_motions
from .music import Song, Songs, load_songs
from .protocols import GCDANCE, LODGE, METRICS, PROTOCOLS, SONGS, Clip, Protocol, cut_clips, get_protocol
from .report import print_report, report_table
from .runner import evaluate
from .scoring import score_set, summarise
from .shared import skeleton_kind

__all__ = [
    "GCDANCE", "LODGE", "METRICS", "PROTOCOLS", "SONGS", "Clip", "Protocol", "Song", "Songs", "cut_clips", "evaluate",
    "evaluate_checkpoint", "evaluate_motions", "get_protocol", "load_songs", "print_report", "report_table",
    "score_set", "skeleton_kind", "summarise",
]
