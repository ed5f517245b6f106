"""The 16 FineDance genres (style2 labels) in canonical index order, their aliases and coarse groups.

This is the one place genre names live; everything else resolves names through :func:`genre_index`.
"""

from __future__ import annotations

import difflib
import re

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
    "breakdancing": "Breaking",
    "breakin": "Breaking",
    "b-boying": "Breaking",
    "bboying": "Breaking",
    "b-girling": "Breaking",
    "poppin": "Popping",
    "lockin": "Locking",
    "jazz funk": "Jazz",
    "jazz-funk": "Jazz",
    "uygur": "Wei",
    "kun opera": "Kun",
    "k-pop": "Korean",
    "kpop": "Korean",
    # Chinese and Korean names (matched as substrings inside free text: these scripts have no spaces)
    "霹雳舞": "Breaking",
    "地板舞": "Breaking",
    "机械舞": "Popping",
    "锁舞": "Locking",
    "嘻哈": "Hiphop",
    "爵士舞": "Jazz",
    "傣族": "Dai",
    "傣族舞": "Dai",
    "维吾尔": "Wei",
    "维族": "Wei",
    "苗族": "Miao",
    "汉唐": "HanTang",
    "身韵": "ShenYun",
    "昆曲": "Kun",
    "昆舞": "Kun",
    "敦煌": "DunHuang",
    "韩舞": "Korean",
    "케이팝": "Korean",
    "中国舞": "Chinese",
}

#: Names that are also everyday words in dance descriptions ("pop music", "urban style", "Chinese fans"): inside
#: longer free text they do not decide the genre (the classifier does); on their own they still do.
GENERIC_NAMES: frozenset[str] = frozenset({"urban", "choreography", "chinese", "pop", "break", "lock", "tai"})

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


def _is_cjk(text: str) -> bool:
    return any(ord(c) > 0x2E80 for c in text)


def _name_pattern(name: str) -> str:
    if _is_cjk(name):
        return re.escape(name)
    words = [re.escape(w) for w in re.split(r"[\s-]+", name)]
    # whole words only; a hyphen joins words ("k-pop" is not "pop"); space or hyphen between alias words
    return r"(?<![\w-])" + r"[\s-]*".join(words) + r"(?![\w-])"


_TEXT_NAMES = sorted((n for n in _LOOKUP if n not in GENERIC_NAMES), key=len, reverse=True)
_TEXT_PATTERN = re.compile("|".join(f"(?P<n{i}>{_name_pattern(n)})" for i, n in enumerate(_TEXT_NAMES)),
                           re.IGNORECASE)


def find_genres_in_text(text: str) -> list[int]:
    """Genres named in free text (canonical names or aliases, whole words, case-insensitive), in order of
    first mention. A text that is exactly a name counts even for :data:`GENERIC_NAMES`; inside longer text
    those are ignored. Chinese and Korean names match as substrings."""
    whole = find_genre(text)
    if whole is not None:
        return [whole]
    found: list[int] = []
    for match in _TEXT_PATTERN.finditer(text):
        idx = _LOOKUP[_TEXT_NAMES[int(match.lastgroup[1:])]]  # type: ignore[index]
        if idx not in found:
            found.append(idx)
    return found


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
