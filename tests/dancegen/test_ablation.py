"""Ablation sweeps: the command grid, resume (finished runs skipped), summary tables with best-marking, a real tiny
end-to-end sweep and CLI errors; the paper-table presets (``--table III|IV``): rows, dry-run commands, substitutes,
the offline-weights check, the record of random weights and the table written from real reports."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dancegen.ablation import (
    Combination,
    SweepSettings,
    best_per_column,
    build_grid,
    check_weights,
    get_table,
    parse_substitutes,
    random_weight_components,
    results_of,
    run_sweep,
    select_rows,
    summary_rows,
    table_runs,
    table_summary,
    train_command,
    write_summary,
    write_table_summary,
)
from dancegen.errors import DancegenError


def _cli(*args: str, timeout: int = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dancegen", *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def _no_weights_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment with an empty weights cache and no weights or features named."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DANCEGEN_WAV2CLIP_WEIGHTS", "DANCEGEN_JUKEBOX_DIR")}
    env["DANCEGEN_CACHE"] = str(tmp_path / "empty_cache")
    return env


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
                "--eval-arg=--sets=3", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 8  # 4 runs × (train, evaluate)
    assert all(e.endswith("--json --sets=3") for e in lines[1::2])  # --eval-arg reaches every evaluate
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

    # Table IV's "Fixed weights" and "Nash-MTL" rows with Wav2CLIP swapped for STFT are exactly these two runs: the
    # table reuses their folders (nothing is retrained) and is written from their real reports
    proc = _cli("ablate", "--data", str(data), "--out", str(out), "--table", "IV", "--rows", "nash,fixed",
                "--substitute", "wav2clip=stft", "--steps", "2", "--preset", "tiny", "--eval-steps", "2", "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    table = json.loads(proc.stdout)
    assert [r["label"] for r in table["rows"]] == ["Fixed weights (EDGE)", "Nash-MTL (GCDance)"]  # the table's order
    assert table["metrics"][:7] == ["fid_k_hand", "fid_k_body", "div_k_hand", "div_k_body", "pfc", "pbc", "bas"]
    by_label = {r["label"]: r for r in table["rows"]}
    grid_rows = {r["aggregator"]: r for r in summary["rows"]}
    for label, agg in (("Fixed weights (EDGE)", "linear"), ("Nash-MTL (GCDance)", "nash")):
        row = by_label[label]
        assert row["runs"] == [f"{agg}__stft__text__s0"]
        assert row["fid_k_body"] == grid_rows[agg]["fid_k_body"]
        assert row["ran_with"] == ["substitute wav2clip→stft"]  # and no random weights: STFT has none
    assert by_label["Nash-MTL (GCDance)"]["published"][0]["values"]["fid_k_body"] == 22.90
    assert (out / "nash__stft__text__s0" / "report.json").stat().st_mtime_ns == before
    md = (out / "table_IV.md").read_text()
    assert "| Nash-MTL (GCDance) | stft | nash | text | 0 |" in md
    assert "| ↳ published [1] | | | | | 17.69 | 22.90 | 9.47 | 6.39 | 0.1300 | 4.71 | 0.2238 |" in md
    assert "arXiv 2502.18309" in md
    with open(out / "table_IV.csv") as f:
        kinds = [line["kind"] for line in csv.DictReader(f)]
    assert kinds == ["gt", "ours", "ours", "published"]


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


# -- paper tables ---------------------------------------------------------------------------------------------------

def test_table_presets() -> None:
    from dancegen.ablation.paper_tables import PAPER_COLUMNS, SOURCES
    from dancegen.features.registry import MUSIC_ENCODERS
    from dancegen.genre.registry import GENRE_CONTROLLERS
    from mtlkit._aggregator_plugins import AGGREGATORS

    t3, t4 = get_table("III"), get_table("iv")
    assert [(r.label, r.music_encoders) for r in t3.rows] == [
        ("CLAP", "clap"), ("Wav2Vec", "wav2vec2"), ("Jukebox", "jukebox"), ("Wav2CLIP", "wav2clip"), ("STFT", "stft"),
        ("MFCC", "mfcc"), ("35-D Feature Set", "baseline35"), ("Wav2CLIP+STFT (GCDance)", "wav2clip,stft")]
    assert {(r.aggregator, r.genre_controller) for r in t3.rows} == {("nash", "text")}  # only the music changes
    assert [(r.label, r.aggregator, r.genre_controller) for r in t4.rows] == [
        ("w/o genre control", "nash", "none"), ("w/o genre classification", "nash", "label"),
        ("Fixed weights (EDGE)", "linear", "text"), ("Aligned-MTL", "aligned", "text"),
        ("Nash-MTL (GCDance)", "nash", "text")]
    assert {r.music_encoders for r in t4.rows} == {"wav2clip,stft"}
    for t in (t3, t4):
        assert t.columns == PAPER_COLUMNS
        assert len({r.key for r in t.rows}) == len({r.label for r in t.rows}) == len(t.rows)
        for r in t.rows:
            assert set(r.music_encoders.split(",")) <= set(MUSIC_ENCODERS.names())
            assert r.genre_controller in GENRE_CONTROLLERS.names()
            assert r.aggregator in AGGREGATORS.names()
            for p in r.published:
                assert p.source in SOURCES
                assert set(p.values) <= set(PAPER_COLUMNS)
    # the full model's row of both tables is the same configuration, so the same runs
    assert t3.rows[-1].combination(0).name == t4.rows[-1].combination(0).name == "nash__wav2clip+stft__text__s0"
    assert t4.rows[-1].published[0].values["fid_k_hand"] == 17.69
    with pytest.raises(DancegenError, match="unknown table"):
        get_table("V")


def test_substitutes_and_shared_runs() -> None:
    rows = select_rows(get_table("III"), "wav2clip,STFT,wav2clip+stft", parse_substitutes(["wav2clip=stft"]))
    assert [(r.label, r.music_encoders, r.substituted) for r in rows] == [
        ("Wav2CLIP", "stft", ("wav2clip→stft",)), ("STFT", "stft", ()),
        ("Wav2CLIP+STFT (GCDance)", "stft", ("wav2clip→stft",))]  # duplicates dropped: stft once
    combos, runs = table_runs(rows, [0, 1])
    assert [c.name for c in combos] == ["nash__stft__text__s0", "nash__stft__text__s1"]  # three rows, two runs
    assert runs["wav2clip"] == runs["stft"] == ["nash__stft__text__s0", "nash__stft__text__s1"]
    extra = Combination("nash", "stft", "text", 0, ("update_every=2",), ("--tasks", "S,J,V,F"))
    assert extra.name == "nash__stft__text__opt-update.every=2-tasks-S.J.V.F__s0"
    settings = SweepSettings(data=Path("d"), out=Path("o"))
    cmd = train_command(extra, settings, Path("o") / extra.name)
    assert cmd[cmd.index("--aggregator-opt") + 1] == "update_every=2"
    assert cmd[-2:] == ["--tasks", "S,J,V,F"]
    for bad in (["wav2clip"], ["wav2clip=nope"], ["wav2clip=stft", "wav2clip=mfcc"], ["stft=wav2clip+mfcc"]):
        with pytest.raises(DancegenError, match="--substitute"):
            parse_substitutes(bad)
    with pytest.raises(DancegenError, match="table IV has no row 'nope'"):
        select_rows(get_table("IV"), "nash,nope")


def test_offline_weights_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in _no_weights_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("DANCEGEN_WAV2CLIP_WEIGHTS", raising=False)
    monkeypatch.delenv("DANCEGEN_JUKEBOX_DIR", raising=False)
    t3 = get_table("III")
    assert check_weights(select_rows(t3, "stft,mfcc,35d"), allow_random_weights=False) == []
    with pytest.raises(DancegenError, match="--allow-random-weights"):
        check_weights(select_rows(t3, "wav2clip+stft"), allow_random_weights=False)
    notes = check_weights(select_rows(t3, "wav2clip+stft"), allow_random_weights=True)
    assert len(notes) == 1
    assert notes[0].startswith("wav2clip:")
    assert "RANDOM" in notes[0]
    with pytest.raises(DancegenError, match="--substitute jukebox="):  # no random mode: features are read from disk
        check_weights(select_rows(t3, "jukebox"), allow_random_weights=True)
    assert check_weights(select_rows(t3, "jukebox", {"jukebox": "baseline35"}), allow_random_weights=False) == []
    feats = tmp_path / "juke"
    feats.mkdir()
    monkeypatch.setenv("DANCEGEN_JUKEBOX_DIR", str(feats))
    assert check_weights(select_rows(t3, "jukebox"), allow_random_weights=False) == []


def test_random_weights_are_recorded(tmp_path: Path) -> None:
    """A run whose checkpoint says an encoder had random weights is marked; one with real/no weights is not."""
    import torch

    from dancegen.checkpoint.files import write_folder
    from dancegen.features import build_music_encoder

    for name, spec, opts in (("random", "wav2clip,stft", {"allow_random_weights": True}), ("plain", "stft", {})):
        enc = build_music_encoder(spec, **opts)
        write_folder(tmp_path / name / "train" / "checkpoints" / "step_0000001", 1,
                     {"music_encoder": {"spec": spec, "config": enc.config()}, "genre_controller": {"config": {}}},
                     {"model": {"w": torch.zeros(1)}})
    assert random_weight_components(tmp_path / "random") == ["music encoder wav2clip"]
    assert random_weight_components(tmp_path / "plain") == []
    assert random_weight_components(tmp_path / "missing") is None


def test_table_summary_from_reports(tmp_path: Path) -> None:
    """Rows in the table's order with the paper's columns first, mean ± std over seeds, a report without std,
    unfinished seeds, shared runs and random weights all stated, published values next to ours."""
    table = get_table("IV")
    rows = select_rows(table, "fixed,nash")
    _, runs = table_runs(rows, [0, 1])
    metrics = {"fid_k_body": 3.0, "bas": 0.2, "genre_acc": 0.5, "fid_k_hand": 2.0}
    reports = {
        "nash__wav2clip+stft__text__s0": _report(metrics),
        "nash__wav2clip+stft__text__s1": _report({**metrics, "fid_k_body": 5.0}),
        "linear__wav2clip+stft__text__s0": _report({**metrics, "fid_k_body": 1.0}),
    }
    del reports["linear__wav2clip+stft__text__s0"]["generated"]["metrics"]["bas"]["std"]  # a report without std
    random = {"nash__wav2clip+stft__text__s0": ["music encoder wav2clip"], "nash__wav2clip+stft__text__s1": [],
              "linear__wav2clip+stft__text__s0": None}
    content = table_summary(table, rows, runs, reports, random)
    assert content["metrics"] == ["fid_k_hand", "fid_k_body", "bas", "genre_acc"]
    fixed, nash = content["rows"]
    assert (fixed["label"], fixed["seeds"], fixed["fid_k_body"], fixed["bas_std"]) == ("Fixed weights (EDGE)", [0],
                                                                                       1.0, None)
    assert fixed["ran_with"] == ["weights unknown (no checkpoint)", "seeds not finished: 1"]
    assert (nash["fid_k_body"], nash["fid_k_body_std"]) == (4.0, pytest.approx(1.4142135, rel=1e-6))
    assert nash["ran_with"] == ["RANDOM weights: music encoder wav2clip"]
    assert content["best"]["fid_k_body"] == ["Fixed weights (EDGE)"]
    paths = write_table_summary(tmp_path, content)
    assert [p.name for p in paths] == ["table_IV.md", "table_IV.csv", "table_IV.json"]
    md = paths[0].read_text()
    assert md.startswith("# Table IV: genre classification module and multi-task strategy")
    assert "| Fixed weights (EDGE) | wav2clip+stft | linear | text | 0 | **2.00 ± 0.50** | **1.00 ± 0.50** | " in md
    assert "| Nash-MTL (GCDance) | wav2clip+stft | nash | text | 0,1 | **2.00 ± 0.00** | 4.00 ± 1.41 | " in md
    assert "| ↳ published [1] | | | | | 17.69 | 22.90 | 0.2238 |  | |" in md  # no published genre accuracy
    assert "[1] GCDance (Liu et al., arXiv 2502.18309), Table I" in md
    assert json.loads(paths[2].read_text())["rows"][1]["published"][0]["source"] == "gcdance-table-1"


def test_table_dry_run(tmp_path: Path) -> None:
    proc = _cli("ablate", "--data", str(tmp_path), "--out", str(tmp_path / "t"), "--table", "III", "--seeds", "0,1",
                "--substitute", "jukebox=baseline35", "--steps", "7", "--preset", "tiny", "--dry-run",
                env=_no_weights_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "warning: on this machine: row 'CLAP' needs clap weights" in proc.stderr  # dry runs only warn
    lines = proc.stdout.strip().splitlines()
    titles = [ln for ln in lines if ln.startswith("# Table III row")]
    assert titles[2] == "# Table III row 'Jukebox' (jukebox→baseline35)"
    assert len(titles) == 8
    trains = [ln for ln in lines if ln.startswith("dancegen train ")]
    evals = [ln for ln in lines if ln.startswith("dancegen evaluate ")]
    assert len(trains) == len(evals) == 2 * 7  # 8 rows, Jukebox→35-D shares the 35-D row's runs, × 2 seeds
    assert lines.count("# same run as above: nash__baseline35__text__s0") == 1
    assert [t.split("--music-encoders ")[1].split()[0] for t in trains[::2]] == [
        "clap", "wav2vec2", "baseline35", "wav2clip", "stft", "mfcc", "wav2clip,stft"]
    assert all("--aggregator nash" in t and "--genre-controller text" in t and "--steps 7" in t for t in trains)
    assert all("--protocol gcdance" in e for e in evals)
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--table", "III", "--aggregators", "nash", "--genre-controller", "none"],
         "cannot be combined with --aggregators, --genre-controller"),
        (["--rows", "nash"], "--rows: only with --table"),
        (["--table", "V"], "unknown table 'V'"),
        (["--table", "IV"], "needs wav2clip weights"),  # no --dry-run below: this check precedes any work
    ],
)
def test_table_cli_errors(tmp_path: Path, args: list[str], message: str) -> None:
    proc = _cli("ablate", "--data", str(tmp_path), "--out", str(tmp_path / "s"), *args, env=_no_weights_env(tmp_path))
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:")
    assert message in lines[0]
    assert not (tmp_path / "s").exists()
