"""``dancegen data``: check a FineDance / AIST++ / procedural data directory, fill its music-feature cache.

The procedural-data helper adds ``dancegen data synth`` to :data:`data_app`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from . import app

data_app = typer.Typer(help="Check data sets and prepare their music features.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _split_sizes(root: Path, fmt: str, ids: list[str]) -> tuple[dict[str, dict[str, int]], list[str], list[str]]:
    """Split sizes among the loadable ``ids`` per protocol, problems (an empty split of ``splits.json`` or of the
    default cross-genre protocol) and warnings (an empty cross-dancer split, e.g. in a FineDance subset)."""
    from ..errors import DataError

    sizes: dict[str, dict[str, int]] = {}
    problems: list[str] = []
    warnings: list[str] = []
    if fmt == "finedance":
        from ..data.finedance import PROTOCOLS, read_splits_file, split_ids

        protocols = ("splits.json",) if read_splits_file(root) is not None else PROTOCOLS
        for protocol in protocols:
            sizes[protocol] = {}
            for split in ("train", "test"):
                chosen, _ = split_ids(root, ids, split, PROTOCOLS[0] if protocol == "splits.json" else protocol)
                sizes[protocol][split] = len(chosen)
                if not chosen:
                    (warnings if protocol == "cross_dancer" else problems).append(
                        f"{protocol}: the {split} split is empty")
    else:
        from ..data.aist import split_names

        sizes["crossmodal"] = {}
        for split in ("train", "val", "test"):
            try:
                sizes["crossmodal"][split] = len(split_names(root, ids, split)[0])
            except DataError:
                sizes["crossmodal"][split] = 0
    return sizes, problems, warnings


def check_directory(root: Path) -> dict[str, Any]:
    """Validate every sequence of a data directory; returns the summary ``dancegen data check`` prints."""
    from ..data.load import detect_format

    fmt = detect_format(root)  # before the heavy imports: a wrong path fails fast
    from ..data import load_aist, load_finedance
    from ..errors import DataError

    try:
        loader = load_aist if fmt == "aist" else load_finedance
        data = loader(root, "all", on_error="skip")
    except DataError as exc:
        if "split of" not in str(exc):  # layout/label problems are fatal as they are
            raise
        data = None
    if data is None:  # every sequence failed: reload in raise mode to report the first reason
        (load_aist if fmt == "aist" else load_finedance)(root, "all")
        raise DataError(f"no loadable sequence in {root}")
    report = data.report
    ids = [s.id for s in data.sequences]
    sizes, split_problems, warnings = _split_sizes(root, fmt, ids)
    problems = [f"{k}: {v}" for k, v in report.skipped.items()] + split_problems
    return {
        "directory": str(root),
        "format": "aist++" if fmt == "aist" else ("procedural" if (root / "splits.json").is_file() else "finedance"),
        "sequences": report.loaded,
        "songs": len({s.song_id for s in data.sequences}),
        "minutes": round(report.minutes, 2),
        "genres": dict(sorted(data.genre_counts().items())),
        "splits": sizes,
        "truncated": {k: list(v) for k, v in report.truncated.items()},
        "hands_present": all(s.hands_present for s in data.sequences),
        "problems": problems,
        "warnings": warnings,
        "ok": not problems,
    }


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary['directory']} ({summary['format']})", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("sequences", str(summary["sequences"]))
    table.add_row("songs", str(summary["songs"]))
    table.add_row("minutes", f"{summary['minutes']:.1f}")
    table.add_row("genres", ", ".join(f"{g} {n}" for g, n in summary["genres"].items()))
    for protocol, sizes in summary["splits"].items():
        table.add_row(f"split {protocol}", ", ".join(f"{k} {v}" for k, v in sizes.items()))
    table.add_row("hands", "present" if summary["hands_present"] else "absent (rest pose)")
    table.add_row("truncated", f"{len(summary['truncated'])} (music and motion lengths differ; cut to the shorter)")
    problems = summary["problems"]
    table.add_row("problems", "[green]none[/green]" if not problems else f"[red]{len(problems)}[/red]")
    console = Console()
    console.print(table)
    for problem in problems:
        console.print(f"  [red]•[/red] {problem}", highlight=False)
    for warning in summary["warnings"]:
        console.print(f"  [yellow]warning:[/yellow] {warning}", highlight=False)


@data_app.command("check")
def check(
    directory: Annotated[Path, typer.Argument(help="FineDance-layout, procedural or AIST++ data directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Validate a data directory: songs, minutes, genres, split sizes and problems (exit 2 when any)."""
    from ..errors import DataError

    summary = check_directory(directory.expanduser())
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    if summary["problems"]:
        raise DataError(f"{len(summary['problems'])} problem(s) found in {directory}")


@data_app.command("prepare")
def prepare(
    directory: Annotated[Path, typer.Argument(help="FineDance-layout, procedural or AIST++ data directory.")],
    music_encoders: Annotated[str, typer.Option("--music-encoders", help="Encoder spec, e.g. 'stft,mfcc'.")] = "stft",
    cache: Annotated[Path | None, typer.Option(help="Cache folder (default DIR/.dancegen_features).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was done as JSON.")] = False,
) -> None:
    """Fill the music-feature cache of every song in a data directory (progress bar on stderr)."""
    from ..data import FeatureCache, default_cache_root, detect_format
    from ..data.aist import _WAV_DIRS
    from ..features import build_music_encoder
    from ..path_checks import check_output_dir

    root = directory.expanduser()
    fmt = detect_format(root)
    check_output_dir(cache or default_cache_root(root), "--cache")  # before any song is encoded
    if fmt == "aist":
        wav_dir = next((root / d for d in _WAV_DIRS if (root / d).is_dir()), root / "wav")
        songs = {p.stem: p for p in sorted(wav_dir.glob("*.wav"))}
    else:
        songs = {p.stem: p for p in sorted((root / "music_wav").glob("*.wav"))}
    if not songs:
        from ..errors import DataError

        raise DataError(f"no .wav music files found in {root}")
    encoder = build_music_encoder(music_encoders)
    store = FeatureCache(cache or default_cache_root(root), encoder)
    from ..locking import output_lock

    with output_lock(store.dir, "cache folder"):  # one prepare per cache folder
        counts = store.fill(songs.items(), progress=not as_json)
    result = {"directory": str(root), "cache": str(store.dir), "encoder": encoder.config(), "dim": encoder.dim,
              "songs": len(songs), **counts}
    if as_json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(f"{len(songs)} songs: {counts['computed']} encoded, {counts['cached']} already cached "
              f"({encoder.dim}-D features in {store.dir})")
