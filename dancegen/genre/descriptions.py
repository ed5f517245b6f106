"""The genre-description data set shipped with dancegen (``dancegen/assets/genre_descriptions.json``).

Free-text descriptions of the 16 genres (style words, moods, instruments, regions, a few in Chinese, Korean or
French), 46 per genre, written for this project (MIT). The split is fixed in the file: every fifth description
of each genre has ``split = "test"`` (144 held out, 9 per genre), the rest ``"train"`` (592). The text classifier
head is trained on the train split only; the trainer samples train descriptions for the classification loss L_C.
Other genre sets (AIST++) have no such data set: L_C draws from :meth:`GenreSet.training_texts
<dancegen.genre.genres.GenreSet.training_texts>` (the set's short descriptions, prompts, names and aliases).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import torch

from ..errors import DataError
from .genres import FINEDANCE, GENRES, NUM_GENRES, GenreSetLike, genre_index, get_genre_set

DESCRIPTIONS_FILE = "genre_descriptions.json"
SPLITS = ("train", "test")


@dataclass(frozen=True)
class GenreDescription:
    """One description: text, canonical genre name, genre index and split (``train`` or ``test``)."""

    text: str
    genre: str
    index: int
    split: str


def asset_bytes(name: str) -> bytes:
    """Raw bytes of a file in ``dancegen/assets``."""
    return resources.files("dancegen").joinpath("assets", name).read_bytes()


@lru_cache(maxsize=1)
def _load_all() -> tuple[GenreDescription, ...]:
    try:
        doc = json.loads(asset_bytes(DESCRIPTIONS_FILE))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the shipped {DESCRIPTIONS_FILE} ({exc}); reinstall dancegen") from None
    items = []
    for item in doc["items"]:
        if item["split"] not in SPLITS:
            raise DataError(f"{DESCRIPTIONS_FILE}: bad split {item['split']!r}")
        idx = genre_index(item["genre"])
        items.append(GenreDescription(item["text"], GENRES[idx], idx, item["split"]))
    return tuple(items)


def load_descriptions(split: str | None = None) -> list[GenreDescription]:
    """All descriptions, or those of one split (``train`` / ``test``), in file order."""
    if split is not None and split not in SPLITS:
        raise DataError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return [d for d in _load_all() if split is None or d.split == split]


def descriptions_sha256() -> str:
    """SHA-256 of the shipped description file (recorded with the trained head to keep them in sync)."""
    return hashlib.sha256(asset_bytes(DESCRIPTIONS_FILE)).hexdigest()


def sample_descriptions(labels: torch.Tensor, generator: torch.Generator | None = None,
                        split: str = "train", genres: GenreSetLike = None) -> list[str]:
    """One random description of each label's genre (for L_C in training): labels (N,) → N texts. ``genres``:
    the labels' genre set (default FineDance: the shipped description set; other sets: their
    :meth:`~dancegen.genre.genres.GenreSet.training_texts`, whatever ``split``)."""
    genre_set = get_genre_set(genres)
    if genre_set == FINEDANCE:
        by_genre: list[list[str]] = [[] for _ in range(NUM_GENRES)]
        for d in load_descriptions(split):
            by_genre[d.index].append(d.text)
    else:
        by_genre = genre_set.training_texts()
    if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < len(by_genre):
        raise DataError(f"genre label out of range 0..{len(by_genre) - 1} for the {genre_set.name} genre set")
    out = []
    for label in labels.tolist():
        pool = by_genre[int(label)]
        out.append(pool[int(torch.randint(len(pool), (1,), generator=generator))])
    return out
