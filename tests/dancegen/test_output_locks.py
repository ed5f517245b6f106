"""Output folders: one run at a time (an OS lock naming its holder), stale locks taken over, clean-up after
``kill -9``, whole-folder replacement of generate's outputs and umask file modes — with real ``dancegen``
subprocesses and real signals on a tiny procedural data set (helpers as in test_train.py / test_generate_cli.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dancegen.errors import DancegenError
from dancegen.locking import Holder, lock_path, output_lock
from dancegen.output_folder import check_replaceable, staged_output

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TRAIN = ("--music-encoders", "stft", "--genre-controller", "label", "--controller-opt", "embedding=onehot",
         "--tasks", "S,J,V,F", "--preset", "tiny", "--batch-size", "2", "--log-every", "1", "--no-progress",
         "--aggregator", "linear")


def _umask_022() -> None:
    os.umask(0o022)
    # Ctrl-C must reach the child as in a terminal: a pytest-xdist worker may run with SIGINT ignored, which a child
    # inherits (and Python then installs no KeyboardInterrupt handler), so the run would ignore the test's SIGINT.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def dancegen(*args: str | Path, wait: bool = True) -> subprocess.Popen[str] | subprocess.CompletedProcess[str]:
    """``python -m dancegen ARGS`` under umask 022: finished (``wait``) or running."""
    argv = [sys.executable, "-m", "dancegen", *map(str, args)]
    if wait:
        return subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=180, preexec_fn=_umask_022)
    return subprocess.Popen(argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_umask_022)


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}: {proc.stderr.read() if proc.stderr else ''}"
        assert time.time() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)


def holder_pid(target: Path) -> int | None:
    try:
        holder = Holder.parse(lock_path(target).read_text())
    except FileNotFoundError:
        return None
    return None if holder is None else holder.pid


def the_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The one ``error:`` line of a run that exited 2."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def modes(folder: Path) -> dict[str, int]:
    """Permission bits of ``folder`` and everything in it, by relative path."""
    return {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode) for p in [folder, *folder.rglob("*")]}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dancegen.data.synth.writer import build

    root = tmp_path_factory.mktemp("locks") / "synth"
    build(root, songs_per_genre=1, seconds=5.0, genres=["Breaking", "Jazz"])
    return root


@pytest.fixture(scope="module")
def checkpoint(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run folder of a 1-step tiny training run (for generate)."""
    from dancegen.train import TrainConfig, Trainer

    out = tmp_path_factory.mktemp("ckpt") / "run"
    Trainer(TrainConfig.from_dict({
        "data": str(data), "out": str(out), "music_encoders": "stft", "genre_controller": "label",
        "controller_options": {"embedding": "onehot"}, "tasks": ["S", "J", "V", "F"], "preset": "tiny",
        "batch_size": 2, "steps": 1, "progress": False, "tensorboard": False, "checkpoint_every": 1000,
        "aggregator": "linear"})).fit()
    return out


def test_lock_is_released_on_exceptions_and_refuses_a_second_holder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    def fail_while_locked() -> None:
        with output_lock(target) as lock:
            assert Holder.parse(lock.read_text()).pid == os.getpid()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_while_locked()
    assert not lock_path(target).exists()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from dancegen.locking import output_lock\n"
                               f"with output_lock({str(target)!r}):\n print('locked', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DancegenError, match=rf"--out {target} is in use .*pid {holder.pid} on "
                                                rf"{socket.gethostname()}, started .*: "), output_lock(target):
            pass
    finally:
        holder.kill()
        holder.wait()
    with output_lock(target):  # the OS dropped the killed holder's lock
        pass


