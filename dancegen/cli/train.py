"""``dancegen train``: train GCDance with a multi-task aggregator (also under ``torchrun -m dancegen train``).

Settings are merged in this order: defaults → the resumed checkpoint's settings (``--resume``) → the TOML file
(``--config``) → flags given on the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from . import app

Opt = typer.Option


def _opts(values: list[str] | None, what: str) -> dict[str, Any] | None:
    from ..train.config import parse_options

    return parse_options(values, what) if values else None


@app.command()
def train(
    data: Annotated[Path | None, Opt(help="FineDance-layout data directory (or the procedural set).")] = None,
    out: Annotated[Path | None, Opt(help="Run directory (checkpoints, metrics.jsonl).")] = None,
    config: Annotated[Path | None, Opt("--config", help="TOML file of training settings.")] = None,
    resume: Annotated[bool, Opt("--resume", help="Continue the run in --out from its latest checkpoint.")] = False,
    aggregator: Annotated[str | None, Opt(help="mtlkit aggregator: nash, linear (EDGE weights), aligned, "
                                               "pcgrad or any plugin's.")] = None,
    aggregator_opt: Annotated[list[str] | None, Opt("--aggregator-opt", help="Aggregator option key=value "
                                                    "(repeatable).")] = None,
    backend: Annotated[str | None, Opt(help="mtlkit backend: auto, jacobian, gramian, representation.")] = None,
    shared: Annotated[str | None, Opt(help="What is aggregated: all, trunk, representation.")] = None,
    tasks: Annotated[str | None, Opt(help="Comma-separated tasks among S,J,V,F,C.")] = None,
    music_encoders: Annotated[str | None, Opt(help="Music encoder spec, e.g. wav2clip,stft.")] = None,
    encoder_opt: Annotated[list[str] | None, Opt("--encoder-opt", help="Encoder option key=value.")] = None,
    allow_random_weights: Annotated[bool, Opt("--allow-random-weights", help="Let neural encoders run with "
                                              "random weights when none are available (tests only).")] = False,
    genre_controller: Annotated[str | None, Opt(help="Genre controller: text, label or none (no genre control); "
                                                           "without text, tasks default to S,J,V,F.")] = None,
    controller_opt: Annotated[list[str] | None, Opt("--controller-opt", help="Controller option key=value.")
                              ] = None,
    preset: Annotated[str | None, Opt(help="Model preset: paper, small, tiny.")] = None,
    model_opt: Annotated[list[str] | None, Opt("--model-opt", help="Model config override key=value.")] = None,
    steps: Annotated[int | None, Opt(help="Total optimisation steps.")] = None,
    batch_size: Annotated[int | None, Opt(help="Global batch size (split over torchrun processes).")] = None,
    lr: Annotated[float | None, Opt(help="Peak learning rate (2e-4).")] = None,
    weight_decay: Annotated[float | None, Opt(help="AdamW weight decay (0.02).")] = None,
    ema_decay: Annotated[float | None, Opt(help="EMA decay per step (0.9999).")] = None,
    grad_clip: Annotated[float | None, Opt(help="Clip the total gradient norm (0 = off).")] = None,
    lr_schedule: Annotated[str | None, Opt(help="cosine or constant.")] = None,
    warmup: Annotated[int | None, Opt(help="Linear warm-up steps.")] = None,
    seed: Annotated[int | None, Opt(help="Random seed.")] = None,
    device: Annotated[str | None, Opt(help="auto, cpu, cuda, cuda:N.")] = None,
    precision: Annotated[str | None, Opt(help="fp32, bf16 or fp16 autocast (CUDA only).")] = None,
    checkpoint_every: Annotated[int | None, Opt(help="Steps between checkpoints.")] = None,
    log_every: Annotated[int | None, Opt(help="Steps between metrics.jsonl lines.")] = None,
    cache_dir: Annotated[Path | None, Opt(help="Music-feature cache (default DATA/.dancegen_features).")] = None,
    skeleton: Annotated[str | None, Opt(help="default, an SMPL-X model folder or a (55, 3) joints .npy.")] = None,
    no_progress: Annotated[bool, Opt("--no-progress", help="No progress display.")] = False,
    debug_replica_hash: Annotated[bool, Opt("--debug-replica-hash", hidden=True)] = False,
) -> None:
    """Train the GCDance denoiser on a data set, balancing its task losses with an mtlkit aggregator."""
    from ..errors import DancegenError
    from ..train.checkpoint import latest_checkpoint, read_config
    from ..train.checkpoint_paths import checkpoint_train_settings
    from ..train.config import TrainConfig, read_toml

    toml = read_toml(config) if config is not None else {}
    cli: dict[str, Any] = {
        "data": None if data is None else str(data), "out": None if out is None else str(out),
        "aggregator": aggregator, "aggregator_options": _opts(aggregator_opt, "--aggregator-opt"),
        "backend": backend, "shared": shared,
        "tasks": None if tasks is None else [t.strip().upper() for t in tasks.split(",") if t.strip()],
        "music_encoders": music_encoders, "encoder_options": _opts(encoder_opt, "--encoder-opt"),
        "allow_random_weights": True if allow_random_weights else None, "genre_controller": genre_controller,
        "controller_options": _opts(controller_opt, "--controller-opt"), "preset": preset,
        "model": _opts(model_opt, "--model-opt"), "steps": steps, "batch_size": batch_size, "lr": lr,
        "weight_decay": weight_decay, "ema_decay": ema_decay, "grad_clip": grad_clip, "lr_schedule": lr_schedule,
        "warmup": warmup, "seed": seed, "device": device, "precision": precision,
        "checkpoint_every": checkpoint_every, "log_every": log_every,
        "cache_dir": None if cache_dir is None else str(cache_dir), "skeleton": skeleton,
        "progress": False if no_progress else None, "debug_replica_hash": True if debug_replica_hash else None,
    }
    base: dict[str, Any] = {}
    saved: dict[str, Any] = {}
    run_dir = cli["out"] or toml.get("out")
    if resume:
        if not run_dir:
            raise DancegenError("--resume needs --out (the run directory to continue)")
        ckpt = latest_checkpoint(Path(run_dir).expanduser())
        if ckpt is None:
            raise DancegenError(f"nothing to resume in {run_dir}: no 'latest' checkpoint pointer "
                                f"(start without --resume)")
        saved = read_config(ckpt)["train"]
        base = checkpoint_train_settings(ckpt, saved)
    merged = {**base, **toml, **{k: v for k, v in cli.items() if v is not None}}
    if resume and "skeleton" not in merged and saved.get("skeleton", "default") != "default":
        raise DancegenError(f"the run was trained with --skeleton {saved['skeleton']}; pass it again to resume "
                            "(files named in a checkpoint's settings are not opened)")
    if "tasks" not in merged:  # a controller without a classifier (label, none) cannot train L_C
        from ..plugins import GENRE_CONTROLLERS

        if not GENRE_CONTROLLERS.get(str(merged.get("genre_controller", TrainConfig.genre_controller))).cls.trainable:
            merged["tasks"] = ["S", "J", "V", "F"]
    cfg = TrainConfig.from_dict(merged, where=str(config) if config else "settings").validate()
    from ..train.run_folder import claim_run_folder
    from ..train.state import preflight

    preflight(cfg)  # names, data folder, writable --out: before the lock and any work
    with claim_run_folder(cfg.out, resume):  # one run per folder; cleans up after a killed run
        _run(cfg, resume)


def _run(cfg: Any, resume: bool) -> None:
    import torch

    from ..errors import DancegenError
    from ..train import Trainer

    try:
        trainer = Trainer(cfg, resume=resume)
        last = trainer.fit()
    except torch.cuda.OutOfMemoryError:
        raise DancegenError(f"out of memory on {cfg.device} with batch size {cfg.batch_size}: lower --batch-size, "
                            f"use --precision bf16, --preset small, or --shared representation") from None
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower() or "not enough memory" in str(exc).lower():
            raise DancegenError(f"out of memory with batch size {cfg.batch_size} (backend {cfg.backend}): lower "
                                f"--batch-size or use --shared representation / --backend gramian") from None
        raise
    if last is not None:
        typer.echo(f"checkpoint: {last}", err=True)
