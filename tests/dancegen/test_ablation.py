"""Ablation sweeps: the command grid, resume (finished runs skipped), summary tables with best-marking, a real tiny
end-to-end sweep and CLI errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dancegen.ablation import (
    SweepSettings,
    best_per_column,
    build_grid,
    results_of,
    run_sweep,
    summary_rows,
    write_summary,
)
from dancegen.errors import DancegenError


def _cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dancegen", *args], capture_output=True, text=True, timeout=timeout)


def _report(values: dict[str, float], gt: dict[str, float] | None = None, protocol: str = "gcdance") -> dict:
    metrics = list(values)
    return {
        "protocol": {"name": protocol, "metrics": metrics},
        "generated": {"metrics": {k: {"mean": v, "std": 0.5, "n": 1, "values": [v]} for k, v in values.items()}},
        "gt_row": {"metrics": gt or dict.fromkeys(metrics, 1.0)},
    }


def _result(agg: str, enc: str, values: dict[str, float], seed: int = 0, **kw: object) -> dict:
    combo = {"aggregator": agg, "music_encoders": enc, "genre_controller": "text", "seed": seed}
    return {"combo": combo, "report": _report(values, **kw)}


def test_grid_and_none_controller() -> None:
    grid = build_grid("nash,linear", "wav2clip+stft;stft", "text,none", "0,1")
    assert len(grid) == 2 * 2 * 2 * 2
    assert grid[0].music_encoders == "wav2clip,stft"
    assert grid[0].name == "nash__wav2clip+stft__text__s0"
    for bad in (("nash,nash", "stft", "text", "0"), ("nash", "stft", "clip", "0"), ("nash", "stft", "text", "a")):
        with pytest.raises(DancegenError):
            build_grid(*bad)


def test_dry_run_2x2(tmp_path: Path) -> None:
    proc = _cli("ablate", "--data", str(tmp_path), "--out", str(tmp_path / "sweep"), "--aggregators", "nash,linear",
                "--music-encoders", "stft;mfcc", "--genre-controller", "none", "--steps", "7", "--preset", "tiny",
                "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 8  # 4 runs × (train, evaluate)
    trains, evals = lines[0::2], lines[1::2]
    assert all(t.startswith("dancegen train ") for t in trains)
    assert all(e.startswith("dancegen evaluate ") for e in evals)
    assert [t.split("--aggregator ")[1].split()[0] for t in trains] == ["nash", "nash", "linear", "linear"]
    assert [t.split("--music-encoders ")[1].split()[0] for t in trains] == ["stft", "mfcc", "stft", "mfcc"]
    assert all("--genre-controller none" in t and "--tasks" not in t and "--steps 7" in t for t in trains)
    assert f"--out {tmp_path / 'sweep' / 'nash__stft__none__s0' / 'report.json'}" in evals[0]
    assert not (tmp_path / "sweep").exists()  # a dry run writes nothing


def test_resume_skips_finished_runs(tmp_path: Path) -> None:
    grid = build_grid("nash,linear", "stft", "text", "0")
    settings = SweepSettings(data=tmp_path, out=tmp_path / "sweep", steps=1, preset="tiny")
    for combo, fid in zip(grid, (3.0, 2.0)):
        run = settings.out / combo.name
        run.mkdir(parents=True)
        (run / "report.json").write_text(json.dumps(_report({"fid_k_body": fid})))
    # the first run was finished by this sweep, the second by a dispatched `dancegen evaluate` (no done marker)
    (settings.out / grid[0].name / "done").write_text(json.dumps({"train_seconds": 1.0, "eval_seconds": 2.0}))
    states = run_sweep(grid, settings)  # nothing to train: the data folder is not even a data set
    assert [s.status for s in states] == ["skipped", "skipped"]
    assert [s.report["generated"]["metrics"]["fid_k_body"]["mean"] for s in states] == [3.0, 2.0]
    assert states[0].train_seconds == 1.0
    assert (settings.out / grid[1].name / "done").is_file()  # written when the sweep saw the finished run
    dry = _cli("ablate", "--data", str(tmp_path), "--out", str(settings.out), "--aggregators", "nash,linear",
               "--music-encoders", "stft", "--dry-run")
    assert dry.stdout.count("# finished, skipped: dancegen") == 4


def test_summary_best_marking(tmp_path: Path) -> None:
    gt = {"fid_k_body": 0.0, "div_k_body": 5.0, "bas": 0.3, "pbc": 2.0, "genre_acc": 1.0}
    results = [
        _result("nash", "stft", {"fid_k_body": 10.0, "div_k_body": 9.0, "bas": 0.20, "pbc": -1.0, "genre_acc": 0.5},
                gt=gt),
        _result("nash", "stft", {"fid_k_body": 14.0, "div_k_body": 7.0, "bas": 0.22, "pbc": -3.0, "genre_acc": 0.7},
                seed=1, gt=gt),
        _result("linear", "stft", {"fid_k_body": 20.0, "div_k_body": 5.5, "bas": 0.25, "pbc": 2.5, "genre_acc": 0.55},
                gt=gt),
    ]
    rows, metrics = summary_rows(results)
    assert len(rows) == 2
    assert rows[0]["seeds"] == [0, 1]
    assert rows[0]["fid_k_body"] == 12.0
    assert rows[0]["fid_k_body_std"] == pytest.approx(2.8284271, rel=1e-6)
    assert rows[1]["fid_k_body_std"] == 0.5  # one seed: the run's std over repeats
    best = best_per_column(rows, metrics, gt)
    assert best == {"fid_k_body": [0], "div_k_body": [0], "bas": [1], "pbc": [1], "genre_acc": [0]}
    assert best_per_column(rows, metrics, gt, div="closest")["div_k_body"] == [1]
    content = write_summary(tmp_path, results)
    md = (tmp_path / "summary.md").read_text()
    assert "| nash | stft | text | 0,1 | **12.00 ± 2.83** |" in md
    assert "| GT |" in md
    with open(tmp_path / "summary.csv") as f:
        table = list(csv.DictReader(f))
    assert table[0]["best"] == "fid_k_body div_k_body genre_acc"
    assert table[1]["best"] == "bas pbc"
    assert content["best"]["bas"] == ["linear/stft/text"]
    assert json.loads((tmp_path / "summary.json").read_text())["better"]["fid_k_body"] == "lower"


def test_end_to_end_tiny_sweep(tmp_path: Path) -> None:
    from dancegen.data.synth import build

    data = tmp_path / "data"
    build(data, songs_per_genre=1, seconds=6, genres=["Breaking", "Jazz"])
    out = tmp_path / "sweep"
    args = ["ablate", "--data", str(data), "--out", str(out), "--aggregators", "nash,linear", "--music-encoders",
            "stft", "--steps", "2", "--preset", "tiny", "--batch-size", "4", "--eval-steps", "2", "--threads", "1",
            "--jobs", "2", "--json"]  # both runs at once: they share the feature cache and the genre classifier
    proc = _cli(*args)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    summary = json.loads(proc.stdout)
    assert [r["aggregator"] for r in summary["rows"]] == ["nash", "linear"]
    for row in summary["rows"]:
        assert row["fid_k_body"] is not None
        assert row["fid_k_body"] >= 0
    for name in ("nash__stft__text__s0", "linear__stft__text__s0"):
        run = out / name
        assert (run / "done").is_file()
        assert (run / "trained").is_file()
        assert (run / "train" / "latest").is_file()
        report = json.loads((run / "report.json").read_text())
        assert report["generated"]["source"]["kind"] == "checkpoint"
        assert report["generated"]["clips"] == 4
    for suffix in ("md", "csv", "json"):
        assert (out / f"summary.{suffix}").is_file()
    before = (out / "nash__stft__text__s0" / "report.json").stat().st_mtime_ns
    # resuming: both runs are finished, so nothing is retrained or re-evaluated
    settings = SweepSettings(data=data, out=out, steps=2, preset="tiny")
    states = run_sweep(build_grid("nash,linear", "stft", "text", "0"), settings)
    assert [s.status for s in states] == ["skipped", "skipped"]
    assert (out / "nash__stft__text__s0" / "report.json").stat().st_mtime_ns == before
    assert summary_rows(results_of(states))[0] == summary["rows"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "x"], "--seeds must be comma-separated integers"),
        (["--genre-controller", "clip"], "unknown controller"),
        (["--protocol", "nope"], "unknown evaluation protocol"),
        (["--jobs", "0"], "--jobs must be >= 1"),
        (["--data", "/nonexistent/x"], "--data directory not found"),
    ],
)
def test_cli_errors(tmp_path: Path, args: list[str], message: str) -> None:
    base = [] if "--data" in args else ["--data", str(tmp_path)]
    proc = _cli("ablate", *base, "--out", str(tmp_path / "s"), *args, "--dry-run")
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:"), proc.stderr
    assert message in lines[0], proc.stderr


def test_run_interrupted_before_its_first_checkpoint_starts_again(tmp_path: Path) -> None:
    """A sweep killed while a run had logged steps but saved no checkpoint: the next sweep retrains that run
    (``dancegen train`` refuses a non-empty --out without --resume, and there is nothing to resume)."""
    from dancegen.ablation import RunState, run_one
    from dancegen.data.synth import build

    data = tmp_path / "data"
    build(data, songs_per_genre=1, seconds=6, genres=["Breaking", "Jazz"])
    settings = SweepSettings(data=data, out=tmp_path / "sweep", steps=2, preset="tiny", batch_size=4, eval_steps=2)
    combo = build_grid("linear", "stft", "none", "0")[0]
    run_dir = settings.out / combo.name
    (run_dir / "train").mkdir(parents=True)
    (run_dir / "train" / "metrics.jsonl").write_text('{"step": 1}\n')  # what an interrupted run leaves
    state = run_one(RunState(combo, run_dir), settings, threads=1)
    assert state.status == "done", state.error
    assert (run_dir / "train" / "latest").is_file()
    lines = [json.loads(x) for x in (run_dir / "train" / "metrics.jsonl").read_text().splitlines()]
    assert all("losses" in x for x in lines)  # the stale line is gone with the interrupted run
