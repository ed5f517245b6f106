"""Genre sets: the genres a model knows, in index order, with their aliases, coarse groups and prompt template.

Two sets are built in (:data:`GENRE_SETS`): ``finedance`` — the 16 FineDance genres (style2 labels), the default
everywhere — and ``aist`` — the 10 AIST++ genres. A controller, a checkpoint and a data set each carry one; names
resolve through :meth:`GenreSet.index` (canonical names and aliases, case-insensitive) and free text through
:meth:`GenreSet.find_in_text`. The module-level functions (:func:`genre_index`, :func:`find_genres_in_text`, …)
are those of the FineDance set.

This is the one place genre names live.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any

from ..errors import DancegenError

PROMPT_TEMPLATE = "This is a {genre} type of music."


class UnknownGenreError(DancegenError):
    """A genre name that is neither canonical nor an alias (or an alias naming several genres)."""


def _spaced(name: str) -> str:
    """Lower case, whitespace collapsed: the form aliases are written and matched in text in."""
    return " ".join(str(name).strip().lower().split())


def _key(name: str) -> str:
    """Lookup key: lower case without spaces, hyphens, dots or underscores ("Hip-Hop" = "hip hop" = "hiphop")."""
    return re.sub(r"[\s\-_.]+", "", str(name).lower())


def _is_cjk(text: str) -> bool:
    return any(ord(c) > 0x2E80 for c in text)


def _name_pattern(name: str) -> str:
    if _is_cjk(name):
        return re.escape(name)
    words = [re.escape(w) for w in re.split(r"[\s-]+", name)]
    # whole words only; a hyphen joins words ("k-pop" is not "pop"); space or hyphen between alias words
    return r"(?<![\w-])" + r"[\s-]*".join(words) + r"(?![\w-])"


class GenreSet:
    """The genres of one data set (or model), in index order.

    ``aliases`` maps extra names (case-insensitive) to one canonical genre; ``ambiguous`` maps names that stand
    for several genres ("hip-hop" in AIST++: Middle or LA Hip-hop) to those genres — in free text they name all of
    them (the classifier picks), as a label they are an error that lists them. ``generic`` names are everyday words
    ("pop", "urban"): inside longer free text they do not decide the genre. ``descriptions`` are short texts per
    genre used for the classification loss L_C when the set has no description data set (FineDance has one: see
    :mod:`dancegen.genre.descriptions`). ``prompt_template`` builds each genre's prompt (its C_E).
    """

    def __init__(self, name: str, genres: Iterable[str], aliases: Mapping[str, str] | None = None,
                 ambiguous: Mapping[str, Iterable[str]] | None = None, generic: Iterable[str] = (),
                 groups: Mapping[str, Iterable[str]] | None = None, prompt_template: str = PROMPT_TEMPLATE,
                 descriptions: Mapping[str, Iterable[str]] | None = None) -> None:
        self.name = str(name)
        self.genres: tuple[str, ...] = tuple(str(g) for g in genres)
        if not self.name.strip():
            raise DancegenError("a genre set needs a name")
        if len(self.genres) < 2 or any(not g.strip() for g in self.genres):
            raise DancegenError(f"genre set {self.name!r} needs at least 2 non-empty genre names, got {self.genres}")
        keys = [_key(g) for g in self.genres]
        if len(set(keys)) != len(keys):
            raise DancegenError(f"genre set {self.name!r} has duplicate genre names: {', '.join(self.genres)}")
        if "{genre}" not in prompt_template:
            raise DancegenError(f"genre set {self.name!r}: the prompt template must contain {{genre}}, got "
                                f"{prompt_template!r}")
        self.prompt_template = str(prompt_template)
        self._lookup: dict[str, int] = {k: i for i, k in enumerate(keys)}
        self._forms: dict[str, list[int]] = {_spaced(g): [i] for i, g in enumerate(self.genres)}
        self.aliases: dict[str, str] = {}
        for alias, genre in (aliases or {}).items():
            idx = self._canonical(genre, f"alias {alias!r}")
            self.aliases[_spaced(alias)] = self.genres[idx]
            self._lookup.setdefault(_key(alias), idx)
            self._forms.setdefault(_spaced(alias), [idx])
        self.ambiguous: dict[str, tuple[str, ...]] = {}
        for alias, members in (ambiguous or {}).items():
            idxs = [self._canonical(g, f"ambiguous name {alias!r}") for g in members]
            if len(idxs) < 2 or _key(alias) in self._lookup:
                raise DancegenError(f"genre set {self.name!r}: ambiguous name {alias!r} must name 2+ genres and "
                                    "be neither a genre nor an alias")
            self.ambiguous[_spaced(alias)] = tuple(self.genres[i] for i in idxs)
            self._forms[_spaced(alias)] = idxs
        self.generic: frozenset[str] = frozenset(_spaced(g) for g in generic)
        self.groups: dict[str, tuple[str, ...]] = {
            str(group): tuple(self.genres[self._canonical(g, f"group {group!r}")] for g in members)
            for group, members in (groups or {}).items()}
        self.descriptions: dict[str, tuple[str, ...]] = {
            self.genres[self._canonical(g, "descriptions")]: tuple(str(t) for t in texts)
            for g, texts in (descriptions or {}).items()}

    def _canonical(self, genre: str, what: str) -> int:
        idx = self._lookup.get(_key(genre)) if isinstance(genre, str) else None
        if idx is None or _key(self.genres[idx]) != _key(genre):
            raise DancegenError(f"genre set {self.name!r}: {what} refers to {genre!r}, which is not one of its "
                                f"genres ({', '.join(self.genres)})")
        return idx

    # -- lookups ----------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.genres)

    def __iter__(self) -> Iterator[str]:
        return iter(self.genres)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GenreSet) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.name, self.genres))

    def __repr__(self) -> str:
        return f"GenreSet({self.name!r}, {len(self)} genres)"

    def find(self, name: str) -> int | None:
        """Index of ``name`` (canonical or alias; case, spaces and hyphens ignored), else None."""
        return self._lookup.get(_key(name)) if isinstance(name, str) else None

    def index(self, name: str) -> int:
        """Index of a genre name or alias; one-line :class:`UnknownGenreError` otherwise (close matches and the
        set's genres listed; an ambiguous name lists the genres it could mean)."""
        idx = self.find(name)
        if idx is not None:
            return idx
        members = self.ambiguous.get(_spaced(name)) if isinstance(name, str) else None
        if members is None and isinstance(name, str):
            members = next((m for a, m in self.ambiguous.items() if _key(a) == _key(name)), None)
        label = "" if self.name == "finedance" else f"{self.name} "
        if members:
            raise UnknownGenreError(f"genre {name!r} is ambiguous: it could be {' or '.join(members)}; name one of "
                                    f"them (valid {label}genres: {', '.join(self.genres)})")
        close = difflib.get_close_matches(_spaced(str(name)), list(self._forms), n=3, cutoff=0.6)
        names = list(dict.fromkeys(self.genres[i] for c in close for i in self._forms[c]))
        hint = f" (did you mean {', '.join(names)}?)" if names else ""
        raise UnknownGenreError(f"unknown genre {name!r}{hint}; valid {label}genres: {', '.join(self.genres)}")

    def genre_name(self, index: int) -> str:
        """Canonical name of genre ``index``."""
        if not 0 <= index < len(self.genres):
            raise UnknownGenreError(f"genre index {index} out of range 0..{len(self.genres) - 1}")
        return self.genres[index]

    def canonical(self, name: str) -> str:
        """The canonical name of a genre name or alias."""
        return self.genres[self.index(name)]

    def group(self, name: str) -> str | None:
        """Coarse group of a genre name or alias (None when the set has no groups or the genre is in none)."""
        genre = self.canonical(name)
        return next((group for group, members in self.groups.items() if genre in members), None)

    def prompt(self, name: str) -> str:
        """The text prompt of a genre, e.g. ``This is a {genre} type of music.``"""
        return self.prompt_template.format(genre=self.canonical(name))

    def prompts(self) -> list[str]:
        """The prompts of all genres, in index order."""
        return [self.prompt_template.format(genre=g) for g in self.genres]

    @cached_property
    def _text_names(self) -> list[str]:
        return sorted((n for n in self._forms if n not in self.generic), key=len, reverse=True)

    @cached_property
    def _text_pattern(self) -> re.Pattern[str]:
        return re.compile("|".join(f"(?P<n{i}>{_name_pattern(n)})" for i, n in enumerate(self._text_names)),
                          re.IGNORECASE)

    def find_in_text(self, text: str) -> list[int]:
        """Genres named in free text (canonical names or aliases, whole words, case-insensitive), in order of
        first mention; an ambiguous name adds all its genres. A text that is exactly a name counts even for
        :attr:`generic` names; inside longer text those are ignored. Chinese and Korean names match as substrings."""
        whole = self.find(text)
        if whole is not None:
            return [whole]
        found: list[int] = []
        for match in self._text_pattern.finditer(text):
            for idx in self._forms[self._text_names[int(match.lastgroup[1:])]]:  # type: ignore[index]
                if idx not in found:
                    found.append(idx)
        return found

    def training_texts(self) -> list[list[str]]:
        """Texts per genre (index order) for the classification loss when the set has no description data set:
        each genre's :attr:`descriptions`, its prompt, and its name and aliases alone and as "… dance"."""
        out: list[list[str]] = []
        for genre in self.genres:
            names = [genre, *(a for a, g in self.aliases.items() if g == genre and not _is_cjk(a))]
            texts = [*self.descriptions.get(genre, ()), self.prompt_template.format(genre=genre)]
            texts += [t for n in names for t in (n, f"{n} dance")]
            out.append(list(dict.fromkeys(texts)))
        return out

    # -- serialisation ----------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; :meth:`from_dict` rebuilds the set."""
        return {"name": self.name, "genres": list(self.genres), "aliases": dict(self.aliases),
                "ambiguous": {k: list(v) for k, v in self.ambiguous.items()}, "generic": sorted(self.generic),
                "groups": {k: list(v) for k, v in self.groups.items()}, "prompt_template": self.prompt_template,
                "descriptions": {k: list(v) for k, v in self.descriptions.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenreSet:
        """A set from :meth:`to_dict` (only ``name`` and ``genres`` are required); one DancegenError line otherwise."""
        if not isinstance(data, Mapping) or not isinstance(data.get("genres"), (list, tuple)):
            raise DancegenError(f"a genre set needs a 'genres' list of names, got {data!r}"[:300])
        known = {"name", "genres", "aliases", "ambiguous", "generic", "groups", "prompt_template", "descriptions"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DancegenError(f"genre set: unknown fields {unknown}; valid: {sorted(known)}")
        try:
            return cls(**{"name": "custom", **dict(data)})
        except (TypeError, AttributeError, ValueError) as exc:
            raise DancegenError(f"genre set {data.get('name', 'custom')!r} is malformed: {exc}") from None


# -- the FineDance set (style2 labels, canonical index order) ---------------------------------------------------

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

FINEDANCE = GenreSet("finedance", GENRES, ALIASES, generic=GENERIC_NAMES, groups=GROUPS)

# -- the AIST++ set (genre codes gBR … gJB in this order: see dancegen.data.aist) ----------------------------------

AIST_GENRES: tuple[str, ...] = (
    "Break", "Pop", "Lock", "Middle Hip-hop", "LA Hip-hop", "House", "Waack", "Krump", "Street Jazz", "Ballet Jazz",
)
AIST_ALIASES: dict[str, str] = {
    "breaking": "Break", "breakin": "Break", "break dance": "Break", "breakdancing": "Break", "b-boying": "Break",
    "b-girling": "Break", "b-boy": "Break", "b-girl": "Break",
    "popping": "Pop", "poppin": "Pop", "boogaloo": "Pop",
    "locking": "Lock", "lockin": "Lock", "campbellocking": "Lock",
    "middle school hip-hop": "Middle Hip-hop", "middle school": "Middle Hip-hop",
    "old school hip-hop": "Middle Hip-hop",
    "la style hip-hop": "LA Hip-hop", "la style": "LA Hip-hop", "l.a. hip-hop": "LA Hip-hop",
    "los angeles hip-hop": "LA Hip-hop", "west coast hip-hop": "LA Hip-hop",
    "house dance": "House", "house dancing": "House",
    "waacking": "Waack", "waaking": "Waack", "whacking": "Waack", "punking": "Waack",
    "krumping": "Krump", "krumpin": "Krump",
    "jazz funk": "Street Jazz", "jazz-funk": "Street Jazz",
    "ballet": "Ballet Jazz", "lyrical jazz": "Ballet Jazz",
}
AIST_AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "hip-hop": ("Middle Hip-hop", "LA Hip-hop"),
    "jazz": ("Street Jazz", "Ballet Jazz"),
}
AIST_GENERIC: frozenset[str] = frozenset({"pop", "break", "lock", "middle school"})
AIST_GROUPS: dict[str, tuple[str, ...]] = {
    "Old school": ("Break", "Pop", "Lock", "Middle Hip-hop", "House", "Waack", "Krump"),
    "New school": ("LA Hip-hop", "Street Jazz", "Ballet Jazz"),
}
#: Short descriptions per AIST++ genre (written for this project, MIT): the texts L_C trains the head on.
AIST_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "Break": ("power moves, windmills and head spins on the floor", "toprock, footwork and freezes to breakbeats",
              "acrobatic floor work with flares and a baby freeze", "six-step footwork in a battle cypher"),
    "Pop": ("sharp muscle hits on every beat", "robotic isolations and tutting to electro funk",
            "arm waves and animated hits", "dime stops and rolls that make the body jerk to the beat"),
    "Lock": ("funky points, wrist rolls and sudden freezes", "1970s soul funk, playful and comedic",
             "scooby doo steps, knee drops and big smiles", "fast arm rotations that stop in a frozen lock"),
    "Middle Hip-hop": ("party grooves with bounce from the early nineties", "running man and the cabbage patch",
                       "bouncing and rocking on a boom-bap beat", "relaxed grooves with rhythmic knee bounces"),
    "LA Hip-hop": ("studio choreography with sharp hits and swagger", "West Coast routine to a trap beat",
                   "hard-hitting choreographed groove with attitude",
                   "tight routine with dynamic accents on heavy bass"),
    "House": ("fast footwork and jacking the torso to a four-on-the-floor beat", "lofting, sliding and skating steps",
              "shuffles and heel-toe steps to disco-influenced club music", "light footwork for a Chicago club night"),
    "Waack": ("fast arm whips and rotations over the shoulders", "dramatic poses and expressions to disco music",
              "glamorous posing and strutting", "rapid overhead arm swings with theatrical attitude"),
    "Krump": ("aggressive stomps, chest pops and arm swings", "raw expressive battle energy with jabs",
              "intense hyper-energetic movement to a heavy beat", "explosive emotional release in a session"),
    "Street Jazz": ("sassy choreography with heels and hip rolls", "stylish moves with sharp accents to an R&B song",
                    "commercial music video choreography", "hair flips, body rolls and attitude"),
    "Ballet Jazz": ("graceful turns, leaps and extensions to a lyrical song",
                    "pirouettes and long lines with soft arms",
                    "classical technique with pointed feet and jazz flair", "elegant jumps to piano music"),
}

AIST = GenreSet("aist", AIST_GENRES, AIST_ALIASES, ambiguous=AIST_AMBIGUOUS, generic=AIST_GENERIC,
                groups=AIST_GROUPS, descriptions=AIST_DESCRIPTIONS)

#: The built-in genre sets by name.
GENRE_SETS: dict[str, GenreSet] = {"finedance": FINEDANCE, "aist": AIST}

#: What a genre-set option accepts: a built-in name, a :meth:`GenreSet.to_dict` dict or a set (None: finedance).
GenreSetLike = GenreSet | str | Mapping[str, Any] | None


def get_genre_set(spec: GenreSetLike = None) -> GenreSet:
    """The genre set ``spec`` names: a built-in name (``finedance``, ``aist``), a :meth:`GenreSet.to_dict` dict
    (one equal to a built-in's gives the built-in), a :class:`GenreSet`, or None (``finedance``)."""
    if spec is None:
        return FINEDANCE
    if isinstance(spec, GenreSet):
        return spec
    if isinstance(spec, str):
        found = GENRE_SETS.get(spec.strip().lower())
        if found is None:
            raise DancegenError(f"unknown genre set {spec!r}; built-in sets: {', '.join(GENRE_SETS)}")
        return found
    if isinstance(spec, Mapping):
        if set(spec) <= {"name"}:
            return get_genre_set(str(spec.get("name", "")))
        built = GenreSet.from_dict(spec)
        return next((s for s in GENRE_SETS.values() if s == built), built)
    raise DancegenError(f"a genre set is a name ({', '.join(GENRE_SETS)}) or a dict, got {type(spec).__name__}")


def genre_set_config(genres: GenreSet) -> str | dict[str, Any]:
    """How a config stores ``genres``: a built-in's name, else its :meth:`GenreSet.to_dict`."""
    return genres.name if GENRE_SETS.get(genres.name) == genres else genres.to_dict()


# -- the FineDance set's lookups as functions (the default genre set) ------------------------------------------

def find_genre(name: str) -> int | None:
    """Index of a FineDance genre ``name`` (canonical or alias, case-insensitive), else None."""
    return FINEDANCE.find(name)


def find_genres_in_text(text: str) -> list[int]:
    """FineDance genres named in free text (see :meth:`GenreSet.find_in_text`)."""
    return FINEDANCE.find_in_text(text)


def genre_index(name: str) -> int:
    """Index of a FineDance genre name or alias; unknown names raise :class:`UnknownGenreError` listing the genres."""
    return FINEDANCE.index(name)


def genre_name(index: int) -> str:
    """Canonical name of FineDance genre ``index``."""
    return FINEDANCE.genre_name(index)


def genre_group(name: str) -> str:
    """Coarse group (Street, Folk, Classic, Mix) of a FineDance genre name or alias."""
    return str(FINEDANCE.group(name))


def prompt(name: str) -> str:
    """The exact text prompt for a FineDance genre: ``This is a {genre} type of music.``"""
    return FINEDANCE.prompt(name)
