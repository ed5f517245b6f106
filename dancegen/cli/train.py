"""``dancegen train``: train GCDance with a multi-task aggregator (also under ``torchrun -m dancegen train``).

Settings are merged in this order: defaults → a named recipe (``--recipe paper|edge|fast``, or ``recipe = "…"``
in the TOML file) → the resumed checkpoint's settings (``--resume``) → the TOML file (``--config``) → flags given on
the command line. The run ends with a summary on stderr (steps, time, final
losses and aggregator weights, checkpoint, the next command), or the same as one JSON object on stdout (``--json``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from . import app

Opt = typer.Option

#: The defaults ``--help`` shows: those of :class:`dancegen.train.TrainConfig` (importing it would import torch;
#: tests/dancegen/test_cli_basics.py checks that they agree). A flag left out keeps the resumed run's setting.
DEFAULTS = {
    "aggregator": "nash", "backend": "auto", "shared": "all", "tasks": "S,J,V,F,C (S,J,V,F without classifier)",
    "music_encoders": "wav2clip,stft", "genre_controller": "text", "preset": "small", "steps": "1000",
    "batch_size": "32", "lr": "0.0002", "weight_decay": "0.02", "ema_decay": "0.9999", "grad_clip": "1.0",
    "lr_schedule": "cosine", "warmup": "0", "seed": "0", "device": "auto", "precision": "fp32",
    "checkpoint_every": "500", "log_every": "10", "cache_dir": "DATA/.dancegen_features", "skeleton": "default",
    "ema_warmup": "True", "data_workers": "0", "prefetch": "2", "compile": "False",
}

#: ``--recipe`` choices with what they are (``dancegen.train.config.RECIPES``; a test keeps them equal).
RECIPE_HELP = {
    "paper": "the GCDance paper's setup (paper preset, wav2clip+stft with the STFT real part, CLIP text, nash, batch "
             "128, constant lr 2e-4, EMA 0.9999; AdamW for Adan)",
    "edge": "the no-MTL baseline: as paper with EDGE's fixed weights (linear, one backward per step)",
    "fast": "our one-GPU recommendation (small preset, bf16, nash in representation space with bounded weights, "
            "cosine lr with warm-up, EMA with warm-up)",
}


def _d(name: str) -> str:
    return DEFAULTS[name]


def _opts(values: list[str] | None, what: str) -> dict[str, Any] | None:
    from ..train.config import parse_options

    return parse_options(values, what) if values else None


@app.command()
def train(
    data: Annotated[Path | None, Opt(help="FineDance-layout data directory (or the procedural set).")] = None,
    out: Annotated[Path | None, Opt(help="Run directory (checkpoints, metrics.jsonl).")] = None,
    recipe: Annotated[str | None, Opt("--recipe", help="Named defaults below --config and flags: " + "; ".join(
        f"{k}: {v}" for k, v in RECIPE_HELP.items()) + ".", show_default=False)] = None,
    config: Annotated[Path | None, Opt("--config", help="TOML file of training settings.")] = None,
    resume: Annotated[bool, Opt("--resume", help="Continue the run in --out from its latest checkpoint.")] = False,
    aggregator: Annotated[str | None, Opt(help="mtlkit aggregator: nash, linear (EDGE weights), aligned, "
                                               "pcgrad or any plugin's.", show_default=_d("aggregator"))] = None,
    aggregator_opt: Annotated[list[str] | None, Opt("--aggregator-opt", help="Aggregator option key=value "
                                                    "(repeatable).")] = None,
    backend: Annotated[str | None, Opt(help="mtlkit backend: auto, jacobian, gramian, representation.",
                                       show_default=_d("backend"))] = None,
    shared: Annotated[str | None, Opt(help="What is aggregated: all, trunk, representation.",
                                      show_default=_d("shared"))] = None,
    tasks: Annotated[str | None, Opt(help="Comma-separated tasks among S,J,V,F,C.", show_default=_d("tasks"))] = None,
    music_encoders: Annotated[str | None, Opt(help="Music encoder spec, e.g. wav2clip,stft.",
                                              show_default=_d("music_encoders"))] = None,
    encoder_opt: Annotated[list[str] | None, Opt("--encoder-opt", help="Encoder option key=value.")] = None,
    allow_random_weights: Annotated[bool, Opt("--allow-random-weights", help="Let neural encoders run with "
                                              "random weights when none are available (tests only).")] = False,
    genre_controller: Annotated[str | None, Opt(help="Genre controller: text, label or none (no genre control); "
                                                     "without text, tasks default to S,J,V,F.",
                                                show_default=_d("genre_controller"))] = None,
    controller_opt: Annotated[list[str] | None, Opt("--controller-opt", help="Controller option key=value.")
                              ] = None,
    preset: Annotated[str | None, Opt(help="Model preset: paper, small, tiny.", show_default=_d("preset"))] = None,
    model_opt: Annotated[list[str] | None, Opt("--model-opt", help="Model config override key=value.")] = None,
    steps: Annotated[int | None, Opt(help="Total optimisation steps.", show_default=_d("steps"))] = None,
    batch_size: Annotated[int | None, Opt(help="Global batch size (split over torchrun processes).",
                                          show_default=_d("batch_size"))] = None,
    lr: Annotated[float | None, Opt(help="Peak learning rate.", show_default=_d("lr"))] = None,
    weight_decay: Annotated[float | None, Opt(help="AdamW weight decay.", show_default=_d("weight_decay"))] = None,
    ema_decay: Annotated[float | None, Opt(help="EMA decay per step.", show_default=_d("ema_decay"))] = None,
    ema_warmup: Annotated[bool | None, Opt(
        "--ema-warmup/--no-ema-warmup", show_default=_d("ema_warmup"), help="EMA warm-up: decay min(ema_decay, "
        "(1+n)/(10+n)) at the n-th update (TF/diffusers), so short runs have usable EMA weights; off: the "
        "published code.")] = None,
    grad_clip: Annotated[float | None, Opt(help="Clip the total gradient norm (0 = off).",
                                           show_default=_d("grad_clip"))] = None,
    lr_schedule: Annotated[str | None, Opt(help="cosine or constant.", show_default=_d("lr_schedule"))] = None,
    warmup: Annotated[int | None, Opt(help="Linear warm-up steps.", show_default=_d("warmup"))] = None,
    seed: Annotated[int | None, Opt(help="Random seed.", show_default=_d("seed"))] = None,
    device: Annotated[str | None, Opt(help="auto, cpu, cuda, cuda:N.", show_default=_d("device"))] = None,
    precision: Annotated[str | None, Opt(help="fp32, bf16 or fp16 autocast (CUDA only).",
                                         show_default=_d("precision"))] = None,
    compile_model: Annotated[bool | None, Opt(
        "--compile/--no-compile", show_default=_d("compile"), help="torch.compile the denoiser's forward (the first "
        "steps are slower while it compiles; needs a C++ compiler on CPU).")] = None,
    data_workers: Annotated[int | None, Opt(help="DataLoader worker processes loading batches ahead of the step (0: "
                                                 "in the training process).", show_default=_d("data_workers"))] = None,
    prefetch: Annotated[int | None, Opt(help="Batches each data worker loads ahead.", show_default=_d("prefetch"))
                        ] = None,
    checkpoint_every: Annotated[int | None, Opt(help="Steps between checkpoints.",
                                                show_default=_d("checkpoint_every"))] = None,
    log_every: Annotated[int | None, Opt(help="Steps between metrics.jsonl lines.", show_default=_d("log_every"))
                         ] = None,
    cache_dir: Annotated[Path | None, Opt(help="Music-feature cache.", show_default=_d("cache_dir"))] = None,
    skeleton: Annotated[str | None, Opt(help="default, an SMPL-X model folder or a (55, 3) joints .npy.",
                                        show_default=_d("skeleton"))] = None,
    no_progress: Annotated[bool, Opt("--no-progress", help="No progress display.")] = False,
    as_json: Annotated[bool, Opt("--json", help="Print the final summary as one JSON object on stdout (progress "
                                 "and messages go to stderr).")] = False,
    debug_replica_hash: Annotated[bool, Opt("--debug-replica-hash", hidden=True)] = False,
) -> None:
    """Train the GCDance denoiser on a data set, balancing its task losses with an mtlkit aggregator."""
    from ..checkpoint import latest_checkpoint, read_config
    from ..errors import DancegenError
    from ..train.checkpoint_paths import checkpoint_train_settings
    from ..train.config import TrainConfig, merge_settings, read_toml, recipe_settings

    if recipe is not None:
        recipe_settings(recipe)  # an unknown name: one line, before anything else
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
        "weight_decay": weight_decay, "ema_decay": ema_decay, "ema_warmup": ema_warmup, "recipe": recipe,
        "grad_clip": grad_clip, "lr_schedule": lr_schedule,
        "warmup": warmup, "seed": seed, "device": device, "precision": precision, "compile": compile_model,
        "data_workers": data_workers, "prefetch": prefetch,
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
        meta = read_config(ckpt)
        saved = meta["train"]
        base = checkpoint_train_settings(ckpt, saved)
        base.update(_pre_recipe_defaults(saved, meta))
    merged = {**base, **toml, **{k: v for k, v in cli.items() if v is not None}}
    name = merged.get("recipe") or ""
    if name:  # the recipe's settings go below everything else (option tables merged key by key)
        merged = merge_settings(recipe_settings(name), merged)
    if resume and "skeleton" not in merged and saved.get("skeleton", "default") != "default":
        raise DancegenError(f"the run was trained with --skeleton {saved['skeleton']}; pass it again to resume "
                            "(files named in a checkpoint's settings are not opened)")
    if "tasks" not in merged:  # a controller without a classifier (label, none) cannot train L_C
        from ..genre.registry import GENRE_CONTROLLERS

        if not GENRE_CONTROLLERS.get(str(merged.get("genre_controller", TrainConfig.genre_controller))).cls.trainable:
            merged["tasks"] = ["S", "J", "V", "F"]
    cfg = TrainConfig.from_dict(merged, where=str(config) if config else "settings").validate()
    from ..train.run_folder import claim_run_folder
    from ..train.state import preflight

    preflight(cfg)  # names, data folder, writable --out: before the lock and any work
    tic = time.perf_counter()
    with claim_run_folder(cfg.out, resume):  # one run per folder; cleans up after a killed run
        trainer = _run(cfg, resume)
    if trainer.dist.is_main:  # torchrun: one summary, from rank 0
        summary = train_summary(trainer, time.perf_counter() - tic)
        if as_json:
            sys.stdout.write(json.dumps(summary) + "\n")
        else:
            typer.echo(format_summary(summary), err=True)


def _pre_recipe_defaults(saved: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Settings a checkpoint from before EMA warm-up and dancegen's bounded Nash default was trained with, where
    its config does not name them: no EMA warm-up, mtlkit's own ``min_norm_ratio`` (1e-3). A resumed run keeps
    training as it started."""
    out: dict[str, Any] = {}
    if "ema_warmup" not in saved:
        out["ema_warmup"] = False
    stored = (meta.get("aggregator") or {}).get("options") or {}
    if saved.get("aggregator") == "nash" and "min_norm_ratio" not in stored:
        out["aggregator_options"] = {**(saved.get("aggregator_options") or {}), "min_norm_ratio": 1e-3}
    return out


