"""``dancegen demo``: synthesise a song, dance to it with the bundled model, write the files, print the beat
alignment. ``--retrain`` rebuilds the bundled model from the procedural data set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from . import app

Opt = typer.Option


@app.command()
def demo(
    song: Annotated[Path | None, Opt("--song", help="Your own audio file (default: a synthesised song).")] = None,
    text: Annotated[str, Opt("--text", help="Describe the dance; the genre controller picks the genre.")
                    ] = "fluid Dai folk",
    out: Annotated[Path | None, Opt("--out", help="Output folder (demo: the dance files, default demo_out; "
                                    "--retrain: the model, default ~/.cache/dancegen/default_model).")] = None,
    seconds: Annotated[float, Opt("--seconds", help="Length of the synthesised song.")] = 30.0,
    steps: Annotated[int | None, Opt("--steps", help="DDIM steps (default 20); with --retrain: training steps "
                                     "(default: those of the bundled model).")] = None,
    seed: Annotated[int, Opt("--seed", help="Random seed of the song and the sampling.")] = 0,
    checkpoint: Annotated[Path | None, Opt("--checkpoint", help="Use another model (default: the bundled one).")
                          ] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the summary as JSON.")] = False,
    retrain: Annotated[bool, Opt("--retrain", help="Retrain the bundled model from scratch on the procedural "
                                 "data set instead of running the demo.")] = False,
    work_dir: Annotated[Path | None, Opt("--work-dir", help="--retrain: data set and run folder "
                                         "(default ~/.cache/dancegen/demo-retrain).")] = None,
    data_seed: Annotated[int, Opt("--data-seed", help="--retrain: seed of the procedural data set.")] = 0,
    install: Annotated[bool, Opt("--install", help="--retrain: overwrite the package's bundled model.")] = False,
) -> None:
    """Generate a dance for a synthesised 30-s song with the bundled model (text "fluid Dai folk") and score it."""
    from ..errors import DancegenError

    if retrain:
        from ..demo import BUNDLED_STEPS
        from ..demo import retrain as do_retrain

        dest = do_retrain(out, steps or BUNDLED_STEPS, work_dir, data_seed, install, progress=not as_json)
        typer.echo(json.dumps({"model": str(dest)}) if as_json else f"model written to {dest}")
        return
    if install or work_dir is not None:
        raise DancegenError("--install and --work-dir only apply with --retrain")
    from ..demo import BUNDLED_NOTICE, DEMO_STEPS, run_demo

    if checkpoint is None:
        typer.echo(BUNDLED_NOTICE, err=True)
    from ..output_folder import claim_output_folder

    target = out if out is not None else Path("demo_out")
    with claim_output_folder(target):  # one run per folder, refused when it holds foreign files
        res = run_demo(target, song, text, seconds, DEMO_STEPS if steps is None else steps, checkpoint, seed)
    if as_json:
        typer.echo(json.dumps(res.to_dict(), indent=1))
        return
    g = res.genre
    typer.echo(f"song      {res.song}")
    p = next((t["probability"] for t in g["top3"] if t["genre"] == g["genre"]), None)
    typer.echo(f"genre     {g['genre']} ({g['source']}{'' if p is None else f', p={p:.2f}'}) from {text!r}")
    typer.echo(f"dance     {res.duration:.2f} s, {res.frames} frames at 30 FPS, {res.steps} DDIM steps")
    typer.echo(f"BAS       {res.bas:.4f} against {res.beats_source} (beats shifted by half a beat: "
               f"{res.bas_shifted:.4f})")
    typer.echo(f"time      {res.seconds['total']:.1f} s (load {res.seconds['load']:.1f} s, generate "
               f"{res.seconds['generate']:.1f} s)")
    for fmt, path in res.files.items():
        typer.echo(f"wrote     {path}  [{fmt}]")
