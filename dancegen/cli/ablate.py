"""``dancegen ablate``: the ablation sweep (train + evaluate per combination), resumable, with summary tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from . import app

Opt = typer.Option


def _live_table(states: list, protocol: str) -> object:
    from rich.table import Table

    from ..evaluation.protocols import METRICS
    from ..evaluation.report import fmt

    keys = ("fid_k_body", "fid_k_hand", "bas") if protocol == "gcdance" else ("fid_k", "fid_g", "bas")
    table = Table(title="ablation sweep")
    table.add_column("run", no_wrap=True, min_width=max(len(st.combo.name) for st in states))
    for col in ("status", "train s", "eval s", *[METRICS[k][0] for k in keys]):
        table.add_column(col)
    for st in states:
        m = (st.report or {}).get("generated", {}).get("metrics", {})
        cells = [fmt((m.get(k) or {}).get("mean")) for k in keys]
        status = st.status if not st.error else f"failed: {st.error[:60]}"
        table.add_row(st.combo.name, status, fmt(st.train_seconds), fmt(st.eval_seconds), *cells)
    return table


@app.command()
def ablate(
    data: Annotated[Path, Opt(help="FineDance-layout data directory.")],
    out: Annotated[Path, Opt(help="Sweep folder: one run folder per combination plus summary.{md,csv,json}.")],
    aggregators: Annotated[str, Opt(help="Comma-separated mtlkit aggregators.")] = "nash,aligned,linear",
    music_encoders: Annotated[str, Opt(help="Encoder sets separated by ';', encoders of a set by '+'.")
                              ] = "wav2clip+stft;stft;mfcc",
    genre_controller: Annotated[str, Opt(help="Comma-separated: text, label, none (= label without L_C).")
                                ] = "text",
    seeds: Annotated[str, Opt(help="Comma-separated training seeds.")] = "0",
    steps: Annotated[int, Opt(help="Training steps per run.")] = 1000,
    preset: Annotated[str, Opt(help="Model preset: paper, small, tiny.")] = "small",
    batch_size: Annotated[int | None, Opt(help="Training batch size (default: dancegen train's).")] = None,
    protocol: Annotated[str, Opt(help="Evaluation protocol: gcdance or lodge.")] = "gcdance",
    repeats: Annotated[int, Opt(help="Evaluation repeats per run (sampling seeds).")] = 1,
    eval_steps: Annotated[int, Opt(help="DDIM steps at evaluation.")] = 50,
    device: Annotated[str, Opt(help="cpu, cuda, cuda:N (every run).")] = "cpu",
    allow_random_weights: Annotated[bool, Opt("--allow-random-weights", help="Let neural encoders run with random "
                                              "weights when none are installed (smoke tests only).")] = False,
    train_arg: Annotated[list[str] | None, Opt("--train-arg", help="Extra argument passed to every dancegen "
                                               "train (repeatable), e.g. --train-arg=--lr=1e-4.")] = None,
    jobs: Annotated[int, Opt(help="Runs in parallel (worker processes).")] = 1,
    threads: Annotated[int | None, Opt(help="CPU threads per run (OMP_NUM_THREADS; default: CPU count // "
                                            "jobs).")] = None,
    div: Annotated[str, Opt(help="Best Div in the summary: higher or closest (to the GT row).")] = "higher",
    dry_run: Annotated[bool, Opt("--dry-run", help="Print the train/evaluate commands and exit.")] = False,
    json_output: Annotated[bool, Opt("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Train and evaluate every combination; resumes (finished runs are skipped) and writes summary tables."""
    import sys

    from ..ablation import SweepSettings, build_grid, evaluate_command, results_of, run_sweep, shell, train_command
    from ..ablation.summary import DIV_CONVENTIONS, write_summary
    from ..errors import DancegenError
    from ..evaluation import get_protocol
    from ..path_checks import check_input_dir, check_output_dir
    from ..pipeline import check_generation_options

    get_protocol(protocol)
    if div not in DIV_CONVENTIONS:
        raise DancegenError(f"--div must be one of {', '.join(DIV_CONVENTIONS)}, got {div!r}")
    check_input_dir(data, "--data directory")
    for name, value in (("--steps", steps), ("--repeats", repeats), ("--eval-steps", eval_steps), ("--jobs", jobs),
                        ("--threads", 1 if threads is None else threads)):
        if value < 1:
            raise DancegenError(f"{name} must be >= 1, got {value}")
    check_generation_options(steps=eval_steps, prefix="--eval-")
    combos = build_grid(aggregators, music_encoders, genre_controller, seeds)
    settings = SweepSettings(data=data, out=out, steps=steps, preset=preset, batch_size=batch_size, device=device,
                             allow_random_weights=allow_random_weights, protocol=protocol, repeats=repeats,
                             eval_steps=eval_steps, train_args=list(train_arg or []), threads=threads)
    if dry_run:
        from ..ablation import is_finished

        for c in combos:
            run_dir = out / c.name
            prefix = "# finished, skipped: " if is_finished(run_dir) else ""
            typer.echo(prefix + shell(train_command(c, settings, run_dir)))
            typer.echo(prefix + shell(evaluate_command(c, settings, run_dir)))
        return
    check_output_dir(out)
    from rich.console import Console
    from rich.live import Live

    from ..locking import output_lock

    with output_lock(out):  # one sweep per folder; its train / evaluate runs lock their own outputs
        console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
        with Live(console=console, refresh_per_second=2, transient=False, auto_refresh=sys.stderr.isatty()) as live:
            states = run_sweep(combos, settings, jobs=jobs, on_update=lambda st: live.update(_live_table(st, protocol)))
        console.print()
        results = results_of(states)
        failed = [st for st in states if st.status == "failed"]
        if results:
            summary = write_summary(out, results, div=div)
            if json_output:
                typer.echo(json.dumps(summary, indent=2))
            else:
                typer.echo("\n" + (out / "summary.md").read_text())
                typer.echo(f"wrote {out / 'summary.md'}, summary.csv, summary.json", err=True)
        if failed:
            for st in failed:
                typer.echo(f"failed: {st.combo.name}: {st.error} (logs in {st.dir})", err=True)
            raise SystemExit(1)