def _run(cfg: Any, resume: bool) -> Any:
    import torch

    from ..errors import DancegenError
    from ..train import Trainer

    try:
        trainer = Trainer(cfg, resume=resume)
        trainer.fit()
    except torch.cuda.OutOfMemoryError:
        raise DancegenError(f"out of memory on {cfg.device} with batch size {cfg.batch_size}: lower --batch-size, "
                            f"use --precision bf16, --preset small, or --shared representation") from None
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower() or "not enough memory" in str(exc).lower():
            raise DancegenError(f"out of memory with batch size {cfg.batch_size} (backend {cfg.backend}): lower "
                                f"--batch-size or use --shared representation / --backend gramian") from None
        raise
    return trainer


def train_summary(trainer: Any, seconds: float) -> dict[str, Any]:
    """The ``--json`` document: what :meth:`Trainer.fit` did (its ``summary``) and the command to run next."""
    from ..checkpoint import latest_checkpoint

    cfg, done = trainer.cfg, trainer.summary
    last = done["last"] or {}
    ckpt = done["checkpoint"] or latest_checkpoint(trainer.out)
    prompt = '--text "a description of the dance"' if cfg.genre_controller == "text" else "--genre Jazz"
    return {
        "run": str(trainer.out),
        "checkpoint": None if ckpt is None else str(ckpt),
        "steps": done["steps"],
        "steps_run": done["steps_run"],
        "seconds": round(seconds, 3),
        "train_seconds": round(done["seconds"], 3),
        "aggregator": cfg.aggregator,
        "tasks": list(cfg.tasks),
        "losses": last.get("losses"),
        "losses_avg": last.get("losses_avg"),
        "weights": last.get("weights"),
        "metrics": str(trainer.out / "metrics.jsonl"),
        "next": None if ckpt is None else f"dancegen generate song.wav --checkpoint {ckpt} {prompt}",
    }


def format_summary(s: dict[str, Any]) -> str:
    """The human summary printed at the end of a run (stderr)."""
    def row(values: dict[str, float] | None) -> str:
        return "-" if not values else "  ".join(f"{t} {v:.4g}" for t, v in values.items())

    lines = [f"trained   {s['steps']} steps ({s['steps_run']} in this run) in {s['seconds']:.1f} s "
             f"(loop {s['train_seconds']:.1f} s)", f"losses    {row(s['losses'])}  (final step)"]
    if s["losses_avg"]:
        lines.append(f"          {row(s['losses_avg'])}  (mean since the previous log line)")
    lines.append(f"weights   {row(s['weights'])}  ({s['aggregator']})")
    lines.append(f"metrics   {s['metrics']}")
    lines.append(f"checkpoint: {s['checkpoint']}")
    if s["next"]:
        lines.append(f"next      {s['next']}")
    return "\n".join(lines)
