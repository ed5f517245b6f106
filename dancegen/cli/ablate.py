"""``dancegen ablate``: the ablation sweep (train + evaluate per combination, or per row of the paper's Table III /
IV with ``--table``), resumable, with summary tables."""

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
    data: Annotated[Path, Opt(help="Data directory (FineDance layout, the procedural set or AIST++).")],
    out: Annotated[Path, Opt(help="Sweep folder: one run folder per combination plus summary.{md,csv,json} "
                                  "(table_<name>.{md,csv,json} with --table).")],
    table: Annotated[str | None, Opt(help="Run the rows of the paper's ablation table III (music features) or IV "
                                          "(genre classification, MTL strategy) instead of a grid.")] = None,
    rows: Annotated[str | None, Opt(help="--table: comma-separated row keys or labels to run (default: all).")
                    ] = None,
    substitute: Annotated[list[str] | None, Opt("--substitute", help="--table: run encoder OLD as NEW in every row, "
                                                "OLD=NEW (repeatable), e.g. jukebox=baseline35; the table marks "
                                                "those rows.")] = None,
    aggregators: Annotated[str | None, Opt(help="Comma-separated mtlkit aggregators [default: nash,aligned,linear]."
                                           )] = None,
    music_encoders: Annotated[str | None, Opt(help="Encoder sets separated by ';', encoders of a set by '+' "
                                              "[default: wav2clip+stft;stft;mfcc].")] = None,
    genre_controller: Annotated[str | None, Opt(help="Comma-separated: text, label, none (= label without L_C) "
                                                "[default: text].")] = None,
    seeds: Annotated[str, Opt(help="Comma-separated training seeds.")] = "0",
    steps: Annotated[int, Opt(help="Training steps per run.")] = 1000,
    preset: Annotated[str, Opt(help="Model preset: paper, small, tiny.")] = "small",
    batch_size: Annotated[int | None, Opt(help="Training batch size (default: dancegen train's).")] = None,
    protocol: Annotated[str, Opt(help="Evaluation protocol, passed to dancegen evaluate --protocol.")] = "gcdance",
    repeats: Annotated[int, Opt(help="Evaluation repeats per run (sampling seeds).")] = 1,
    eval_steps: Annotated[int, Opt(help="DDIM steps at evaluation.")] = 50,
    device: Annotated[str, Opt(help="cpu, cuda, cuda:N (every run).")] = "cpu",
    allow_random_weights: Annotated[bool, Opt("--allow-random-weights", help="Let neural encoders run with random "
                                              "weights when none are installed (smoke tests only; --table marks "
                                              "those rows).")] = False,
    train_arg: Annotated[list[str] | None, Opt("--train-arg", help="Extra argument passed to every dancegen "
                                               "train (repeatable), e.g. --train-arg=--lr=1e-4.")] = None,
    eval_arg: Annotated[list[str] | None, Opt("--eval-arg", help="Extra argument passed to every dancegen "
                                              "evaluate (repeatable), e.g. --eval-arg=--sets=3 for fewer clip "
                                              "sets than the paper's 10.")] = None,
    jobs: Annotated[int, Opt(help="Runs in parallel (worker processes).")] = 1,
    threads: Annotated[int | None, Opt(help="CPU threads per run (OMP_NUM_THREADS; default: CPU count // "
                                            "jobs).")] = None,
    div: Annotated[str, Opt(help="Best Div in the summary: higher or closest (to the GT row).")] = "higher",
    dry_run: Annotated[bool, Opt("--dry-run", help="Print the train/evaluate commands and exit.")] = False,
    json_output: Annotated[bool, Opt("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Train and evaluate every combination (or every row of a paper table); resumes (finished runs are skipped)
    and writes summary tables."""
    import sys

    from ..ablation import SweepSettings, build_grid, evaluate_command, results_of, run_sweep, shell, train_command
    from ..ablation.summary import DIV_CONVENTIONS, write_summary
    from ..errors import DancegenError
    from ..evaluation import get_protocol
    from ..path_checks import check_input_dir, check_output_dir
    from ..pipeline import check_generation_options

    if table is not None:
        given = [n for n, v in (("--aggregators", aggregators), ("--music-encoders", music_encoders),
                                ("--genre-controller", genre_controller)) if v is not None]
        if given:
            raise DancegenError(f"--table runs the paper's rows; it cannot be combined with {', '.join(given)} "
                                "(pick rows with --rows, swap encoders with --substitute)")
    else:
        given = [n for n, v in (("--rows", rows), ("--substitute", substitute)) if v]
        if given:
            raise DancegenError(f"{', '.join(given)}: only with --table III|IV")
    get_protocol(protocol)
    if div not in DIV_CONVENTIONS:
        raise DancegenError(f"--div must be one of {', '.join(DIV_CONVENTIONS)}, got {div!r}")
    check_input_dir(data, "--data directory")
    for name, value in (("--steps", steps), ("--repeats", repeats), ("--eval-steps", eval_steps), ("--jobs", jobs),
                        ("--threads", 1 if threads is None else threads)):
        if value < 1:
            raise DancegenError(f"{name} must be >= 1, got {value}")
    check_generation_options(steps=eval_steps, prefix="--eval-")
    settings = SweepSettings(data=data, out=out, steps=steps, preset=preset, batch_size=batch_size, device=device,
                             allow_random_weights=allow_random_weights, protocol=protocol, repeats=repeats,
                             eval_steps=eval_steps, train_args=list(train_arg or []),
                             eval_args=list(eval_arg or []), threads=threads)
    plan = None
    if table is not None:
        plan = _table_plan(table, rows, substitute or [], seeds, allow_random_weights, list(train_arg or []), dry_run)
        combos = plan["combos"]
    else:
        combos = build_grid(aggregators or "nash,aligned,linear", music_encoders or "wav2clip+stft;stft;mfcc",
                            genre_controller or "text", seeds)
    if dry_run:
        from ..ablation import is_finished

        printed: set[str] = set()
        groups = ([(f"# Table {plan['table'].name} row {r.label!r}" + (f" ({'; '.join(r.substituted)})"
                                                                           if r.substituted else ""),
                    [c for c in combos if c.name in plan["runs"][r.key]]) for r in plan["rows"]]
                  if plan else [(None, combos)])
        for title, group in groups:
            if title:
                typer.echo(title)
            for c in group:
                run_dir = out / c.name
                if c.name in printed:
                    typer.echo(f"# same run as above: {c.name}")
                    continue
                printed.add(c.name)
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
        if results and plan is not None:
            _write_table(plan, states, out, div, json_output)
        elif results:
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


def _table_plan(name: str, rows: str | None, substitutes: list[str], seeds: str, allow_random_weights: bool,
                train_args: list[str], dry_run: bool) -> dict:
    """The selected rows of table ``name`` (substitutes applied), their runs, after the offline-weights check (a
    one-line error unless --dry-run, which only warns: the runs may be dispatched to a machine with the weights)."""
    from ..ablation import check_weights, get_table, parse_substitutes, select_rows, table_runs
    from ..ablation.grid import parse_seeds
    from ..errors import DancegenError

    tab = get_table(name)
    chosen = select_rows(tab, rows, parse_substitutes(substitutes))
    seed_list = parse_seeds(seeds)
    if not any(a.startswith("--encoder-opt") for a in train_args):  # encoder options may point at the weights
        try:
            for note in check_weights(chosen, allow_random_weights):
                typer.echo(f"note: {note}", err=True)
        except DancegenError as exc:
            if not dry_run:
                raise
            typer.echo(f"warning: on this machine: {exc}", err=True)
    combos, runs = table_runs(chosen, seed_list)
    return {"table": tab, "rows": chosen, "combos": combos, "runs": runs}


def _write_table(plan: dict, states: list, out: Path, div: str, json_output: bool) -> None:
    from ..ablation import random_weight_components, table_summary, write_table_summary

    reports = {st.combo.name: st.report for st in states if st.report is not None}
    random = {n: random_weight_components(out / n) for n in reports}
    content = table_summary(plan["table"], plan["rows"], plan["runs"], reports, random, div)
    paths = write_table_summary(out, content)
    if json_output:
        typer.echo(json.dumps(content, indent=2, ensure_ascii=False))
    else:
        typer.echo("\n" + paths[0].read_text())
        typer.echo(f"wrote {paths[0]}, {paths[1].name}, {paths[2].name}", err=True)
