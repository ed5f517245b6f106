"""Evaluation protocols (``gcdance``, ``lodge``, ``songs``) and the runner behind ``dancegen evaluate``.

>>> from dancegen.evaluation import PROTOCOLS
>>> sorted(PROTOCOLS)
['gcdance', 'lodge', 'songs']
"""

from .protocols import GCDANCE, LODGE, METRICS, PROTOCOLS, SONGS, Clip, Protocol, cut_clips, get_protocol
from .report import print_report, report_table
from .runner import evaluate, skeleton_kind
from .scoring import score_set, summarise

__all__ = [
    "GCDANCE", "LODGE", "METRICS", "PROTOCOLS", "SONGS", "Clip", "Protocol", "cut_clips", "evaluate", "get_protocol",
    "print_report", "report_table", "score_set", "skeleton_kind", "summarise",
]
