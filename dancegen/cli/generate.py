"""``dancegen generate`` (music + text or genre → dance files) and ``dancegen edit`` (keep parts of a reference
motion, generate the rest). Both print a summary table, or JSON with ``--json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer

from . import app

Opt = typer.Option
Arg = typer.Argument

_CHECKPOINT = Opt("--checkpoint", help="Run folder (with a 'latest' pointer) or checkpoint folder of a trained "
                  "model (default: the bundled demo model).")
_TEXT = Opt("--text", help="Describe the dance or music; the genre controller picks the genre.")
_GENRE = Opt("--genre", help="A genre label (Jazz, Dai, Breaking, …): bypasses the text classifier.")
_OUT = Opt("--out", help="Output folder (default: ./<song name>-dance).")
_FORMAT = Opt("--format", help="Comma-separated exports among npz, bvh, html, mp4, pkl.")
_LONGFORM = Opt("--longform", help="How 4-s windows become one dance: blend (soft continuation, smooth seams), "
                "consensus (windows averaged while denoising) or inpaint (the paper's scheme).")
_CLEANUP = Opt("--cleanup", help="feet: on the floor, planted feet locked (leg IK), no foot below the floor; "
               "floor: only placed on the floor (no height drift); none: the model's raw output.")


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
    """What :func:`_check_inputs` found valid: the export formats, the device and the song's samples."""

    formats: list[str]
    device: str
    audio: Any
    sr: int


def _check_inputs(song: Path, text: str | None, genre: str | None, checkpoint: Path | None, out: Path | None,
                  steps: int, guidance: float, eta: float, variations: int, formats: str, device: str,
                  window_batch: int, pad: str, longform: str, cleanup: str) -> _Inputs:
    """Every check that needs no model, before the output lock and any heavy work (docs/dancegen/generation.md,
    "Errors and validation"): options, formats and their tools, the output folder (writable), the song (decodes;
    a file cut short warns), the checkpoint (readable, weights matching its config) and the device."""
    from ..errors import DancegenError
    from ..export import check_formats
    from ..features.audio import load_audio
    from ..path_checks import check_output_dir
    from ..pipeline import check_checkpoint, check_generation_options

    if text is None and genre is None:
        raise DancegenError("give --text \"a description of the dance\" or --genre NAME (e.g. --genre Jazz)")
    check_generation_options(longform, cleanup, prefix="--", steps=steps, guidance=guidance, eta=eta,
                             variations=variations, window_batch=window_batch, pad=pad, genre=genre, text=text)
    format_list = check_formats(formats)
    check_output_dir(_target(song, out))
    audio, sr = load_audio(song)
    check_checkpoint(checkpoint)
    return _Inputs(format_list, _device(device), audio, sr)


