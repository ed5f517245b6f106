"""How far the representation-space Nash-MTL weights (``--shared representation``) are from parameter-space Nash
(``--shared all``), measured during a real GCDance training run.

The run trains in representation mode (``dancegen.train.Trainer``, unchanged). Every ``--every`` steps the script
hooks ``mtlkit.backward`` for that step: before the trainer's own representation backward, on the **same** task
losses and graph (same batch, timesteps, noise, dropout), it computes the parameter-space Gramian over the
trainer's shared parameters (``mtlkit.backward(..., backend="jacobian", retain_graph=True)`` with a throw-away
Nash instance; the ``.grad`` it writes is cleared, so training is untouched). Then, from the two Gramians:

* Nash weights of each, from fresh ``NashMTL`` solves with the training options (no warm start to bias them)
  for each floor on small gradient norms ``min_norm_ratio`` in :data:`FLOORS` (mtlkit's 1e-3, dancegen's
  training default 0.01, 0.05); each vector normalised to sum 1 (the ``max_norm`` clipping only rescales it);
* per task: ``w_rep / w_param``, the relative gradient norms ``‖g_i‖ / max_j ‖g_j‖`` of each space and their ratio;
* the cosine between the two weight vectors, and between the two *updates* in parameter space,
  ``cos(Jᵀw_r, Jᵀw_p) = w_rᵀGw_p / √(w_rᵀGw_r · w_pᵀGw_p)`` with the parameter Gramian ``G = JJᵀ``;
* per task, the cosine between its parameter gradient and each update, ``(Gw)_i / (√G_ii √(wᵀGw))``: Nash in
  parameter space keeps every one positive; a negative value for the representation update means that update
  increases that task's loss to first order;
* as a scale, the same cosines for fixed weights (EDGE's, uniform).

It also times one training step of each mode in the same process (interleaved rounds; median and minimum).

Writes ``OUT/representation_vs_parameter.json`` (settings, per-measurement records, window summaries, timings)
and ``OUT/representation_vs_parameter.md`` (the tables) and prints the tables. One thread by default.

    python benchmarks/representation_vs_parameter.py --out /tmp/rvp [--steps 300] [--every 10] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

import mtlkit
from dancegen.train import TrainConfig, Trainer

#: Nash-MTL's floor on gradient norms (``min_norm_ratio``) of each compared variant: mtlkit's default (the paper's
#: method), dancegen's training default (``NASH_MIN_NORM_RATIO``) and a coarser bound; the training run's own floor is
#: added when it is another.
FLOORS = (1e-3, 0.01, 0.05)


def variant_name(floor: float) -> str:
    return f"min_norm_ratio={floor:g}"


def variant_floors(options: dict[str, Any]) -> list[float]:
    """The floors compared: :data:`FLOORS` and the training options' own (mtlkit's default when unnamed)."""
    return sorted({*FLOORS, float(options.get("min_norm_ratio", 1e-3))})


# -- the measurement maths (numpy float64) ----------------------------------------------------------------------


def nash_weights(G: np.ndarray, options: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """Nash-MTL weights of Gramian ``G`` from a fresh solver (no warm start), normalised to sum 1, and the
    solver's diagnostics (``floored``, ``regularised``, ``converged``)."""
    nash = mtlkit.get_aggregator("nash", **options)
    w = nash.weights(torch.from_numpy(np.ascontiguousarray(G, dtype=np.float64))).double().numpy()
    info = {k: _plain(nash.diagnostics.get(k)) for k in ("floored", "floor_rejected", "regularised", "converged")}
    return w / w.sum(), info


