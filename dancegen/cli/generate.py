"""``dancegen generate`` (music + text or genre → dance files) and ``dancegen edit`` (keep parts of a reference
motion, generate the rest). Both print a summary table, or JSON with ``--json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer

from ..export import formats_help
from . import app
from .song_inputs import expand_songs, is_batch, song_folders

Opt = typer.Option
Arg = typer.Argument

_CHECKPOINT = Opt("--checkpoint", help="Run folder (with a 'latest' pointer) or checkpoint folder of a trained "
                  "model, or hf://ORG/NAME (hf://ORG/NAME@REVISION) on the Hugging Face Hub (default: the bundled "
                  "demo model).")
_TEXT = Opt("--text", help="Describe the dance or music; the genre controller picks the genre.")
_GENRE = Opt("--genre", help="A genre label of the checkpoint's genre set (FineDance: Jazz, Dai, Breaking, …; "
             "AIST++: Krump, House, …): bypasses the text classifier.")
_OUT = Opt("--out", help="Output folder (default: ./<song name>-dance); several songs: one sub-folder per song.")
_FORMAT = Opt("--format", help=f"Comma-separated export formats: {formats_help()}.")
_LONGFORM = Opt("--longform", help="How 4-s windows become one dance: blend (soft continuation, smooth seams), "
                "consensus (windows averaged while denoising) or inpaint (the paper's scheme).")
_CLEANUP = Opt("--cleanup", help="feet: on the floor, planted feet locked (leg IK), no foot below the floor; "
               "floor: only placed on the floor (no height drift); none: the model's raw output.")
_SAMPLER = Opt("--sampler", help="Reverse-step solver: ddim (the paper's, with --eta), dpmpp_2m (DPM-Solver++(2M), "
               "deterministic, --eta ignored; for 10-20 steps), dpmpp_2m_sde (its stochastic variant) or unipc "
               "(UniPC predictor-corrector, deterministic, --eta ignored; for 10-20 steps).")
_WEIGHTS = Opt("--weights", help="ema (the EMA copy, the default) or raw (the trained weights as they were at the "
              "checkpoint's step).")
_SAMPLER_NAMES = {"ddim": "DDIM", "dpmpp_2m": "DPM-Solver++(2M)", "dpmpp_2m_sde": "SDE-DPM-Solver++(2M)",
                  "unipc": "UniPC"}


def _device(name: str) -> str:
    import torch

    from ..errors import DancegenError

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DancegenError(f"--device {name}: CUDA is not available here; use --device cpu")
    if not (name == "cpu" or name.startswith("cuda") or name == "mps"):
        raise DancegenError(f"--device {name!r}: expected auto, cpu, cuda, cuda:N or mps")
    return name


def _load_reference(path: Path) -> Any:
    """Our ``motion.npz`` (its motion_319, or AMASS poses) or a FineDance/our ``.npy`` (T, 315) / (T, 319)."""
    import numpy as np

    from ..errors import DancegenError
    from ..path_checks import check_input_file
    from ..pipeline import check_reference

    path = check_input_file(path, "reference motion")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        from ..export import load_npz

        return check_reference(load_npz(path)[0])
    if suffix == ".npy":
        try:
            motion = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise DancegenError(f"cannot read {path} as a .npy array: {exc}".splitlines()[0]) from None
        return check_reference(motion)
    raise DancegenError(f"reference {path}: expected a motion.npz written by dancegen or a (T, 315)/(T, 319) .npy")


def _target(song: Path, out: Path | None) -> Path:
    """The output folder: --out, else ./<song name>-dance."""
    return out if out is not None else Path(f"{song.stem}-dance")


class _Inputs(NamedTuple):
    """What :func:`_check_inputs` found valid: the export formats, the device, the song's samples and the local
    checkpoint folder (an ``hf://`` spec resolved; None: the bundled model)."""

    formats: list[str]
    device: str
    audio: Any
    sr: int
    checkpoint: Path | None = None


class _Job(NamedTuple):
    """The generation settings shared by every song of a run."""

    text: str | None
    genre: str | None
    seed: int
    steps: int
    guidance: float
    eta: float
    variations: int
    window_batch: int
    pad: str
    longform: str
    cleanup: str
    formats: list[str]
    constraints: list[Any] | None = None
    reference: Any = None
    sampler: str = "ddim"
    weights: str = "ema"
    precision: str = "fp32"
    compile: bool = False


def _check_options(text: str | None, genre: str | None, steps: int, guidance: float, eta: float, variations: int,
                   formats: str, window_batch: int, pad: str, longform: str, cleanup: str, sampler: str = "ddim"
                   ) -> list[str]:
    """The option checks (before anything is read): the export formats as a list."""
    from ..errors import DancegenError
    from ..export import check_formats
    from ..pipeline import check_generation_options

    if text is None and genre is None:
        raise DancegenError("give --text \"a description of the dance\" or --genre NAME (e.g. --genre Jazz)")
    check_generation_options(longform, cleanup, prefix="--", steps=steps, guidance=guidance, eta=eta,
                             variations=variations, window_batch=window_batch, pad=pad, text=text,
                             sampler=sampler)  # --genre: checked against the checkpoint's genres (_check_checkpoint)
    return check_formats(formats)


def _check_checkpoint(checkpoint: str | Path | None, genre: str | None = None) -> Path | None:
    """``--checkpoint`` as a local folder (``hf://ORG/NAME[@REV]`` fetched, see :mod:`dancegen.hub`), checked
    without loading it, and ``--genre`` checked against its genre set; None stays None (the bundled model)."""
    from ..checkpoint import check_checkpoint
    from ..checkpoint.components import checkpoint_genre_set
    from ..hub import resolve_checkpoint

    path = None if checkpoint is None else resolve_checkpoint(checkpoint)
    check_checkpoint(path)
    if genre is not None:
        checkpoint_genre_set(path).index(genre)  # one line listing the checkpoint's genres
    return path


def _check_inputs(song: Path, text: str | None, genre: str | None, checkpoint: str | Path | None, out: Path | None,
                  steps: int, guidance: float, eta: float, variations: int, formats: str, device: str,
                  window_batch: int, pad: str, longform: str, cleanup: str, sampler: str = "ddim") -> _Inputs:
    """Every check that needs no model, before the output lock and any heavy work (docs/dancegen/generation.md,
    "Errors and validation"): options, formats and their tools, the output folder (writable), the song (decodes;
    a file cut short warns), the checkpoint (readable, weights matching its config) and the device."""
    from ..features.audio import load_audio
    from ..path_checks import check_output_dir

    format_list = _check_options(text, genre, steps, guidance, eta, variations, formats, window_batch, pad, longform,
                                 cleanup, sampler)
    check_output_dir(_target(song, out))
    audio, sr = load_audio(song)
    path = _check_checkpoint(checkpoint, genre)
    return _Inputs(format_list, _device(device), audio, sr, path)


def _stage_printer(quiet: bool) -> Callable[[str], None]:
    """Labelled progress lines (``12:00:01 loading the model …``), for a person at a terminal."""
    import time

    from rich.console import Console

    err = Console(stderr=True)

    def stage(label: str) -> None:
        if not quiet and err.is_terminal:
            err.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {label} …")

    return stage


def _check_model_options(weights: str, precision: str = "fp32", device: str = "auto") -> str:
    """``--weights``: ema or raw; ``--precision``: fp32, or bf16/fp16 with a CUDA device (one error line each)."""
    from ..errors import DancegenError
    from ..precision import PRECISIONS

    if weights not in ("ema", "raw"):
        raise DancegenError(f"--weights must be ema or raw, got {weights!r}")
    if precision not in PRECISIONS:
        raise DancegenError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "fp32" and not _device(device).startswith("cuda"):
        raise DancegenError(f"--precision {precision} needs a CUDA device (autocast on the GPU); use fp32 on the CPU")
    return weights


def _load_pipeline(checkpoint: Path | None, device: str, stage: Callable[[str], None], weights: str = "ema",
                   precision: str = "fp32", compile: bool = False) -> tuple[Any, float]:
    """The pipeline (loaded once per run; ``weights``: the checkpoint's EMA or raw weights; ``precision`` and
    ``compile``: :meth:`~dancegen.pipeline.DancePipeline.set_precision`) and the seconds its loading took."""
    import time

    from ..pipeline import DancePipeline

    t0 = time.perf_counter()
    stage("loading the model")
    pipe = DancePipeline.from_checkpoint(checkpoint, device=device, ema=weights == "ema")
    pipe.set_precision(precision, compile)
    if checkpoint is None:
        from ..demo import BUNDLED_NOTICE

        typer.echo(BUNDLED_NOTICE, err=True)
    return pipe, time.perf_counter() - t0


def _dance(pipe: Any, load_seconds: float, song: Path, audio: Any, sr: int, target: Path, job: _Job,
           stage: Callable[[str], None], no_progress: bool, label: str | None = None) -> dict[str, Any]:
    """Generate ``song``'s dance(s) with the loaded ``pipe`` and write them to ``target`` (built beside it, then
    renamed into place); returns the summary (also written as ``generation.json``). ``label``: the progress
    bar's text in a batch (``song 2/5 foo.wav``)."""
    from ..atomic import write_json_atomic
    from ..export import export
    from ..output_folder import SUMMARY_FILE, staged_output

    kwargs = {"text": job.text, "genre": job.genre, "steps": job.steps, "guidance": job.guidance, "eta": job.eta,
              "seed": job.seed, "variations": job.variations, "constraints": job.constraints or (),
              "reference": job.reference, "window_batch": job.window_batch, "pad": job.pad, "song_key": song.stem,
              "longform": job.longform, "cleanup": job.cleanup, "stage": stage, "sampler": job.sampler}
    from rich.console import Console

    err = Console(stderr=True)
    if no_progress or (label is not None and not err.is_terminal):  # a batch's log has its "song i/n" lines
        result = pipe(audio, sr, **kwargs)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        if label is None:
            columns = (TextColumn("[bold]sampling[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("window-steps"), TimeRemainingColumn())
        else:
            columns = (TextColumn("[bold]{task.description}[/]: window-steps"), MofNCompleteColumn(), BarColumn(),
                       TimeRemainingColumn())
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task(label or song.name, total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = pipe(audio, sr, progress=progress, **kwargs)
    result.stats["load_seconds"] = round(load_seconds, 4)
    files: dict[str, dict[str, str]] = {}
    with staged_output(target) as folder_stage:  # built beside the target, then replaces it whole
        for v in range(result.variations):
            folder = folder_stage if result.variations == 1 else folder_stage / f"variation_{v}"
            paths = export(result.motion[v].numpy(), audio, sr, folder, job.formats, skeleton=pipe.skeleton,
                           genre=result.genre.genre, text=job.text or "", checkpoint_id=pipe.checkpoint_id or "")
            files[str(v)] = {k: str(target / p.relative_to(folder_stage)) for k, p in paths.items()}
        summary = {**result.to_dict(), "song": str(song), "out": str(target), "files": files}
        summary["genre"]["note"] = _genre_note(summary["genre"])
        summary_path = target / SUMMARY_FILE
        write_json_atomic(folder_stage / SUMMARY_FILE, summary, indent=1)
    summary["files"]["summary"] = {"json": str(summary_path)}
    return summary


def _public(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary as ``--json`` prints it (without the per-window details)."""
    return {k: v for k, v in summary.items() if k != "windows"}


def _run(song: Path, inputs: _Inputs, job: _Job, out: Path | None, as_json: bool, no_progress: bool) -> None:
    """One song: load the model, generate, write ``out`` (or ./<song>-dance) and print the summary."""
    stage = _stage_printer(as_json or no_progress)
    pipe, load_seconds = _load_pipeline(inputs.checkpoint, inputs.device, stage, job.weights, job.precision,
                                        job.compile)
    summary = _dance(pipe, load_seconds, song, inputs.audio, inputs.sr, _target(song, out), job, stage, no_progress)
    if as_json:
        typer.echo(json.dumps(_public(summary), indent=1))
        return
    _print_table(summary)


# ---------------------------------------------------------------------------------------------- several songs
#: Exit status of a batch: some input was bad (missing, unsupported, undecodable, output refused) / some song
#: failed while generating or writing. Bad inputs take precedence.
BAD_INPUT_EXIT, FAILED_EXIT = 2, 1


class _Outcome(NamedTuple):
    song: str
    status: str  # ok, bad input, failed
    summary: dict[str, Any] | None = None
    error: str | None = None


def _say_error(song: str, message: str) -> None:
    typer.echo(f"error: {song}: {' '.join(message.split())}", err=True)


def _run_batch(args: list[Path], job: _Job, checkpoint: str | None, out: Path | None, device: str, as_json: bool,
               no_progress: bool) -> int:
    """Several songs with one model: every input checked first (bad ones reported, the rest go on), every song
    folder locked, the model loaded once, each song generated and written on its own (a failure is reported and
    the next song goes on). Returns the exit status (0, :data:`FAILED_EXIT` or :data:`BAD_INPUT_EXIT`)."""
    from contextlib import ExitStack

    from ..errors import DancegenError
    from ..features.audio import load_audio
    from ..output_folder import claim_output_folder
    from ..path_checks import check_output_dir

    if out is not None:
        check_output_dir(out)
    songs, bad = expand_songs(args)
    outcomes: list[_Outcome] = []
    for shown, problem in bad:
        _say_error(shown, problem)
        outcomes.append(_Outcome(shown, "bad input", error=problem))
    if not songs:
        return _finish_batch(outcomes, as_json, ran=False)
    path = _check_checkpoint(checkpoint, job.genre)
    device_name = _device(device)
    with ExitStack() as locks:
        usable: list[tuple[Path, Path]] = []
        for song, target in zip(songs, song_folders(songs, out)):
            try:
                check_output_dir(target)
                locks.enter_context(claim_output_folder(target, what="song folder"))
            except DancegenError as exc:
                _say_error(str(song), str(exc))
                outcomes.append(_Outcome(str(song), "bad input", error=str(exc)))
                continue
            usable.append((song, target))
        if not usable:
            return _finish_batch(outcomes, as_json, ran=False)
        stage = _stage_printer(as_json or no_progress)
        typer.echo(f"loading the model (once for {len(usable)} song{'s' if len(usable) != 1 else ''})", err=True)
        pipe, load_seconds = _load_pipeline(path, device_name, lambda label: None, job.weights,  # said above
                                            job.precision, job.compile)
        for i, (song, target) in enumerate(usable, 1):
            label = f"song {i}/{len(usable)} {song.name}"
            typer.echo(f"{label} → {target}", err=True)
            try:
                audio, sr = load_audio(song)
            except DancegenError as exc:
                _say_error(str(song), str(exc))
                outcomes.append(_Outcome(str(song), "bad input", error=str(exc)))
                continue
            try:
                summary = _dance(pipe, load_seconds, song, audio, sr, target, job, stage, no_progress, label=label)
            except Exception as exc:  # reported, and the next song goes on
                message = str(exc) if isinstance(exc, DancegenError) else f"{type(exc).__name__}: {exc}"
                message = f"generation failed: {message}"
                _say_error(str(song), message)
                outcomes.append(_Outcome(str(song), "failed", error=message))
                continue
            outcomes.append(_Outcome(str(song), "ok", summary=summary))
    return _finish_batch(outcomes, as_json)


def _finish_batch(outcomes: list[_Outcome], as_json: bool, ran: bool = True) -> int:
    """Print the results (a table, or a JSON list: each song's summary, or its error) and, when songs were
    generated (``ran``; else each bad input's ``error:`` line is all), the ``n ok / n failed`` line; return the
    exit status."""
    ok = sum(o.status == "ok" for o in outcomes)
    if as_json:
        typer.echo(json.dumps([{**_public(o.summary), "status": "ok"} if o.summary is not None else
                               {"song": o.song, "status": o.status, "error": o.error} for o in outcomes], indent=1))
    elif ok:
        _print_batch_table(outcomes)
    if ran:
        typer.echo(f"{ok} ok / {len(outcomes) - ok} failed", err=True)
    if any(o.status == "bad input" for o in outcomes):
        return BAD_INPUT_EXIT
    return FAILED_EXIT if ok < len(outcomes) else 0


def _print_batch_table(outcomes: list[_Outcome]) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    table = Table(title="dancegen")
    for column in ("song", "result", "genre", "duration", "output"):
        table.add_column(column)
    for o in outcomes:
        if o.summary is None:
            table.add_row(o.song, o.status, "", "", o.error or "")
            continue
        s = o.summary
        table.add_row(s["song"], "ok", s["genre"]["genre"], f"{s['duration']:.2f} s", s["out"])
    Console(width=None if sys.stdout.isatty() else 400).print(table)  # a log keeps whole paths


def _print_table(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    g = summary["genre"]
    genre = f"{g['genre']} ({g['source']})"
    if g.get("note"):
        genre += f" — {g['note']}"
    s, st = summary["settings"], summary["stats"]
    table = Table(title="dancegen", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("song", summary["song"])
    table.add_row("genre", genre)
    table.add_row("duration", f"{summary['duration']:.2f} s")
    table.add_row("frames", f"{summary['frames']} at {summary['fps']} FPS × {summary['variations']} variation(s)")
    solver = _SAMPLER_NAMES.get(s.get("sampler", "ddim"), "DDIM")
    table.add_row("sampling", f"{s['steps']} {solver} steps, guidance {s['guidance']}, η {s['eta']}, seed {s['seed']}, "
                  f"{st['windows']} windows in {st['chunks']} chunk(s)")
    if s["constraints"]:
        table.add_row("kept", "; ".join(s["constraints"]))
    for v, q in enumerate(summary.get("quality") or []):
        label = "quality" if summary["variations"] == 1 else f"quality {v}"
        table.add_row(label, _quality_line(q))
    table.add_row("time", f"{st['seconds']:.2f} s on {st['device']} (features {st.get('features_seconds', 0):.1f} s, "
                  f"sampling {st['sampling_seconds']:.1f} s, clean-up {st.get('cleanup_seconds', 0):.1f} s)")
    table.add_row("clean-up", {"feet": "on the floor, planted feet locked", "floor": "on the floor, feet as sampled",
                               "none": "none (raw model output)"}[s.get("cleanup", "feet")])
    for v, paths in summary["files"].items():
        label = "summary" if v == "summary" else ("files" if summary["variations"] == 1 else f"variation {v}")
        for fmt, path in paths.items():
            table.add_row(label, f"{path}  [{fmt}]")
            label = ""
    Console().print(table)


def _genre_note(g: dict[str, Any]) -> str | None:
    """What the user should know about the genre choice: a prompt that names none of the genres, or a close call."""
    top3 = ", ".join(f"{t['genre']} {t['probability']:.2f}" for t in g["top3"])
    if g["source"] == "classifier":
        return f"the prompt names none of the {len(g['probabilities'])} genres; closest: {top3}"
    if g["ambiguous"]:
        return f"ambiguous, top 3: {top3}"
    return None


def _quality_line(q: dict[str, Any]) -> str:
    """The whole-song figures (docs/dancegen/metrics.md, 'Whole songs') on one line."""
    seam = "–" if q.get("seam_ratio") is None else f"{q['seam_ratio']:.2f}"
    line = (f"seam ratio {seam}, height drift {q['height_drift_m'] * 100:+.1f} cm, floor deviation "
            f"{q['floor_deviation_m'] * 100:.1f} cm, penetration {q['penetration_max_m'] * 100:.1f} cm")
    if "contact_skating_mps" in q:
        line += f", planted-foot skating {q['contact_skating_mps']:.3f} m/s"
    if "near_floor_sliding_mps" in q:
        line += f", near-floor sliding {q['near_floor_sliding_mps']:.3f} m/s"
    return line + f", joint speed {q['joint_speed_mps']:.2f} m/s"


@app.command()
def generate(
    songs: Annotated[list[Path], Arg(help="Audio file (wav, flac, ogg, mp3) of any length. Several files, a folder "
                                     "(its songs, sorted) or a quoted glob pattern ('music/*.mp3'): the model is "
                                     "loaded once, each song gets OUT/<song name>, a bad song is reported and the "
                                     "others go on.", show_default=False)],
    text: Annotated[str | None, _TEXT] = None,
    genre: Annotated[str | None, _GENRE] = None,
    checkpoint: Annotated[str | None, _CHECKPOINT] = None,
    out: Annotated[Path | None, _OUT] = None,
    seed: Annotated[int, Opt(help="Random seed (same seed, same dance).")] = 0,
    steps: Annotated[int, Opt(help="Reverse steps (DDIM: the paper's 50; dpmpp_2m, unipc: 10-20).")] = 50,
    sampler: Annotated[str, _SAMPLER] = "ddim",
    guidance: Annotated[float, Opt(help="Classifier-free guidance weight on the music (1 = none).")] = 2.7,
    eta: Annotated[float, Opt(help="DDIM η: 1 = ancestral (paper), 0 = deterministic.")] = 1.0,
    variations: Annotated[int, Opt(help="Number of different dances to generate.")] = 1,
    formats: Annotated[str, _FORMAT] = "npz,bvh,html",
    device: Annotated[str, Opt(help="auto, cpu, cuda, cuda:N.")] = "auto",
    window_batch: Annotated[int, Opt(help="4-s windows sampled at once (memory vs speed).")] = 16,
    pad: Annotated[str, Opt(help="Songs under 4 s: repeat (tile the song) or zero (silence).")] = "repeat",
    longform: Annotated[str, _LONGFORM] = "blend",
    cleanup: Annotated[str, _CLEANUP] = "feet",
    as_json: Annotated[bool, Opt("--json", help="Print the summary as JSON (several songs: a list, one entry per "
                                 "song).")] = False,
    no_progress: Annotated[bool, Opt("--no-progress", help="No progress bar.")] = False,
    weights: Annotated[str, _WEIGHTS] = "ema",
    precision: Annotated[str, Opt(help="Denoiser arithmetic: fp32, or bf16/fp16 autocast (CUDA only).")] = "fp32",
    compile_model: Annotated[bool, Opt("--compile", help="torch.compile the denoiser (the first windows pay the "
                                       "compilation; worth it for long songs or many songs).")] = False,
) -> None:
    """Generate a dance for each SONG in the genre of --text or --genre and write it in the chosen formats."""
    from ..output_folder import claim_output_folder

    _check_model_options(weights, precision, device)
    if is_batch(songs):
        format_list = _check_options(text, genre, steps, guidance, eta, variations, formats, window_batch, pad,
                                     longform, cleanup, sampler)
        job = _Job(text, genre, seed, steps, guidance, eta, variations, window_batch, pad, longform, cleanup,
                   format_list, sampler=sampler, weights=weights, precision=precision, compile=compile_model)
        code = _run_batch(songs, job, checkpoint, out, device, as_json, no_progress)
        if code:
            raise typer.Exit(code)
        return
    song = songs[0]
    inputs = _check_inputs(song, text, genre, checkpoint, out, steps, guidance, eta, variations, formats, device,
                           window_batch, pad, longform, cleanup, sampler)
    job = _Job(text, genre, seed, steps, guidance, eta, variations, window_batch, pad, longform, cleanup,
               inputs.formats, sampler=sampler, weights=weights, precision=precision, compile=compile_model)
    with claim_output_folder(_target(song, out)):  # one run per folder, refused when it holds foreign files
        _run(song, inputs, job, out, as_json, no_progress)


@app.command()
def edit(
    reference: Annotated[Path, Arg(help="Reference motion: dancegen motion.npz or a (T, 315)/(T, 319) .npy.")],
    song: Annotated[Path, Arg(help="Audio file the new dance is generated for.")],
    keep: Annotated[list[str] | None, Opt("--keep", help="What to keep from the reference (repeatable): body, "
                                          "upper, lower, hands, joint names, frames=START:END, or a mix such as "
                                          "upper,frames=0:60.")] = None,
    keyframes: Annotated[str | None, Opt("--keyframes", help="In-betweening: keep full poses at these frames, "
                                         "e.g. 0,60,119.")] = None,
    text: Annotated[str | None, _TEXT] = None,
    genre: Annotated[str | None, _GENRE] = None,
    checkpoint: Annotated[str | None, _CHECKPOINT] = None,
    out: Annotated[Path | None, _OUT] = None,
    seed: Annotated[int, Opt(help="Random seed.")] = 0,
    steps: Annotated[int, Opt(help="Reverse steps (DDIM: the paper's 50; dpmpp_2m, unipc: 10-20).")] = 50,
    sampler: Annotated[str, _SAMPLER] = "ddim",
    guidance: Annotated[float, Opt(help="Classifier-free guidance weight.")] = 2.7,
    eta: Annotated[float, Opt(help="DDIM η.")] = 1.0,
    variations: Annotated[int, Opt(help="Number of different edits.")] = 1,
    formats: Annotated[str, _FORMAT] = "npz,bvh,html",
    device: Annotated[str, Opt(help="auto, cpu, cuda, cuda:N.")] = "auto",
    window_batch: Annotated[int, Opt(help="4-s windows sampled at once.")] = 16,
    longform: Annotated[str, _LONGFORM] = "blend",
    cleanup: Annotated[str, _CLEANUP] = "feet",
    as_json: Annotated[bool, Opt("--json", help="Print the summary as JSON.")] = False,
    no_progress: Annotated[bool, Opt("--no-progress", help="No progress bar.")] = False,
    weights: Annotated[str, _WEIGHTS] = "ema",
) -> None:
    """Keep parts of a REFERENCE motion (joint groups, frame ranges, keyframes) and generate the rest for SONG."""
    from ..constraints import Constraint, parse_frames_list, parse_keep
    from ..errors import DancegenError

    _check_model_options(weights)
    constraints = [parse_keep(k) for k in keep or []]
    if keyframes is not None:
        constraints.append(Constraint.keyframes(parse_frames_list(keyframes)))
    if not constraints:
        raise DancegenError("say what to keep: --keep body|upper|lower|hands|frames=START:END or --keyframes 0,60,119")
    ref = _load_reference(reference)
    from ..output_folder import claim_output_folder

    inputs = _check_inputs(song, text, genre, checkpoint, out, steps, guidance, eta, variations, formats, device,
                           window_batch, "repeat", longform, cleanup, sampler)
    job = _Job(text, genre, seed, steps, guidance, eta, variations, window_batch, "repeat", longform, cleanup,
               inputs.formats, constraints=constraints, reference=ref, sampler=sampler, weights=weights)
    with claim_output_folder(_target(song, out)):
        _run(song, inputs, job, out, as_json, no_progress)