def _run(song: Path, inputs: _Inputs, text: str | None, genre: str | None, checkpoint: Path | None,
         out: Path | None, seed: int, steps: int, guidance: float, eta: float, variations: int, window_batch: int,
         pad: str, as_json: bool, no_progress: bool, constraints: list[Any] | None = None,
         reference: Any = None, longform: str = "blend", cleanup: str = "feet") -> None:
    import time

    from rich.console import Console

    from ..atomic import write_json_atomic
    from ..export import export
    from ..output_folder import SUMMARY_FILE, staged_output
    from ..pipeline import DancePipeline

    audio, sr, format_list = inputs.audio, inputs.sr, inputs.formats
    err = Console(stderr=True)
    quiet = as_json or no_progress

    def stage(label: str) -> None:  # labelled progress lines, for a person at a terminal
        if not quiet and err.is_terminal:
            err.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {label} …")

    t0 = time.perf_counter()
    stage("loading the model")
    pipe = DancePipeline.from_checkpoint(checkpoint, device=inputs.device)
    if checkpoint is None:
        from ..demo import BUNDLED_NOTICE

        typer.echo(BUNDLED_NOTICE, err=True)
    load_seconds = time.perf_counter() - t0
    kwargs = {"text": text, "genre": genre, "steps": steps, "guidance": guidance, "eta": eta, "seed": seed,
              "variations": variations, "constraints": constraints or (), "reference": reference,
              "window_batch": window_batch, "pad": pad, "song_key": song.stem, "longform": longform,
              "cleanup": cleanup, "stage": stage}
    if no_progress:
        result = pipe(audio, sr, **kwargs)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("[bold]sampling[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("window-steps"), TimeRemainingColumn(), console=err, transient=True) as bar:
            task = bar.add_task(song.name, total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = pipe(audio, sr, progress=progress, **kwargs)
    result.stats["load_seconds"] = round(load_seconds, 4)
    target = _target(song, out)
    files: dict[str, dict[str, str]] = {}
    with staged_output(target) as stage:  # built beside --out, then replaces it whole
        for v in range(result.variations):
            folder = stage if result.variations == 1 else stage / f"variation_{v}"
            paths = export(result.motion[v].numpy(), audio, sr, folder, format_list, skeleton=pipe.skeleton,
                           genre=result.genre.genre, text=text or "", checkpoint_id=pipe.checkpoint_id or "")
            files[str(v)] = {k: str(target / p.relative_to(stage)) for k, p in paths.items()}
        summary = {**result.to_dict(), "song": str(song), "out": str(target), "files": files}
        summary["genre"]["note"] = _genre_note(summary["genre"])
        summary_path = target / SUMMARY_FILE
        write_json_atomic(stage / SUMMARY_FILE, summary, indent=1)
    summary["files"]["summary"] = {"json": str(summary_path)}
    if as_json:
        typer.echo(json.dumps({k: v for k, v in summary.items() if k != "windows"}, indent=1))
        return
    _print_table(summary)


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
    table.add_row("sampling", f"{s['steps']} DDIM steps, guidance {s['guidance']}, η {s['eta']}, seed {s['seed']}, "
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
    song: Annotated[Path, Arg(help="Audio file (wav, flac, ogg, mp3) of any length.")],
    text: Annotated[str | None, _TEXT] = None,
    genre: Annotated[str | None, _GENRE] = None,
    checkpoint: Annotated[Path | None, _CHECKPOINT] = None,
    out: Annotated[Path | None, _OUT] = None,
    seed: Annotated[int, Opt(help="Random seed (same seed, same dance).")] = 0,
    steps: Annotated[int, Opt(help="DDIM steps.")] = 50,
    guidance: Annotated[float, Opt(help="Classifier-free guidance weight on the music (1 = none).")] = 2.7,
    eta: Annotated[float, Opt(help="DDIM η: 1 = ancestral (paper), 0 = deterministic.")] = 1.0,
    variations: Annotated[int, Opt(help="Number of different dances to generate.")] = 1,
    formats: Annotated[str, _FORMAT] = "npz,bvh,html",
    device: Annotated[str, Opt(help="auto, cpu, cuda, cuda:N.")] = "auto",
    window_batch: Annotated[int, Opt(help="4-s windows sampled at once (memory vs speed).")] = 16,
    pad: Annotated[str, Opt(help="Songs under 4 s: repeat (tile the song) or zero (silence).")] = "repeat",
    longform: Annotated[str, _LONGFORM] = "blend",
    cleanup: Annotated[str, _CLEANUP] = "feet",
    as_json: Annotated[bool, Opt("--json", help="Print the summary as JSON.")] = False,
    no_progress: Annotated[bool, Opt("--no-progress", help="No progress bar.")] = False,
) -> None:
    """Generate a dance for SONG in the genre of --text or --genre and write it in the chosen formats."""
    from ..output_folder import claim_output_folder

    inputs = _check_inputs(song, text, genre, checkpoint, out, steps, guidance, eta, variations, formats, device,
                           window_batch, pad, longform, cleanup)
    with claim_output_folder(_target(song, out)):  # one run per folder, refused when it holds foreign files
        _run(song, inputs, text, genre, checkpoint, out, seed, steps, guidance, eta, variations, window_batch, pad,
             as_json, no_progress, longform=longform, cleanup=cleanup)


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
    checkpoint: Annotated[Path | None, _CHECKPOINT] = None,
    out: Annotated[Path | None, _OUT] = None,
    seed: Annotated[int, Opt(help="Random seed.")] = 0,
    steps: Annotated[int, Opt(help="DDIM steps.")] = 50,
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
) -> None:
    """Keep parts of a REFERENCE motion (joint groups, frame ranges, keyframes) and generate the rest for SONG."""
    from ..constraints import Constraint, parse_frames_list, parse_keep
    from ..errors import DancegenError

    constraints = [parse_keep(k) for k in keep or []]
    if keyframes is not None:
        constraints.append(Constraint.keyframes(parse_frames_list(keyframes)))
    if not constraints:
        raise DancegenError("say what to keep: --keep body|upper|lower|hands|frames=START:END or --keyframes 0,60,119")
    ref = _load_reference(reference)
    from ..output_folder import claim_output_folder

    inputs = _check_inputs(song, text, genre, checkpoint, out, steps, guidance, eta, variations, formats, device,
                           window_batch, "repeat", longform, cleanup)
    with claim_output_folder(_target(song, out)):
        _run(song, inputs, text, genre, checkpoint, out, seed, steps, guidance, eta, variations, window_batch,
             "repeat", as_json, no_progress, constraints=constraints, reference=ref, longform=longform,
             cleanup=cleanup)
