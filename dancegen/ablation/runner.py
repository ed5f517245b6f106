"""Run a sweep: per combination ``RUN = OUT/<name>``, ``dancegen train`` into ``RUN/train`` then ``dancegen
evaluate`` into ``RUN/report.json``, each a plain subprocess (logs in ``RUN/train.log``, ``RUN/eval.log``).

Resume: ``RUN/trained`` (training finished) and ``RUN/done`` (report written) are markers written atomically; a
run with a ``report.json`` (written atomically by ``dancegen evaluate``) is skipped, one with ``trained`` only
re-evaluates, and an interrupted training continues with ``dancegen train --resume`` from its latest checkpoint
(or starts again when it was interrupted before its first checkpoint).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_json_atomic
from .grid import Combination, SweepSettings, evaluate_command, train_command

DONE, TRAINED = "done", "trained"


@dataclass
class RunState:
    """Live status of one run."""

    combo: Combination
    dir: Path
    status: str = "pending"  # pending, skipped (finished before), training, evaluating, done, failed
    train_seconds: float | None = None
    eval_seconds: float | None = None
    error: str = ""
    report: dict[str, Any] | None = field(default=None, repr=False)


def is_finished(run_dir: Path) -> bool:
    """True when ``RUN/report.json`` exists: ``dancegen evaluate`` writes it atomically as its last act, so it also
    marks runs whose commands were dispatched elsewhere (``RUN/done`` is then written when the sweep next sees it)."""
    return (run_dir / "report.json").is_file()


def _run(cmd: list[str], log: Path, threads: int) -> tuple[int, str]:
    """Run ``dancegen …`` with this interpreter and ``threads`` CPU threads; returns (exit code, last log line)."""
    argv = [sys.executable, "-m", "dancegen", *cmd[1:]]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with open(log, "w") as f:
        f.write(f"$ OMP_NUM_THREADS={threads} " + " ".join(cmd) + "\n")
        f.flush()
        proc = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, check=False, env=env)
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return proc.returncode, (lines[-1] if lines else "")


def run_one(state: RunState, s: SweepSettings, threads: int = 1) -> RunState:
    """Train (unless ``trained``) and evaluate one combination, writing the markers."""
    d = state.dir
    d.mkdir(parents=True, exist_ok=True)
    if not (d / TRAINED).is_file():
        state.status = "training"
        resume = (d / "train" / "latest").is_file()
        if not resume and (d / "train").exists():  # interrupted before its first checkpoint: nothing to resume
            shutil.rmtree(d / "train")
        t0 = time.perf_counter()
        code, last = _run(train_command(state.combo, s, d, resume=resume), d / "train.log", threads)
        state.train_seconds = time.perf_counter() - t0
        if code != 0:
            state.status, state.error = "failed", f"train exit {code}: {last}"
            return state
        write_json_atomic(d / TRAINED, {"seconds": state.train_seconds})
    state.status = "evaluating"
    t0 = time.perf_counter()
    code, last = _run(evaluate_command(state.combo, s, d), d / "eval.log", threads)
    state.eval_seconds = time.perf_counter() - t0
    if code != 0 or not (d / "report.json").is_file():
        state.status, state.error = "failed", f"evaluate exit {code}: {last}"
        return state
    state.report = json.loads((d / "report.json").read_text())
    write_json_atomic(d / DONE, {"combo": state.combo.to_dict(), "train_seconds": state.train_seconds,
                            "eval_seconds": state.eval_seconds})
    state.status = "done"
    return state


def run_sweep(combos: Sequence[Combination], s: SweepSettings, jobs: int = 1,
              on_update: Callable[[list[RunState]], None] | None = None) -> list[RunState]:
    """Run every unfinished combination (``jobs`` at a time); finished ones are loaded and marked ``skipped``."""
    s.out.mkdir(parents=True, exist_ok=True)
    states = [RunState(c, s.out / c.name) for c in combos]
    for st in states:
        if is_finished(st.dir):
            st.status = "skipped"
            st.report = json.loads((st.dir / "report.json").read_text())
            if not (st.dir / DONE).is_file():
                write_json_atomic(st.dir / DONE, {"combo": st.combo.to_dict(), "train_seconds": None,
                                             "eval_seconds": None, "note": "finished outside this sweep"})
            timing = json.loads((st.dir / DONE).read_text() or "{}")
            st.train_seconds, st.eval_seconds = timing.get("train_seconds"), timing.get("eval_seconds")
    todo = [st for st in states if st.status == "pending"]
    threads = s.threads or max(1, (os.cpu_count() or 1) // max(1, jobs))
    if on_update:
        on_update(states)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_one, st, s, threads) for st in todo]
        while any(not f.done() for f in futures):
            time.sleep(0.5)
            if on_update:
                on_update(states)
        for f in futures:
            f.result()
    if on_update:
        on_update(states)
    return states


def results_of(states: Sequence[RunState]) -> list[dict[str, Any]]:
    """``[{"combo", "report"}]`` of the runs that have a report (done or skipped)."""
    return [{"combo": st.combo.to_dict(), "report": st.report} for st in states if st.report is not None]
