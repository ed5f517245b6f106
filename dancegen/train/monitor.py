"""What a training run reports: a rich progress line, ``metrics.jsonl`` and (when installed) TensorBoard.

Each ``metrics.jsonl`` line is one logged step: ``step``, ``lr``, ``step_time`` (s), ``losses`` / ``losses_avg``
(per task: this step, and the mean since the previous line), ``weights`` (the aggregator's, per task),
``gradient_norms`` (per task, in the space named by ``space``), ``cosine`` (K×K), ``grad_norm`` (total, before
clipping; None on a step skipped for overflow), ``skipped`` (fp16: the gradients overflowed, the loss scale was
lowered and neither the optimiser nor the EMA stepped), ``update_norm`` and the aggregator's ``diagnostics``; under
Nash-MTL also ``weight_bound`` (the weights against the ``min_norm_ratio`` floor: largest/smallest weight, how many
tasks were floored). A method that takes one backward (``linear``, loss-based methods) logs no gradient norms or
cosines (None).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

METRICS = "metrics.jsonl"


def truncate_metrics(path: Path, last_step: int) -> None:
    """Drop lines logged after ``last_step`` (a run resumed from an earlier checkpoint rewrites them)."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if int(json.loads(line)["step"]) <= last_step:
                keep.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(f"{line}\n" for line in keep))
    tmp.replace(path)


def _fmt(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else str(x)


class Monitor:
    """Rank 0's reporter. ``enabled=False`` (other ranks) makes every method a no-op."""

    def __init__(self, out: Path, total_steps: int, start_step: int, tasks: list[str], enabled: bool = True,
                 progress: bool = True, tensorboard: bool = True) -> None:
        self.enabled, self.tasks, self.total = enabled, tasks, total_steps
        self.start_step = start_step
        self._file = None
        self._tb = None
        self._progress = None
        self._sum = [0.0] * len(tasks)
        self._count = 0
        if not enabled:
            return
        out.mkdir(parents=True, exist_ok=True)
        path = out / METRICS
        truncate_metrics(path, start_step)
        self._file = path.open("a")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard not installed: optional
                pass
            else:
                self._tb = SummaryWriter(str(out / "tensorboard"), purge_step=start_step + 1)
        from rich.console import Console

        self.console = Console(stderr=True)
        self._interactive = progress and self.console.is_terminal
        self._plain = progress and not self._interactive
        if self._interactive:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[speed]}"),
                TimeRemainingColumn(), TextColumn("{task.fields[losses]}"), console=self.console)
            self._task = self._progress.add_task("train", total=total_steps, completed=start_step, speed="",
                                                 losses="")
            self._progress.start()
        self._t0 = time.perf_counter()

    def step(self, step: int, losses: list[float], weights: list[float] | None, log: dict[str, Any] | None) -> None:
        """Record one finished step; ``log`` (the full record) is written when this step is a logging step."""
        if not self.enabled:
            return
        self._sum = [s + v for s, v in zip(self._sum, losses)]
        self._count += 1
        rate = (step - self.start_step) / max(time.perf_counter() - self._t0, 1e-9)
        if self._progress is not None:
            w = weights or [math.nan] * len(losses)
            text = "  ".join(f"{t} {_fmt(v)}·w{_fmt(wi)}" for t, v, wi in zip(self.tasks, losses, w))
            self._progress.update(self._task, completed=step, speed=f"{rate:.2f} it/s", losses=text)
        if log is None:
            return
        log["losses_avg"] = {t: s / self._count for t, s in zip(self.tasks, self._sum)}
        self._sum, self._count = [0.0] * len(self.tasks), 0
        assert self._file is not None, "Monitor.log after close"
        self._file.write(json.dumps(log) + "\n")
        self._file.flush()
        if self._tb is not None:
            for t in self.tasks:
                self._tb.add_scalar(f"loss/{t}", log["losses"][t], step)
                if log.get("weights"):
                    self._tb.add_scalar(f"weight/{t}", log["weights"][t], step)
            for t, norm in (log["gradient_norms"] or {}).items():  # None: one backward, no per-task gradient
                self._tb.add_scalar(f"grad_norm/{t}", norm, step)
            self._tb.add_scalar("lr", log["lr"], step)
        if self._plain:
            eta = (self.total - step) / rate if rate > 0 else math.inf
            losses_text = " ".join(f"{t}={_fmt(log['losses'][t])}" for t in self.tasks)
            weights_text = "" if not log.get("weights") else " w: " + " ".join(
                f"{t}={_fmt(log['weights'][t])}" for t in self.tasks)
            print(f"step {step}/{self.total} {rate:.2f} it/s eta {eta:.0f}s {losses_text}{weights_text}",
                  file=sys.stderr, flush=True)

    def message(self, text: str) -> None:
        if self.enabled:
            (self._progress.console if self._progress is not None else self.console).print(text, highlight=False)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