def test_foreign_files_are_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "variation_0").mkdir(parents=True)
    for name in ("generation.json", "variation_0/motion.npz", "variation_0/.dance.k3j9x_2a.html"):
        (out / name).write_text("x")
    check_replaceable(out)
    (out / "variation_0" / "mine.txt").write_text("keep me")
    with pytest.raises(DancegenError, match=r"holds files dancegen did not write \(variation_0/mine.txt\)"), \
            staged_output(out) as stage:
        (stage / "motion.npz").write_text("new")
    assert (out / "variation_0" / "mine.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the staged folder was removed


def test_train_refused_while_held_then_killed_run_restarts_fresh(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = dancegen("train", "--data", data, "--out", out, *TRAIN, "--steps", "1000", "--checkpoint-every",
                     "1000", wait=False)
    try:
        wait_for(lambda: (out / "metrics.jsonl").is_file() and holder_pid(out) == first.pid, first,
                 "the first logged step")
        second = dancegen("train", "--data", data, "--out", out, *TRAIN, "--steps", "1")
        error = the_error(second)
        assert f"--out {out} is in use by another dancegen run (pid {first.pid} on {socket.gethostname()}" in error
        assert "dancegen train --data" in error
    finally:
        first.send_signal(signal.SIGKILL)  # killed before its first checkpoint, lock file left behind
        first.wait()
    assert holder_pid(out) == first.pid
    assert not (out / "latest").exists()
    fresh = dancegen("train", "--data", data, "--out", out, *TRAIN, "--steps", "2", "--checkpoint-every", "1")
    assert fresh.returncode == 0, fresh.stderr
    assert f"taking over the lock left by a run that ended without releasing it (pid {first.pid}" in fresh.stderr
    assert "holds no checkpoint (its run stopped before the first one): starting it afresh" in fresh.stderr
    assert not lock_path(out).exists()
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]
    got = modes(out)
    assert {"latest", "metrics.jsonl", "checkpoints/step_0000002/model.safetensors",
            "checkpoints/step_0000002/config.json"} <= got.keys()
    assert {p: m for p, m in got.items() if m != (0o755 if (out / p).is_dir() else 0o644)} == {}


@pytest.mark.slow
def test_kill_during_a_checkpoint_write_is_cleaned_on_resume(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run = dancegen("train", "--data", data, "--out", out, *TRAIN, "--steps", "1000", "--checkpoint-every", "1",
                   wait=False)

    def temp_steps() -> list[str]:
        root = out / "checkpoints"
        return [p.name for p in root.iterdir() if p.name.startswith(".step_")] if root.is_dir() else []

    try:
        wait_for(lambda: (out / "latest").is_file(), run, "the first checkpoint")
        deadline = time.time() + 60
        while True:  # stop the process while a checkpoint is half-written, then kill it there
            wait_for(lambda: bool(temp_steps()), run, "a checkpoint write", timeout=deadline - time.time())
            run.send_signal(signal.SIGSTOP)
            if temp_steps():
                break
            run.send_signal(signal.SIGCONT)
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    assert temp_steps()
    step = int((out / "latest").read_text().strip().rsplit("_", 1)[1])
    resumed = dancegen("train", "--data", data, "--out", out, *TRAIN, "--steps", str(step + 1), "--checkpoint-every",
                       "1", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert temp_steps() == []
    assert (out / "latest").read_text().strip() == f"checkpoints/step_{step + 1:07d}"
    assert not lock_path(out).exists()


def test_generate_refused_while_held_and_released_on_ctrl_c(checkpoint: Path, tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    # a 3-minute song: the run is still sampling when Ctrl-C comes, however slowly this test gets scheduled
    # (with a data set's few-second clip a loaded machine once let the run finish first: exit 0)
    wav = tmp_path / "song.wav"
    t = np.arange(180 * 22050) / 22050
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32), 22050)
    out = tmp_path / "gen"
    args = ("generate", wav, "--genre", "Jazz", "--checkpoint", checkpoint, "--out", out, "--no-progress", "--json")
    first = dancegen(*args, "--steps", "1000", wait=False)
    try:
        wait_for(lambda: holder_pid(out) == first.pid, first, "the lock")
        first.send_signal(signal.SIGSTOP)  # holds the lock and cannot finish meanwhile
        error = the_error(dancegen(*args, "--steps", "1"))
        assert f"--out {out} is in use by another dancegen run (pid {first.pid} on {socket.gethostname()}" in error
        assert "dancegen generate" in error
    finally:
        first.send_signal(signal.SIGCONT)
    first.send_signal(signal.SIGINT)  # Ctrl-C on the running process (a signal left pending across SIGSTOP/SIGCONT
    # was once not seen: the run finished with exit 0)
    assert first.wait(timeout=60) == 130  # Typer's exit code for Ctrl-C
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav"]  # no lock, no output, no temporary folder


def test_generate_replaces_the_folder_whole_with_umask_modes(checkpoint: Path, data: Path, tmp_path: Path) -> None:
    wav = sorted((data / "music_wav").glob("*.wav"))[0]
    out = tmp_path / "gen"
    args = ("generate", wav, "--genre", "Jazz", "--checkpoint", checkpoint, "--out", out, "--steps", "1",
            "--no-progress", "--json")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = Holder(int(dead.stdout), socket.gethostname(), "2020-01-01 00:00:00 UTC", "dancegen generate old")
    lock_path(out).write_text(stale.to_json())
    (tmp_path / ".gen.tmp-k3j9x_2a").mkdir()  # what a generate killed while writing leaves
    full = dancegen(*args, "--format", "npz,bvh,html")
    assert full.returncode == 0, full.stderr
    assert f"taking over the lock left by a run that ended without releasing it (pid {stale.pid}" in full.stderr
    assert modes(out) == {".": 0o755, "dance.html": 0o644, "dance.bvh": 0o644, "motion.npz": 0o644,
                          "generation.json": 0o644}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen"]
    fewer = dancegen(*args, "--format", "npz")
    assert fewer.returncode == 0, fewer.stderr
    assert sorted(p.name for p in out.iterdir()) == ["generation.json", "motion.npz"]
    assert json.loads((out / "generation.json").read_text())["files"] == {"0": {"npz": str(out / "motion.npz")}}
    (out / "notes.txt").write_text("mine")
    error = the_error(dancegen(*args, "--format", "npz"))
    assert f"--out {out} holds files dancegen did not write (notes.txt)" in error
    assert sorted(p.name for p in out.iterdir()) == ["generation.json", "motion.npz", "notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen"]
