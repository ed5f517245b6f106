"""The paper's ablation tables as named presets (``dancegen ablate --table III|IV``): explicit rows (label as in the
paper, aggregator and its options, music-encoder set, genre controller, extra train arguments), their runs (the
same run folders and markers as a grid), encoder substitutes, the offline-weights check and the record of what
each row really ran with (substitutes, random weights)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DancegenError
from .grid import Combination
from .paper_tables import PAPER_COLUMNS, SOURCES, TABLES


@dataclass(frozen=True)
class Published:
    """Values a paper reports for a row (metric key → value) and the key of their source in ``SOURCES``."""

    source: str
    values: Mapping[str, float]


@dataclass(frozen=True)
class TableRow:
    """One row of a paper table."""

    key: str  # short id for ``--rows``
    label: str  # as in the paper
    aggregator: str
    music_encoders: str  # encoders of the set, comma-separated
    genre_controller: str
    aggregator_options: tuple[str, ...] = ()
    train_args: tuple[str, ...] = ()
    published: tuple[Published, ...] = ()
    substituted: tuple[str, ...] = ()  # "old→new" for every encoder replaced by --substitute

    def combination(self, seed: int) -> Combination:
        return Combination(self.aggregator, self.music_encoders, self.genre_controller, seed,
                           self.aggregator_options, self.train_args)


@dataclass(frozen=True)
class PaperTable:
    """A paper table: its rows and the paper's metric columns (in the paper's order)."""

    name: str
    title: str
    rows_from: str
    rows: tuple[TableRow, ...]
    columns: tuple[str, ...] = PAPER_COLUMNS
    sources: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: SOURCES)


def table_names() -> list[str]:
    return list(TABLES)


def get_table(name: str) -> PaperTable:
    """The preset ``name`` (``III`` or ``IV``, case-insensitive)."""
    key = name.strip().upper()
    if key not in TABLES:
        raise DancegenError(f"--table: unknown table {name!r}; choose one of {', '.join(TABLES)}")
    spec = TABLES[key]
    rows = tuple(TableRow(key=r["key"], label=r["label"], aggregator=r["aggregator"],
                          music_encoders=r["music_encoders"], genre_controller=r["genre_controller"],
                          aggregator_options=tuple(r.get("aggregator_options", ())),
                          train_args=tuple(r.get("train_args", ())),
                          published=tuple(Published(p["source"], dict(p["values"])) for p in r["published"]))
                 for r in spec["rows"])
    return PaperTable(key, spec["title"], spec["rows_from"], rows)


def parse_substitutes(items: Sequence[str]) -> dict[str, str]:
    """``["wav2clip=mfcc", …]`` → ``{"wav2clip": "mfcc"}`` (encoder names checked against the registry)."""
    from ..features.registry import MUSIC_ENCODERS

    known = MUSIC_ENCODERS.names()
    subs: dict[str, str] = {}
    for item in items:
        old, sep, new = (x.strip().lower() for x in item.partition("="))
        if not sep or not old or not new or "," in new or "+" in new:
            raise DancegenError(f"--substitute takes ENCODER=ENCODER (e.g. wav2clip=mfcc), got {item!r}")
        for name in (old, new):
            if name not in known:
                raise DancegenError(f"--substitute: unknown music encoder {name!r}; choose among {', '.join(known)}")
        if old in subs:
            raise DancegenError(f"--substitute: {old} given twice")
        subs[old] = new
    return subs


def select_rows(table: PaperTable, rows: str | None, substitutes: Mapping[str, str] | None = None) -> list[TableRow]:
    """The rows named in ``rows`` (comma-separated keys or labels; None: all, in the table's order), each with its
    encoders replaced by ``substitutes`` (the row records which)."""
    chosen = list(table.rows)
    if rows is not None:
        wanted = [w.strip() for w in rows.split(",") if w.strip()]
        if not wanted:
            raise DancegenError("--rows: empty list")
        by_name = {**{r.key.lower(): r for r in table.rows}, **{r.label.lower(): r for r in table.rows}}
        unknown = [w for w in wanted if w.lower() not in by_name]
        if unknown:
            raise DancegenError(f"--rows: table {table.name} has no row {unknown[0]!r}; its rows: "
                                f"{', '.join(r.key for r in table.rows)}")
        keys = {by_name[w.lower()].key for w in wanted}
        chosen = [r for r in table.rows if r.key in keys]
    out = []
    for r in chosen:
        encs = r.music_encoders.split(",")
        new = list(dict.fromkeys((substitutes or {}).get(e, e) for e in encs))
        done = tuple(f"{e}→{(substitutes or {})[e]}" for e in encs if e in (substitutes or {}))
        out.append(TableRow(r.key, r.label, r.aggregator, ",".join(new), r.genre_controller, r.aggregator_options,
                            r.train_args, r.published, done))
    return out


def table_runs(rows: Sequence[TableRow], seeds: Sequence[int]) -> tuple[list[Combination], dict[str, list[str]]]:
    """The runs of ``rows`` × ``seeds`` (one per distinct configuration, in row order) and, per row key, its run
    folder names. Two rows that end up with the same configuration (a substitute can do that) share their runs."""
    combos: dict[str, Combination] = {}
    runs: dict[str, list[str]] = {}
    for r in rows:
        names = []
        for seed in seeds:
            c = r.combination(seed)
            combos.setdefault(c.name, c)
            names.append(c.name)
        runs[r.key] = names
    return list(combos.values()), runs


# -- encoders that need weights ----------------------------------------------------------------------------------

def _hf_cached(model_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(model_id, "config.json"), str)


def weights_problem(encoder: str) -> str | None:
    """Why encoder ``encoder`` cannot run with real weights on this machine (None: it can, or it needs none).
    Looks only at local files: the Wav2CLIP file, the Hugging Face cache, the Jukebox features folder."""
    from ..features.registry import MUSIC_ENCODERS

    cls = MUSIC_ENCODERS.get(encoder).cls
    if getattr(cls, "offline", True) and not getattr(cls, "needs_weights", False):
        return None
    if encoder == "wav2clip":
        from ..features import wav2clip
        from ..features.weights import cache_dir, cached_file_ok

        given = os.environ.get(wav2clip.ENV_WEIGHTS)
        if given:
            return None if Path(given).expanduser().is_file() else f"{wav2clip.ENV_WEIGHTS}={given} does not exist"
        cached = cache_dir() / wav2clip.WEIGHTS_FILE
        return None if cached_file_ok(cached) else (f"no {wav2clip.WEIGHTS_FILE} (set {wav2clip.ENV_WEIGHTS} or put "
                                                    f"it in {cache_dir()})")
    if encoder == "jukebox":
        from ..features import jukebox

        given = os.environ.get(jukebox.ENV_DIR)
        if given and Path(given).expanduser().is_dir():
            return None
        return f"no precomputed Jukebox features (set {jukebox.ENV_DIR} to a folder of <song>.npy)"
    model_id = getattr(inspect.signature(cls.__init__).parameters.get("model"), "default", None)
    if isinstance(model_id, str):
        return None if _hf_cached(model_id) else f"Hugging Face model {model_id} is not in the local cache"
    return None  # a plugin's encoder we cannot check: training reports it if it lacks anything


def supports_random_weights(encoder: str) -> bool:
    from ..features.registry import MUSIC_ENCODERS

    return "allow_random_weights" in inspect.signature(MUSIC_ENCODERS.get(encoder).cls.__init__).parameters


def check_weights(rows: Sequence[TableRow], allow_random_weights: bool) -> list[str]:
    """Raise (one line) when a row needs weights this machine lacks and neither ``--allow-random-weights`` (for
    encoders that have a random mode) nor a substitute covers it; returns notes on the encoders that will run with
    random weights."""
    from ..features.registry import MUSIC_ENCODERS

    notes: list[str] = []
    seen: set[str] = set()
    for r in rows:
        for enc in r.music_encoders.split(","):
            if enc in seen:
                continue
            seen.add(enc)
            if enc not in MUSIC_ENCODERS.names():
                raise DancegenError(f"row {r.label!r}: unknown music encoder {enc!r}")
            problem = weights_problem(enc)
            if problem is None:
                continue
            if allow_random_weights and supports_random_weights(enc):
                notes.append(f"{enc}: {problem}; it runs with RANDOM weights (marked in the table)")
                continue
            how = ("--allow-random-weights (smoke runs; the table marks them) or " if supports_random_weights(enc)
                   else "")
            raise DancegenError(f"row {r.label!r} needs {enc} weights: {problem}; pass {how}--substitute "
                                f"{enc}=ENCODER (e.g. {enc}=mfcc), or drop the row with --rows")
    return notes


def _random_parts(config: Any, path: str = "") -> list[str]:
    """Where a checkpoint config says a component has random weights."""
    found: list[str] = []
    if isinstance(config, dict):
        if config.get("random") is True or (config.get("random_config") and config.get("weights") is None):
            found.append(path or "?")
        for k, v in config.items():
            if isinstance(v, (dict, list)):
                found += _random_parts(v, f"{path}.{k}" if path else str(k))
    elif isinstance(config, list):
        for v in config:
            found += _random_parts(v, path)
    return found


def random_weight_components(run_dir: Path) -> list[str] | None:
    """The components a run's latest checkpoint built with random weights (``["music encoder wav2clip"]``),
    ``[]`` when none, None when the run has no readable checkpoint."""
    from ..checkpoint.files import latest_checkpoint, read_config

    try:
        folder = latest_checkpoint(run_dir / "train")
        if folder is None:
            return None
        cfg = read_config(folder)
    except (DancegenError, OSError, ValueError):
        return None
    out: list[str] = []
    enc_cfg = (cfg.get("music_encoder") or {}).get("config")
    parts = enc_cfg.get("encoders", [enc_cfg]) if isinstance(enc_cfg, dict) else []
    for part in parts:
        if isinstance(part, dict) and _random_parts(part):
            out.append(f"music encoder {part.get('name', '?')}")
    if _random_parts((cfg.get("genre_controller") or {}).get("config")):
        out.append("genre text encoder")
    return out
