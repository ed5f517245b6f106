"""``dancegen generate`` / ``dancegen edit`` run as real subprocesses on a checkpoint trained for one step here,
and ``DancePipeline.from_checkpoint``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dancegen.constraints import Constraint
from dancegen.errors import DancegenError

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run folder of a 1-step tiny training run, a 5-s song of its data set)."""
    from dancegen.data.synth.writer import build
    from dancegen.train import TrainConfig, Trainer

    root = tmp_path_factory.mktemp("gen")
    build(root / "synth", songs_per_genre=1, seconds=5.0, genres=["Breaking", "Jazz"])
    cfg = TrainConfig.from_dict({
        "data": str(root / "synth"), "out": str(root / "run"), "music_encoders": "stft", "genre_controller": "label",
        "controller_options": {"embedding": "onehot"}, "tasks": ["S", "J", "V", "F"], "preset": "tiny",
        "batch_size": 2, "steps": 1, "progress": False, "tensorboard": False, "log_every": 1,
        "checkpoint_every": 1000, "aggregator": "linear"})
    Trainer(cfg).fit()
    return root / "run", sorted((root / "synth" / "music_wav").glob("*.wav"))[0]


def dancegen(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dancegen", *map(str, args)], env=ENV, capture_output=True,
                          text=True, timeout=120)


def test_from_checkpoint_generates(run: tuple[Path, Path]) -> None:
    from dancegen.features.audio import load_audio
    from dancegen.pipeline import DancePipeline

    pipe = DancePipeline.from_checkpoint(run[0])
    audio, sr = load_audio(run[1])
    res = pipe(audio, sr, genre="Jazz", steps=2)
    assert res.motion.shape == (1, 150, 319)
    assert torch.isfinite(res.motion).all()
    assert pipe.checkpoint_id
    assert pipe.checkpoint_id.startswith("step_0000001")
    assert DancePipeline.from_checkpoint(None).checkpoint_id  # None: the bundled demo model
    with pytest.raises(DancegenError, match="neither a checkpoint"):
        DancePipeline.from_checkpoint(run[1].parent)


def test_generate_then_edit(run: tuple[Path, Path], tmp_path: Path) -> None:
    ckpt, wav = run
    gen = dancegen("generate", wav, "--genre", "Jazz", "--checkpoint", ckpt, "--out", tmp_path / "gen", "--steps",
                   "2", "--variations", "2", "--format", "npz,bvh", "--json", "--no-progress")
    assert gen.returncode == 0, gen.stderr
    summary = json.loads(gen.stdout)
    assert summary["frames"] == 150
    assert summary["genre"]["genre"] == "Jazz"
    assert summary["variations"] == 2
    for v in ("0", "1"):
        assert {Path(p).name for p in summary["files"][v].values()} == {"motion.npz", "dance.bvh"}
        assert all(Path(p).is_file() for p in summary["files"][v].values())
    assert json.loads((tmp_path / "gen" / "generation.json").read_text())["frames"] == 150
    from dancegen.export import load_npz
    from dancegen.motion import Skeleton, forward_kinematics
    from dancegen.motion.floor import FLOOR_CLEARANCE

    feet = forward_kinematics(torch.from_numpy(load_npz(summary["files"]["0"]["npz"])[0]), Skeleton.default())
    assert float(feet[:, [7, 8, 10, 11], 1].min()) >= FLOOR_CLEARANCE - 1e-3  # no foot joint below the floor
    assert (summary["settings"]["longform"], summary["settings"]["cleanup"]) == ("blend", "feet")
    assert len(summary["quality"]) == 2
    for q in summary["quality"]:
        assert {"seam_ratio", "height_drift_m", "floor_deviation_m", "contact_skating_mps", "penetration_max_m",
                "joint_speed_mps"} <= set(q)

    ref, _ = load_npz(summary["files"]["0"]["npz"])
    edit = dancegen("edit", summary["files"]["0"]["npz"], wav, "--keep", "upper", "--keyframes", "0,60,149",
                    "--text", "Tai", "--checkpoint", ckpt, "--out", tmp_path / "edit", "--steps", "2", "--format",
                    "npz", "--seed", "3")
    assert edit.returncode == 0, edit.stderr
    assert "genre" in edit.stdout
    assert "Dai" in edit.stdout
    out, meta = load_npz(tmp_path / "edit" / "motion.npz")
    assert meta["genre"] == "Dai"
    mask = (Constraint.keep("upper").mask(150) | Constraint.keyframes([0, 60, 149]).mask(150)).numpy()
    assert np.array_equal(out[mask], ref[mask])
    assert np.abs(out[~mask] - ref[~mask]).mean() > 1e-3


@pytest.mark.parametrize(("args", "message"), [
    (("generate", "{wav}", "--genre", "Jazz", "--checkpoint", "{wav}.missing"), "does not exist"),
    (("generate", "{wav}", "--checkpoint", "{ckpt}"), "--text"),
    (("edit", "{wav}.npy", "{wav}", "--keep", "body", "--genre", "Jazz", "--checkpoint", "{ckpt}"), "not found"),
    (("generate", "{wav}", "--genre", "Jazz", "--checkpoint", "{ckpt}", "--format", "gif"), "unknown export format"),
    (("generate", "{wav}", "--genre", "Jazz", "--checkpoint", "{ckpt}", "--longform", "splice"), "--longform"),
    (("generate", "{wav}", "--genre", "Jazz", "--checkpoint", "{ckpt}", "--cleanup", "all"), "--cleanup"),
    (("generate", "{wav}", "--genre", "Jazz", "--checkpoint", "{ckpt}", "--precision", "bf16", "--device", "cpu"),
     "--precision bf16 needs a CUDA device"),
    (("generate", "{wav}", "--genre", "Jazz", "--checkpoint", "{ckpt}", "--precision", "fp8"), "--precision"),
])
def test_cli_errors_exit_2_with_one_line(run: tuple[Path, Path], args: tuple[str, ...], message: str) -> None:
    ckpt, wav = run
    proc = dancegen(*(a.format(wav=wav, ckpt=ckpt) for a in args))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in proc.stderr


def test_prompt_naming_no_genre_is_reported_with_the_closest_three(run: tuple[Path, Path], tmp_path: Path) -> None:
    """The bundled model's text controller maps "ballet" to some genre; the summary says no genre was named."""
    proc = dancegen("generate", run[1], "--text", "elegant ballet", "--out", tmp_path / "ballet", "--steps", "1",
                    "--format", "npz", "--no-progress", "--json")
    assert proc.returncode == 0, proc.stderr
    genre = json.loads(proc.stdout)["genre"]
    assert genre["source"] == "classifier"
    top3 = ", ".join(f"{t['genre']} {t['probability']:.2f}" for t in genre["top3"])
    assert genre["note"] == f"the prompt names none of the 16 genres; closest: {top3}"
    assert json.loads((tmp_path / "ballet" / "generation.json").read_text())["genre"]["note"] == genre["note"]
