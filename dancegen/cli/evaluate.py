"""``dancegen evaluate``: score a checkpoint (or motions made elsewhere) under a named evaluation protocol."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..atomic import write_json_atomic
from . import app

Opt = typer.Option


@app.command()
def evaluate(
    data: Annotated[Path, Opt(help="FineDance-layout or AIST++ data directory (its test split is evaluated).")],
    checkpoint: Annotated[Path | None, Opt(help="Run or checkpoint folder from `dancegen train`, or "
                                                     "hf://ORG/NAME[@REV] on the Hugging Face Hub.")] = None,
    motions: Annotated[Path | None, Opt(help="Folder of motions made elsewhere: NNN.npz / NNN_sliceK.npz / "
                                             "EDGE-style .pkl / NAME/motion.npz.")] = None,
    protocol: Annotated[str, Opt(help="gcdance (the paper's: 15 random consecutive 4-s slices per song, 10 sets, "
                                      "mean ± std), slices (every 4-s slice, one set), lodge (whole songs <= 1024 "
                                      "frames), songs (every test song whole: seams, drift, floor, skating, BAS) or "
                                      "aist (Bailando's AIST++ protocol).")] = "gcdance",
    sets: Annotated[int, Opt(help="gcdance: number of sampled clip sets (0: the paper's 10).")] = 0,
    clips_per_song: Annotated[int, Opt(help="gcdance: consecutive slices drawn per song (0: the paper's 15).")] = 0,
    repeats: Annotated[int, Opt(help="Generate each set N times with different seeds (mean ± std over all).")] = 1,
    steps: Annotated[int, Opt(help="Sampling steps.")] = 50,
    sampler: Annotated[str, Opt(help="--checkpoint: reverse-step solver, ddim (the paper's), dpmpp_2m "
                                     "(DPM-Solver++(2M), deterministic, for 10-20 steps), dpmpp_2m_sde (its "
                                     "stochastic variant) or unipc (UniPC predictor-corrector, deterministic, "
                                     "for 10-20 steps).")] = "ddim",
    guidance: Annotated[float, Opt(help="Classifier-free guidance weight.")] = 2.7,
    seed: Annotated[int, Opt(help="Base sampling seed.")] = 0,
    batch_size: Annotated[int, Opt(help="4-s clips sampled together, the motions do not depend on it (0: 16 on "
                                        "CUDA, 1 on the CPU).")] = 0,
    longform: Annotated[str | None, Opt(help="--checkpoint, songs and lodge: how the 4-s windows are joined, blend "
                                             "(default), consensus or inpaint (the paper's scheme).")] = None,
    cleanup: Annotated[str | None, Opt(help="--checkpoint, songs and lodge: feet (default: floor placement + foot "
                                            "locking), floor, or none (raw model output).")] = None,
    beats: Annotated[str, Opt(help="Music beats for BAS: auto (saved beats/ when present, else audio), saved, "
                                   "audio.")] = "auto",
    condition: Annotated[str, Opt(help="Genre condition: label (the song's genre name) or text (the prompt "
                                       "'This is a {genre} type of music.').")] = "label",
    cache_dir: Annotated[Path | None, Opt(help="Where the motion genre classifier is cached "
                                               "(default DATA/.dancegen_eval).")] = None,
    skeleton: Annotated[str, Opt(help="--motions only: default, an SMPL-X model folder or a (55, 3) joints "
                                      ".npy.")] = "default",
    device: Annotated[str, Opt(help="auto (cuda when available, else cpu), cpu, cuda, cuda:N.")] = "auto",
    weights: Annotated[str, Opt(help="--checkpoint: denoiser weights, ema (default) or raw.")] = "ema",
    threads: Annotated[int, Opt(help="CPU threads for torch (0: torch's default).")] = 0,
    out: Annotated[Path | None, Opt(help="Write the JSON report here (atomically).")] = None,
    json_output: Annotated[bool, Opt("--json", help="Print the JSON report instead of the table.")] = False,
) -> None:
    """Evaluate generated dances under a protocol; prints a table with the GT row, or JSON."""
    import sys

    from ..checkpoint import check_checkpoint
    from ..errors import DancegenError
    from ..evaluation import evaluate as run_evaluation
    from ..evaluation import get_protocol, print_report
    from ..evaluation.from_checkpoint import WEIGHTS
    from ..evaluation.shared import resolve_device
    from ..path_checks import check_input_dir, check_output_file
    from ..pipeline import check_generation_options

    get_protocol(protocol).with_sets(sets, clips_per_song)
    resolve_device(device)
    if weights not in WEIGHTS:
        raise DancegenError(f"--weights {weights!r}: expected ema or raw")
    check_generation_options(longform, cleanup, prefix="--", steps=steps, guidance=guidance, sampler=sampler)
    for name, count, low in (("--threads", threads, 0), ("--repeats", repeats, 1), ("--batch-size", batch_size, 0)):
        if count < low:
            raise DancegenError(f"{name} must be >= {low}, got {count}")
    if threads:
        import torch

        torch.set_num_threads(threads)
    from ..hub import is_hub_spec, resolve_checkpoint

    hub = checkpoint is not None and is_hub_spec(checkpoint)
    for name, path in (("--data", data), ("--checkpoint", None if hub else checkpoint), ("--motions", motions)):
        if path is not None:
            check_input_dir(path, f"{name} directory")
    if out is not None:
        check_output_file(out)
    if checkpoint is not None:
        checkpoint = resolve_checkpoint(checkpoint)  # hf://ORG/NAME[@REV] → the cached folder
        check_checkpoint(checkpoint)
    def show(stage: str, done: int, total: int) -> None:
        print(f"\r{stage} {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    progress = show if not json_output and sys.stderr.isatty() else None

    from contextlib import nullcontext

    from ..locking import output_lock

    with output_lock(out) if out is not None else nullcontext():  # one evaluation per report file
        report = run_evaluation(data, protocol, checkpoint=checkpoint, motions=motions, repeats=repeats,
                                steps=steps, guidance=guidance, seed=seed, beats=beats, condition=condition,
                                cache_dir=cache_dir, device=device, skeleton=skeleton, progress=progress,
                                batch_size=batch_size, longform=longform, cleanup=cleanup, sampler=sampler,
                                weights=weights, sets=sets or None, clips_per_song=clips_per_song or None)
        if out is not None:
            write_json_atomic(out, report)
    if json_output:
        typer.echo(json.dumps(report, indent=2))
    else:
        print_report(report)
