"""The 16 FineDance genres (style2 labels) in canonical index order, their aliases and coarse groups.

This is the one place genre names live; everything else resolves names through :func:`genre_index`.
"""

from __future__ import annotations

import difflib

from ..errors import DancegenError

GENRES: tuple[str, ...] = (
    "Breaking", "Popping", "Locking", "Hiphop", "Urban", "Jazz", "Dai", "Wei",
    "Miao", "HanTang", "ShenYun", "Kun", "DunHuang", "Korean", "Choreography", "Chinese",
)
NUM_GENRES = len(GENRES)

#: Extra names accepted for a genre (case-insensitive), besides the canonical name itself.
ALIASES: dict[str, str] = {
    "tai": "Dai",
    "uighur": "Wei",
    "uyghur": "Wei",
    "hmong": "Miao",
    "hip-hop": "Hiphop",
    "hip hop": "Hiphop",
    "han tang": "HanTang",
    "shen yun": "ShenYun",
    "dun huang": "DunHuang",
    "kunqu": "Kun",
    "break": "Breaking",
    "breakdance": "Breaking",
    "pop": "Popping",
    "lock": "Locking",
}

GROUPS: dict[str, tuple[str, ...]] = {
    "Street": ("Hiphop", "Popping", "Jazz", "Urban", "Breaking", "Locking"),
    "Folk": ("Miao", "Wei", "Dai"),
    "Classic": ("HanTang", "ShenYun", "DunHuang", "Kun"),
    "Mix": ("Korean", "Choreography", "Chinese"),
}

PROMPT_TEMPLATE = "This is a {genre} type of music."

_LOOKUP: dict[str, int] = {g.lower(): i for i, g in enumerate(GENRES)}
_LOOKUP.update({alias: GENRES.index(g) for alias, g in ALIASES.items()})


class UnknownGenreError(DancegenError):
    """A genre name that is neither canonical nor an alias."""


def find_genre(name: str) -> int | None:
    """Index of ``name`` (canonical or alias, case-insensitive, surrounding space ignored), else None."""
    return _LOOKUP.get(" ".join(name.strip().lower().split()))


def genre_index(name: str) -> int:
    """Index of a genre name or alias; unknown names raise :class:`UnknownGenreError` listing the genres."""
    idx = find_genre(name)
    if idx is None:
        close = difflib.get_close_matches(name.strip().lower(), list(_LOOKUP), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(GENRES[_LOOKUP[c]] for c in close)}?)" if close else ""
        raise UnknownGenreError(f"unknown genre {name!r}{hint}; valid genres: {', '.join(GENRES)}")
    return idx


def genre_name(index: int) -> str:
    """Canonical name of genre ``index``."""
    if not 0 <= index < NUM_GENRES:
        raise UnknownGenreError(f"genre index {index} out of range 0..{NUM_GENRES - 1}")
    return GENRES[index]


def genre_group(name: str) -> str:
    """Coarse group (Street, Folk, Classic, Mix) of a genre name or alias."""
    genre = GENRES[genre_index(name)]
    return next(group for group, members in GROUPS.items() if genre in members)


def prompt(name: str) -> str:
    """The exact text prompt for a genre: ``This is a {genre} type of music.``"""
    return PROMPT_TEMPLATE.format(genre=GENRES[genre_index(name)])
