"""The GCDance training loop: one forward pass → task losses [L_S, L_J, L_V, L_F, L_C] → ``mtlkit.backward`` with the
chosen aggregator (its weights really train the model) → gradient clipping → AdamW → EMA (with warm-up,
``TrainConfig.ema_decay_at``). Constant-weight (``linear``) and loss-based methods take one backward per step.

Randomness comes from explicit ``torch.Generator`` s (data order, diffusion timesteps and noise, CFG music dropout,
training-text choice, randomised aggregators) plus torch's global RNG for dropout layers; all are stored in
checkpoints, so a resumed CPU run is bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import DancegenError
from ..motion.layout import NUM_CHANNELS
from .batches import BatchStream
from .config import TrainConfig
from .distributed import DistInfo, barrier, broadcast_module, init_distributed, shard, shutdown
from .monitor import Monitor
from .state import RunState, build_run, restore, save, takes_one_backward

#: the longest the progress bar and the non-finite check wait for the device's numbers
FLUSH_SECONDS = 2.0


def resolve_device(name: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; a CUDA device that is not there is an error."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DancegenError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    return name


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate for (0-based) ``step``: linear warm-up, then constant or cosine decay to ``min_lr_ratio``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if cfg.lr_schedule == "constant":
        return cfg.lr
    progress = (step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1)
    ratio = cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return cfg.lr * ratio


class Trainer:
    """Builds (or resumes) a run from a :class:`TrainConfig` and trains it with :meth:`fit`."""

    def __init__(self, config: TrainConfig, resume: bool = False) -> None:
        self.cfg = config.validate()
        self.device = resolve_device(self.cfg.device)
        self.dist: DistInfo = init_distributed(self.device)
        if self.dist.enabled and self.device.startswith("cuda"):
            self.device = f"cuda:{self.dist.local_rank}"
        self.out = Path(self.cfg.out).expanduser()
        try:
            self.run: RunState = build_run(self.cfg, self.device, self.dist, resume)
        except BaseException:
            shutdown(self.dist)
            raise
        r = self.run
        broadcast_module(r.model, self.dist)
        broadcast_module(r.controller, self.dist)
        if r.checkpoint is not None:
            restore(r, r.checkpoint)
        elif self.dist.enabled:
            r.ema.load_state_dict(r.model.state_dict())
        cuda = self.device.startswith("cuda")
        #: the run's batches, loaded ahead in ``cfg.data_workers`` worker processes (pinned memory on CUDA)
        self.stream = BatchStream(r.dataset, r.sampler, self.cfg.batch_size, self.dist, self.cfg.data_workers,
                                  self.cfg.prefetch, pin_memory=cuda)
        #: the denoiser's forward (compiled with ``cfg.compile``; the module, its state dict and EMA stay as they are)
        self.forward = torch.compile(r.model) if self.cfg.compile else r.model
        #: steps whose losses are read off the device together: every step on CPU (reading costs nothing there),
        #: ``log_every`` on CUDA (the host queues steps ahead), and at least every FLUSH_SECONDS for the progress bar
        self.flush_every = self.cfg.log_every if cuda else 1
        #: ONE backward of Σ w_i L_i per step (no per-task gradient): loss-based methods, and constant weights
        #: (``linear``) unless ``--backend`` asks for the per-task gradients (whatever ``shared`` says).
        self.one_backward = takes_one_backward(r.aggregator, len(self.cfg.aggregated_tasks), self.cfg.backend)
        #: What :meth:`fit` did (set when it returns): ``steps`` (the run's step count), ``steps_run``, ``seconds``
        #: (wall time of the loop), ``checkpoint`` and ``last`` (the final step's metrics.jsonl record, or None
        #: when no step ran).
        self.summary: dict[str, Any] | None = None

    # -- one step ------------------------------------------------------------------------------------------------

    def _draw(self) -> dict[str, Any]:
        """The global batch's random draws (identical on every rank) and this rank's slice of them and its windows
        (from :attr:`stream`, maybe loaded ahead in workers)."""
        r, cfg = self.run, self.cfg
        B = cfg.batch_size
        idx, windows = self.stream.next()
        g = r.generators["diffusion"]
        t = r.scheduler.sample_timesteps(B, generator=g)
        noise = torch.randn((B, r.window, NUM_CHANNELS), generator=g)
        drop = torch.rand(B, generator=g) < r.model.config.cond_drop_prob
        labels = torch.tensor([r.dataset.sequences[r.dataset.index[i].sequence].genre for i in idx.tolist()])
        texts = r.genre.draw_texts(labels, r.generators["text"])
        sl = shard(B, self.dist)
        return windows | {"t": t[sl], "noise": noise[sl], "drop": drop[sl],
                          "texts": None if texts is None else texts[sl]}

    def train_step(self) -> dict[str, Any]:
        """One optimisation step. Returns the mtlkit result and what is logged, as device tensors: ``losses``
        (every task, in ``cfg.tasks`` order, averaged over the ranks) and ``grad_norm``, with ``step``, ``lr``,
        ``skipped`` and ``tic`` (host time at the start). Nothing here waits for the device: :meth:`_flush` reads
        the values (one transfer for many steps) and checks they are finite."""
        import mtlkit

        from ..losses import task_loss_terms

        r, cfg, dev = self.run, self.cfg, self.device
        tic = time.perf_counter()
        pinned = self.stream.pinned
        batch: dict[str, Any] = {k: v.to(dev, non_blocking=pinned) if isinstance(v, Tensor) else v
                                 for k, v in self._draw().items()}
        genre_emb, logits = r.genre.condition(batch["genre"], batch["texts"], dev)
        with torch.no_grad():
            x0 = r.normalizer.normalize(batch["motion"])
        x_t = r.scheduler.add_noise(x0, batch["noise"], batch["t"])
        with r.precision.autocast():
            x0_pred = self.forward(x_t, batch["t"], batch["music"], genre_emb, batch["drop"])
        x0_pred = x0_pred.float()
        terms = task_loss_terms(x0_pred, x0, r.skeleton, None if logits is None else logits.float(),
                                batch["genre"], cfg.tasks, batch["hands"], r.normalizer)
        for p in r.params:
            p.grad = None
        agg_tasks = cfg.aggregated_tasks
        agg_losses = [terms[t] for t in agg_tasks]  # separate scalars: each differentiated over its own graph
        kwargs: dict[str, Any] = {"grad_scale": r.precision.grad_scale(dev)}
        backend = "auto" if self.one_backward else r.backend
        if backend == "representation":
            reps = [x0_pred] + ([logits] if logits is not None and logits.requires_grad else [])
            kwargs["representation"] = reps
        try:
            result = mtlkit.backward(agg_losses, r.shared_params, r.aggregator, backend=backend, **kwargs)
        except ValueError as exc:  # e.g. non-finite gradients: the run diverged
            seen = {k: float(v) for k, v in terms.items()}
            raise DancegenError(f"step {r.step + 1}: {exc} (losses {seen}); lower --lr or --grad-clip") from None
        values: dict[str, Tensor] = {t: result.losses[i] for i, t in enumerate(agg_tasks)}  # mtlkit: rank mean
        if r.task_params:  # shared="trunk": L_C trains the classifier head by its own gradient (synced)
            head = mtlkit.backward([terms["C"]], r.task_params, r.head_aggregator,  # linear: one backward
                                   grad_scale=kwargs["grad_scale"])
            values["C"] = head.losses[0]
        losses = torch.stack([values[t] for t in cfg.tasks])
        lr = lr_at(cfg, r.step)
        for group in r.optimizer.param_groups:
            group["lr"] = lr
        # fp16: unscale, clip, step unless the gradients overflowed (mtlkit then left the aggregator's state as it
        # was), and adapt the loss scale; otherwise clip and step
        grad_norm, stepped = r.precision.step(r.optimizer, lambda: _clip(r.params, cfg.grad_clip))
        if stepped and type(r.aggregator).after_step is not mtlkit.Aggregator.after_step:  # FAMO: losses after the step
            with torch.no_grad(), r.precision.autocast():
                emb, new_logits = r.genre.condition(batch["genre"], batch["texts"], dev)
                new_pred = self.forward(x_t, batch["t"], batch["music"], emb, batch["drop"]).float()
            new_terms = task_loss_terms(new_pred, x0, r.skeleton, None if new_logits is None else new_logits.float(),
                                        batch["genre"], cfg.tasks, batch["hands"], r.normalizer)
            mtlkit.after_step(r.aggregator, [new_terms[t] for t in agg_tasks])
        if stepped:
            _ema_update(r.ema, r.model, cfg.ema_decay_at(r.step))
        r.step += 1
        return {"result": result, "losses": losses, "lr": lr, "grad_norm": grad_norm, "step": r.step, "tic": tic,
                "skipped": not stepped}

    def _flush(self, pending: list[dict[str, Any]], mon: Monitor) -> dict[str, Any] | None:
        """Read the pending steps' losses and gradient norms off the device in one transfer, stop on a non-finite
        loss, hand every step to the monitor (the logging steps' full records to metrics.jsonl) and return the
        last step's record. ``step_time`` is the pending steps' wall time, from the first one's start to the
        transfer, over their number (on a GPU the host runs ahead, so only that average means anything)."""
        if not pending:
            return None
        cfg = self.cfg
        rows = torch.stack([torch.cat([o["losses"].double(), o["grad_norm"].double().reshape(1)])
                            for o in pending]).tolist()
        step_time = (time.perf_counter() - pending[0]["tic"]) / len(pending)
        log: dict[str, Any] | None = None
        for o, row in zip(pending, rows):
            values, step = row[:-1], o["step"]
            if not all(math.isfinite(v) for v in values):
                raise DancegenError(f"non-finite training loss at step {step}: {dict(zip(cfg.tasks, values))}; "
                                    f"lower --lr or check the data")
            log = _record(step, o | {"losses": values, "grad_norm": row[-1], "step_time": step_time}, cfg.tasks,
                          cfg.aggregated_tasks, self.nash_floor)
            weights = None if log["weights"] is None else [log["weights"].get(t) for t in cfg.tasks]
            mon.step(step, values, weights, log if step % cfg.log_every == 0 or step == cfg.steps else None)
        return log

    # -- the loop ------------------------------------------------------------------------------------------------

    @property
    def nash_floor(self) -> float | None:
        """Nash-MTL's ``min_norm_ratio`` r (the bound on the weights of near-zero-gradient tasks), or None."""
        import mtlkit

        agg = self.run.aggregator
        return float(agg.min_norm_ratio) if isinstance(agg, mtlkit.NashMTL) else None

    def start_message(self) -> str:
        """The line printed when training starts: recipe, aggregator, its options and how the update is computed,
        the weight bound under Nash-MTL, the EMA."""
        cfg = self.cfg
        opts = ", ".join(f"{k}={v}" for k, v in cfg.aggregator_kwargs().items() if k != "generator")
        head = f"recipe {cfg.recipe}: " if cfg.recipe else ""
        how = "one backward of Σ w_i L_i per step" if self.one_backward else f"backend {self.run.backend}"
        text = f"{head}aggregator {cfg.aggregator}{f' ({opts})' if opts else ''}: {how}, shared={cfg.shared}"
        r = self.nash_floor
        if r is not None:
            bound = "no bound" if r == 0 else (f"a task whose gradient norm is below {r:g}× the largest gets weight ≤ "
                                               f"{1 / r:g}/max‖g‖")
            text += f"; Nash weights bounded: min_norm_ratio={r:g} ({bound})"
        warm = "with warm-up min(decay, (1+n)/(10+n))" if cfg.ema_warmup else "no warm-up"
        return text + f"; EMA {cfg.ema_decay:g} ({warm})"

    def fit(self) -> Path | None:
        """Train until ``cfg.steps``; checkpoints every ``checkpoint_every`` steps and at the end. Returns the last
        checkpoint folder (rank 0) or None; :attr:`summary` tells what was done."""
        import mtlkit

        r, cfg, info = self.run, self.cfg, self.dist
        last: Path | None = None
        record: dict[str, Any] | None = None
        start, tic = r.step, time.perf_counter()
        r.model.train()
        r.controller.train()
        pending: list[dict[str, Any]] = []
        flushed = time.perf_counter()
        # on CUDA mtlkit's per-call finiteness check would wait for the device at every step; the grouped read
        # (_flush) catches a non-finite loss instead, before any checkpoint (restored when fit returns)
        checks = mtlkit.set_input_checks(self.flush_every == 1 and mtlkit.input_checks_enabled())
        try:
            with Monitor(self.out, cfg.steps, r.step, list(cfg.tasks), enabled=info.is_main, progress=cfg.progress,
                         tensorboard=cfg.tensorboard) as mon:
                mon.message(self.start_message())
                if r.step >= cfg.steps:
                    mon.message(f"already trained for {r.step} ≥ {cfg.steps} steps; nothing to do")
                for _ in range(r.step, cfg.steps):
                    pending.append(self.train_step())
                    step = r.step
                    checkpoint = step % cfg.checkpoint_every == 0 or step == cfg.steps
                    if (checkpoint or step % cfg.log_every == 0 or len(pending) >= self.flush_every
                            or time.perf_counter() - flushed >= FLUSH_SECONDS):
                        record = self._flush(pending, mon) or record
                        pending, flushed = [], time.perf_counter()
                    if checkpoint:
                        if info.is_main:
                            last = save(r, self.out, self.stream.state())
                        barrier(info, "rank 0 writing the checkpoint")
                if cfg.debug_replica_hash:
                    write_replica_hash(self.out, r.model, info)
        finally:
            mtlkit.set_input_checks(checks)
            self.stream.close()
            shutdown(info)
        self.summary = {"steps": r.step, "steps_run": r.step - start, "seconds": time.perf_counter() - tic,
                        "checkpoint": last, "last": record}
        return last


def _record(step: int, out: dict[str, Any], tasks: list[str], agg_tasks: list[str],
            nash_floor: float | None = None) -> dict[str, Any]:
    """One metrics.jsonl record; tasks outside the aggregation (L_C with shared="trunk") get weight 1. Under Nash-MTL
    ``weight_bound`` says how the weights stand against the floor ``min_norm_ratio`` r: ``max_over_min`` (largest
    weight / smallest), ``max_scaled`` (max_i α_i·max_j ‖g_j‖, the heaviest weight in units of the largest gradient's
    unit share: at most 1/r for a floored task), ``limit`` (1/r), ``floored`` (tasks raised to the floor this step)
    and ``floor_rejected``."""
    d = out["result"].as_dict()
    weights = None
    if d.get("weights") is not None:
        weights = dict.fromkeys(tasks, 1.0) | dict(zip(agg_tasks, d["weights"]))
    skip = {"backend", "space", "losses", "weights", "gradient_norms", "cosine", "update_norm", "skipped"}
    record = {"step": step, "lr": out["lr"], "step_time": out["step_time"],
              "losses": dict(zip(tasks, out["losses"])), "weights": weights,
              "gradient_norms": None if d["gradient_norms"] is None else dict(zip(agg_tasks, d["gradient_norms"])),
              "cosine": d["cosine"], "cosine_tasks": agg_tasks, "space": d["space"], "backend": d["backend"],
              "grad_norm": out["grad_norm"] if math.isfinite(out["grad_norm"]) else None,
              "skipped": out["skipped"], "update_norm": d["update_norm"],
              "diagnostics": {k: v for k, v in d.items() if k not in skip}}
    if nash_floor is not None:
        record["weight_bound"] = _weight_bound(d, nash_floor)
    return record


def _weight_bound(d: dict[str, Any], floor: float) -> dict[str, Any]:
    """The Nash weights against their floor (see :func:`_record`)."""
    w, alpha, norms = d.get("weights"), d.get("alpha"), d.get("gradient_norms")
    out: dict[str, Any] = {"min_norm_ratio": floor, "limit": None if floor == 0 else 1.0 / floor,
                           "floored": d.get("floored"), "floor_rejected": d.get("floor_rejected")}
    if w:
        lo = min(w)
        out["max_over_min"] = max(w) / lo if lo > 0 else None  # (None: a zero weight)
    if alpha and norms:
        out["max_scaled"] = max(alpha) * max(norms)
    return out


def _clip(params: list[Tensor], max_norm: float) -> Tensor:
    """Clip the gradients' global norm to ``max_norm`` (> 0) and return the norm before clipping (a device tensor:
    no synchronisation)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    if max_norm > 0:
        return torch.nn.utils.clip_grad_norm_(params, max_norm)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema ← decay·ema + (1 − decay)·model (parameters); buffers copied."""
    e_params: list[Tensor] = list(ema.parameters())
    m_params = [p.detach() for p in model.parameters()]
    if decay == 0.0:
        torch._foreach_copy_(e_params, m_params)
    else:
        torch._foreach_lerp_(e_params, m_params, 1.0 - decay)
    for eb, mb in zip(ema.buffers(), model.buffers()):
        eb.copy_(mb)


def write_replica_hash(out: Path, model: nn.Module, info: DistInfo) -> None:
    """Test/debug aid: every rank writes ``replica_hash_rank<R>.txt`` (sha256 of its parameters)."""
    import hashlib

    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().to("cpu").contiguous().numpy().tobytes())
    out.mkdir(parents=True, exist_ok=True)
    (out / f"replica_hash_rank{info.rank}.txt").write_text(h.hexdigest() + "\n")


__all__ = ["Trainer", "lr_at", "resolve_device"]
