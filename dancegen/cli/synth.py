"""``dancegen data synth``: write the procedural dance data set (FineDance layout)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .data import data_app


@data_app.command("synth")
def synth(
    out: Annotated[Path, typer.Argument(help="Output directory (must be empty or absent unless --force).")],
    songs_per_genre: Annotated[int, typer.Option("--songs-per-genre", help="Songs per genre (16 genres).")] = 4,
    seconds: Annotated[float, typer.Option("--seconds", help="Length of every song in seconds.")] = 30.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed writes identical files.")] = 0,
    sample_rate: Annotated[int, typer.Option("--sample-rate", help="Sample rate of the wav files (Hz).")] = 15360,
    genres: Annotated[str | None, typer.Option("--genres", help="Comma-separated genres (default: all 16).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output directory.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Generate synthetic music (with ground-truth beats) and genre-styled 52-joint dances keyed on its beats."""
    from ..data.synth import build

    chosen = [g for g in genres.split(",") if g.strip()] if genres else None
    from ..output_folder import claim_output_folder

    with claim_output_folder(out, "OUT", replaceable=False):  # one writer per folder; removes killed runs' temps
        report = build(out, songs_per_genre=songs_per_genre, seconds=seconds, seed=seed, sr=sample_rate,
                       force=force, genres=chosen)
    if as_json:
        print(json.dumps(report.as_dict()))
    else:
        print(f"wrote {report.songs} songs ({report.genres} genres, {report.minutes:.1f} min; "
              f"train {len(report.train)}, test {len(report.test)}) to {report.out} in {report.seconds_taken:.1f} s")