def update_cosine(G: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Cosine between the updates ``Jᵀa`` and ``Jᵀb``, from the Gramian ``G = JJᵀ``."""
    den = math.sqrt(max(float(a @ G @ a), 0.0) * max(float(b @ G @ b), 0.0))
    return float(a @ G @ b) / den if den > 0 else float("nan")


def task_cosines(G: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per task i, the cosine between its gradient ``g_i`` and the update ``Jᵀw``: ``(Gw)_i / (√G_ii √(wᵀGw))``."""
    norms = np.sqrt(np.maximum(G.diagonal(), 0.0))
    den = norms * math.sqrt(max(float(w @ G @ w), 0.0))
    return np.where(den > 0, (G @ w) / np.where(den > 0, den, 1.0), np.nan)


def cosine_matrix(G: np.ndarray) -> np.ndarray:
    n = np.sqrt(np.maximum(G.diagonal(), 0.0))
    den = np.outer(n, n)
    return np.clip(np.where(den > 0, G / np.where(den > 0, den, 1.0), 0.0), -1.0, 1.0)


def compare(G_rep: np.ndarray, G_par: np.ndarray, options: dict[str, Any],
            fixed: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Everything recorded for one step from the representation- and parameter-space Gramians (see module doc);
    ``fixed`` names constant weight vectors (EDGE's, uniform) to compare with, as a scale."""
    n_rep, n_par = np.sqrt(np.maximum(G_rep.diagonal(), 0)), np.sqrt(np.maximum(G_par.diagonal(), 0))
    rel_rep, rel_par = n_rep / n_rep.max(), n_par / n_par.max()
    fixed = fixed or {}
    out: dict[str, Any] = {
        "norms": {"representation": n_rep.tolist(), "parameters": n_par.tolist()},
        "relative_norms": {"representation": rel_rep.tolist(), "parameters": rel_par.tolist()},
        "norm_ratio": (rel_rep / rel_par).tolist(),
        "cosine": {"representation": cosine_matrix(G_rep).tolist(), "parameters": cosine_matrix(G_par).tolist()},
        "fixed_task_cosine": {k: task_cosines(G_par, w).tolist() for k, w in fixed.items()},
        "variants": {},
    }
    for floor in variant_floors(options):
        w_r, info_r = nash_weights(G_rep, {**options, "min_norm_ratio": floor})
        w_p, info_p = nash_weights(G_par, {**options, "min_norm_ratio": floor})
        out["variants"][variant_name(floor)] = {
            "w_rep": w_r.tolist(), "w_par": w_p.tolist(), "ratio": (w_r / w_p).tolist(),
            "weight_cosine": float(w_r @ w_p / (np.linalg.norm(w_r) * np.linalg.norm(w_p))),
            "update_cosine": update_cosine(G_par, w_r, w_p),
            "task_cosine_rep": task_cosines(G_par, w_r).tolist(),
            "task_cosine_par": task_cosines(G_par, w_p).tolist(),
            "fixed_update_cosine": {k: {"rep": update_cosine(G_par, w_r, w), "par": update_cosine(G_par, w_p, w)}
                                    for k, w in fixed.items()},
            "solver": {"rep": info_r, "par": info_p},
        }
    return out


# -- driving the trainer ----------------------------------------------------------------------------------------


@contextmanager
def measure_parameter_space(trainer: Trainer, when: Callable[[int], bool], sink: list[dict[str, Any]],
                            options: dict[str, Any]) -> Iterator[None]:
    """While active, a training step whose (0-based) index passes ``when`` also computes the parameter-space
    Gramian of the same losses over ``trainer.run.shared_params`` before the trainer's representation backward,
    and appends ``{"step", "G_par", "G_rep", "w_train", "losses", "seconds_parameter_gramian"}`` to ``sink``."""
    original = mtlkit.backward

    def hooked(losses: Any, params: Any, aggregator: Any, backend: Any = "auto", **kwargs: Any
               ) -> mtlkit.BackwardResult:
        step = trainer.run.step
        if backend != "representation" or not when(step):
            return original(losses, params, aggregator, backend, **kwargs)
        tic = time.perf_counter()
        par = original(losses, params, mtlkit.get_aggregator("nash", **options), "jacobian", retain_graph=True)
        for p in params:  # the trainer set every .grad to None just before: leave them as it expects
            p.grad = None
        seconds = time.perf_counter() - tic
        result = original(losses, params, aggregator, backend, **kwargs)
        assert par.gramian is not None
        assert result.gramian is not None
        assert result.weights is not None
        w = result.weights.detach().double().cpu().numpy()
        sink.append({"step": step, "G_par": par.gramian.detach().cpu().numpy(),
                     "G_rep": result.gramian.detach().double().cpu().numpy(), "w_train": w / w.sum(),
                     "losses": result.losses.tolist(), "seconds_parameter_gramian": seconds})
        return result

    mtlkit.backward = hooked
    try:
        yield
    finally:
        mtlkit.backward = original


def make_data(folder: Path, songs_per_genre: int = 2, seconds: float = 20.0, genres: list[str] | None = None) -> Path:
    """The procedural data set (``dancegen data synth``), written once into ``folder``."""
    from dancegen.data.synth import build

    if not (folder / "labels.json").exists():
        build(folder, songs_per_genre=songs_per_genre, seconds=seconds, seed=0, genres=genres)
    return folder


def config(data: Path, out: Path, steps: int, **overrides: Any) -> TrainConfig:
    """The measured run's settings (representation mode); ``overrides`` change any field."""
    base: dict[str, Any] = {
        "data": str(data), "out": str(out), "music_encoders": "baseline35", "genre_controller": "text",
        "preset": "small", "batch_size": 16, "lr": 1e-3, "lr_schedule": "constant", "warmup": 25,
        "aggregator": "nash", "shared": "representation", "backend": "representation", "steps": steps,
        "device": "cpu", "seed": 0, "progress": False, "tensorboard": False,
    }
    return TrainConfig(**{**base, **overrides})


def run_measurement(cfg: TrainConfig, every: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train ``cfg.steps`` steps in representation mode; compare the two spaces every ``every`` steps."""
    trainer = Trainer(cfg)
    r = trainer.run
    r.model.train()
    r.controller.train()
    from dancegen.losses import EDGE_WEIGHTS

    options = cfg.aggregator_kwargs()
    tasks = cfg.aggregated_tasks
    training = variant_name(float(options.get("min_norm_ratio", 1e-3)))  # the floor the trainer's Nash uses
    fixed = {"edge": np.array([EDGE_WEIGHTS.get(t, 1.0) for t in tasks]), "uniform": np.ones(len(tasks))}
    captured: list[dict[str, Any]] = []
    step_times: list[float] = []
    losses: list[list[float]] = []
    records: list[dict[str, Any]] = []
    tic = time.perf_counter()
    with measure_parameter_space(trainer, lambda s: s % every == 0, captured, options):
        for _ in range(cfg.steps):
            n = len(captured)
            out = trainer.train_step()
            losses.append(out["losses"].tolist())  # (device tensors: reading them waits for the step)
            out["step_time"] = time.perf_counter() - out["tic"]
            if len(captured) == n:
                step_times.append(out["step_time"])
                continue
            c = captured[-1]
            rec = {"step": c["step"], "losses": dict(zip(tasks, c["losses"])),
                   "w_train": c["w_train"].tolist(), "seconds_parameter_gramian": c["seconds_parameter_gramian"],
                   "step_time": out["step_time"], **compare(c["G_rep"], c["G_par"], options, fixed)}
            fresh = np.asarray(rec["variants"][training]["w_rep"])
            rec["w_train_vs_fresh"] = float(np.abs(c["w_train"] - fresh).max())
            records.append(rec)
            v = rec["variants"][training]
            log(f"step {c['step']:4d}  ratio w_rep/w_par " + " ".join(f"{t}={x:.3g}" for t, x in zip(tasks, v["ratio"]))
                + f"  cos(w) {v['weight_cosine']:.3f}  cos(update) {v['update_cosine']:.3f}  "
                f"[{time.perf_counter() - tic:.0f} s]")
    return {"tasks": tasks, "records": records, "step_times": step_times, "losses": losses,
            "seconds": time.perf_counter() - tic, "aggregator_options": options, "training_variant": training,
            "variants": [variant_name(f) for f in variant_floors(options)],
            "fixed_weights": {k: w.tolist() for k, w in fixed.items()}}


MODES: dict[str, dict[str, Any]] = {
    "representation (--shared representation)": {},
    "parameters, jacobian (--shared all)": {"shared": "all", "backend": "jacobian"},
    "parameters, gramian (--shared all --backend gramian)": {"shared": "all", "backend": "gramian"},
    "one plain backward (linear: EDGE's fixed weights)": {"shared": "all", "backend": "auto", "aggregator": "linear"},
}


def time_modes(cfg: TrainConfig, work: Path, repeats: int) -> dict[str, dict[str, float]]:
    """Median and minimum wall time (ms) of one ``Trainer.train_step`` per mode: one warm-up step each, then
    ``repeats`` interleaved rounds (the same data, model preset and batch as the measured run)."""
    trainers = {}
    for k, (name, over) in enumerate(MODES.items()):
        t = Trainer(cfg.updated(out=str(work / f"timing_{k}"), **over))
        t.run.model.train()
        t.run.controller.train()
        t.train_step()
        trainers[name] = t
    times: dict[str, list[float]] = {name: [] for name in MODES}
    for _ in range(repeats):
        for name, t in trainers.items():
            out = t.train_step()
            out["losses"].tolist()  # wait for the step (a no-op on CPU)
            times[name].append((time.perf_counter() - out["tic"]) * 1e3)
    return {name: {"median_ms": statistics.median(v), "min_ms": min(v), "n": len(v)} for name, v in times.items()}


# -- summaries --------------------------------------------------------------------------------------------------


def windows(steps: int, count: int = 3) -> list[tuple[int, int]]:
    edges = [round(steps * i / count) for i in range(count + 1)]
    return [(edges[i], edges[i + 1]) for i in range(count)]


def summarise(result: dict[str, Any], steps: int, count: int = 3) -> dict[str, Any]:
    """Per window of training and per variant: median/min/max of each task's weight ratio, norm ratio and
    representation-update task cosine; median/min of the weight and update cosines; mean losses."""
    tasks, recs = result["tasks"], result["records"]
    out: dict[str, Any] = {}
    for a, b in windows(steps, count):
        sel = [r for r in recs if a <= r["step"] < b]
        if not sel:
            continue
        key = f"{a}-{b}"
        lw = np.asarray(result["losses"][a:b])
        win: dict[str, Any] = {"measurements": len(sel), "mean_losses": dict(zip(tasks, lw.mean(0).tolist())),
                               "norm_ratio": _stats_per_task(tasks, [r["norm_ratio"] for r in sel]),
                               "relative_norms": {
                                   s: {t: statistics.median(r["relative_norms"][s][i] for r in sel)
                                       for i, t in enumerate(tasks)} for s in ("representation", "parameters")}}
        fixed = list(result["fixed_weights"])
        win["fixed_task_cosine"] = {k: _stats_per_task(tasks, [r["fixed_task_cosine"][k] for r in sel]) for k in fixed}
        for name in result["variants"]:
            vs = [r["variants"][name] for r in sel]
            win[name] = {
                "ratio": _stats_per_task(tasks, [v["ratio"] for v in vs]),
                "w_rep_median": {t: statistics.median(v["w_rep"][i] for v in vs) for i, t in enumerate(tasks)},
                "w_par_median": {t: statistics.median(v["w_par"][i] for v in vs) for i, t in enumerate(tasks)},
                "weight_cosine": _stats([v["weight_cosine"] for v in vs]),
                "update_cosine": _stats([v["update_cosine"] for v in vs]),
                "task_cosine_rep": _stats_per_task(tasks, [v["task_cosine_rep"] for v in vs]),
                "task_cosine_par": _stats_per_task(tasks, [v["task_cosine_par"] for v in vs]),
                "fixed_update_cosine_par": {k: _stats([v["fixed_update_cosine"][k]["par"] for v in vs])
                                            for k in fixed},
                "conflicting_steps": sum(min(v["task_cosine_rep"]) < 0 for v in vs),
            }
        out[key] = win
    return out


def markdown(summary: dict[str, Any], tasks: list[str], timing: dict[str, dict[str, float]] | None,
             settings: dict[str, Any], variants: list[str], training: str = "") -> str:
    """The tables of the docs page (``training``: the variant the trainer used)."""
    lines = [f"Settings: {json.dumps(settings)}", ""]
    for name in variants:
        used = " (the training run's own)" if name == training else ""
        lines += [f"### Nash weights, {name}{used}: w_rep / w_par per task (each normalised to sum 1)", "",
                  "median (min – max) over the measurements of each window of training steps.", "",
                  "| steps | " + " | ".join(tasks) + " | cos(w_rep, w_par) | cos(update_rep, update_par) |",
                  "|---|" + "---:|" * (len(tasks) + 2)]
        for key, win in summary.items():
            v = win[name]
            cells = [_cell(v["ratio"][t]) for t in tasks]
            lines.append(f"| {key} | " + " | ".join(cells) + f" | {_cell(v['weight_cosine'], 3)} | "
                         f"{_cell(v['update_cosine'], 3)} |")
        lines += ["", f"Median weights ({name}), representation → parameters:", "",
                  "| steps | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
        for key, win in summary.items():
            v = win[name]
            lines.append(f"| {key} | " + " | ".join(f"{v['w_rep_median'][t]:.3f} → {v['w_par_median'][t]:.3f}"
                                                   for t in tasks) + " |")
        lines += ["", f"Cosine between each task's parameter gradient and the update ({name}): representation "
                  "update min (median), parameter-space Nash update min; steps where the representation update "
                  "conflicts with a task (cos < 0):", "",
                  "| steps | " + " | ".join(tasks) + " | conflicting steps |", "|---|" + "---:|" * (len(tasks) + 1)]
        for key, win in summary.items():
            v = win[name]
            cells = [f"{v['task_cosine_rep'][t]['min']:.3f} ({v['task_cosine_rep'][t]['median']:.3f}) / "
                     f"{v['task_cosine_par'][t]['min']:.3f}" for t in tasks]
            lines.append(f"| {key} | " + " | ".join(cells) + f" | {v['conflicting_steps']}/{win['measurements']} |")
        lines += ["", f"Cosine with the parameter-space Nash update ({name}), median (min): representation-space Nash"
                  " and fixed weights, as a scale:", "", "| steps | representation Nash | " +
                  " | ".join(v for v in next(iter(summary.values()))[name]["fixed_update_cosine_par"]) + " |",
                  "|---|---:|" + "---:|" * len(next(iter(summary.values()))[name]["fixed_update_cosine_par"])]
        for key, win in summary.items():
            v = win[name]
            cells = [f"{v['update_cosine']['median']:.3f} ({v['update_cosine']['min']:.3f})"]
            cells += [f"{x['median']:.3f} ({x['min']:.3f})" for x in v["fixed_update_cosine_par"].values()]
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["### Relative gradient norms ‖g_i‖ / max_j ‖g_j‖ (medians), representation / parameters", "",
              "| steps | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    for key, win in summary.items():
        lines.append(f"| {key} | " + " | ".join(
            f"{win['relative_norms']['representation'][t]:.3g} / {win['relative_norms']['parameters'][t]:.3g}"
            for t in tasks) + " |")
    if timing:
        lines += ["", "### One training step (ms, same process)", "", "| mode | median | min |", "|---|---:|---:|"]
        lines += [f"| {name} | {t['median_ms']:.0f} | {t['min_ms']:.0f} |" for name, t in timing.items()]
    return "\n".join(lines) + "\n"


def _stats(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def _stats_per_task(tasks: list[str], rows: list[list[float]]) -> dict[str, dict[str, float]]:
    return {t: _stats([row[i] for row in rows]) for i, t in enumerate(tasks)}


def _cell(s: dict[str, float], digits: int = 2) -> str:
    if digits == 3:
        return f"{s['median']:.3f} ({s['min']:.3f} – {s['max']:.3f})"
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f} – {s['max']:.{digits}f})"


def _plain(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.item() if x.numel() == 1 else x.tolist()
    return x


def _rounded(x: Any, digits: int = 5) -> Any:
    """``x`` with floats rounded to ``digits`` significant digits (a small JSON file)."""
    if isinstance(x, float):
        return x if not math.isfinite(x) or x == 0 else float(f"{x:.{digits}g}")
    if isinstance(x, dict):
        return {k: _rounded(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_rounded(v, digits) for v in x]
    return x


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for the JSON and markdown results")
    ap.add_argument("--data", type=Path, help="FineDance-layout data (default: dancegen data synth into OUT/data)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--every", type=int, default=10, help="compare the two spaces every N steps")
    ap.add_argument("--windows", type=int, default=3, help="summary windows of training")
    ap.add_argument("--encoder", default="baseline35", help="music encoder spec (baseline35 or stft)")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=25)
    ap.add_argument("--timing-repeats", type=int, default=5, help="timed steps per mode (0: no timing)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.data or make_data(args.out / "data")
    settings = {"preset": args.preset, "music_encoders": args.encoder, "genre_controller": "text",
                "batch_size": args.batch, "lr": args.lr, "warmup": args.warmup, "lr_schedule": "constant",
                "steps": args.steps, "every": args.every, "threads": args.threads, "seed": args.seed,
                "aggregator": "nash", "shared": "representation",
                "data": "dancegen data synth --songs-per-genre 2 --seconds 20" if args.data is None else str(data)}
    with tempfile.TemporaryDirectory(prefix="rvp_runs_") as tmp:
        cfg = config(data, Path(tmp) / "measured", args.steps, music_encoders=args.encoder, preset=args.preset,
                     batch_size=args.batch, lr=args.lr, warmup=args.warmup, seed=args.seed)
        result = run_measurement(cfg, args.every)
        timing = time_modes(cfg, Path(tmp), args.timing_repeats) if args.timing_repeats > 0 else None
    tasks = result["tasks"]
    summary = summarise(result, args.steps, args.windows)
    measured = [r["step_time"] * 1e3 for r in result["records"]]
    unmeasured = statistics.median(result["step_times"]) * 1e3
    run_timing = {"representation step (ms, median of the unmeasured steps)": unmeasured,
                  "measured step incl. parameter Gramian (ms, median)": statistics.median(measured),
                  "parameter Gramian alone (ms, median)":
                      statistics.median(r["seconds_parameter_gramian"] * 1e3 for r in result["records"]),
                  "run seconds": result["seconds"]}
    doc = {"settings": settings, "tasks": tasks, "aggregator_options": result["aggregator_options"],
           "variants": result["variants"], "training_variant": result["training_variant"],
           "fixed_weights": result["fixed_weights"], "timing": timing, "run_timing": run_timing, "summary": summary,
           "records": result["records"]}
    (args.out / "representation_vs_parameter.json").write_text(json.dumps(_rounded(doc), separators=(",", ":")))
    md = markdown(summary, tasks, timing, settings, result["variants"], result["training_variant"])
    md += "\n" + "\n".join(f"- {k}: {v:.0f}" for k, v in run_timing.items()) + "\n"
    (args.out / "representation_vs_parameter.md").write_text(md)
    print(md)
    return doc


if __name__ == "__main__":
    main()
