"""Named training recipes (``dancegen train --recipe paper|edge|fast``), their precedence below ``--config`` and
flags, EMA warm-up, dancegen's bounded Nash default, one backward for ``linear``, and ``--allow-random-weights`` with
an encoder that has no weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import torch

from dancegen.checkpoint.files import latest_checkpoint, read_config
from dancegen.errors import DancegenError
from dancegen.losses import EDGE_WEIGHTS
from dancegen.train import TrainConfig, Trainer
from dancegen.train.config import NASH_MIN_NORM_RATIO, RECIPES, recipe_settings

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


from test_train import make_cfg, tiny_data  # the training tests' tiny data set and run settings  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tiny_data(tmp_path_factory, "recipes")


def tiny_args(data: Path, out: Path, *extra: str) -> list[str]:
    """Flags that turn any recipe into a seconds-long CPU run (the recipe's other settings stay)."""
    return [sys.executable, "-m", "dancegen", "train", "--data", str(data), "--out", str(out), "--music-encoders",
            "stft", "--genre-controller", "label", "--controller-opt", "embedding=onehot", "--tasks", "S,J,V,F",
            "--preset", "tiny", "--batch-size", "2", "--steps", "1", "--log-every", "1", "--device", "cpu",
            "--no-progress", *extra]


# -- the recipes -----------------------------------------------------------------------------------------------------


def test_every_shipped_recipe_is_listed_loads_and_validates():
    files = sorted(p.name[:-5] for p in (resources.files("dancegen.train") / "recipes").iterdir()
                   if p.name.endswith(".toml"))
    assert files == sorted(RECIPES)
    for name in RECIPES:
        cfg = TrainConfig.from_recipe(name, data="d", out="o").validate()
        assert cfg.recipe == name
        text = (resources.files("dancegen.train") / "recipes" / f"{name}.toml").read_text()
        assert text.startswith("# dancegen train --recipe " + name)


def test_paper_recipe_is_the_official_setup():
    cfg = TrainConfig.from_recipe("paper", data="d", out="o")
    assert (cfg.preset, cfg.music_encoders, cfg.genre_controller) == ("paper", "wav2clip,stft", "text")
    assert cfg.controller_options == {"text_encoder": "clip"}  # the paper's C_E
    assert cfg.encoder_options == {"mode": "real"}  # the code's STFT quirk, by its named option
    assert (cfg.aggregator, cfg.batch_size, cfg.lr, cfg.weight_decay) == ("nash", 128, 2e-4, 0.02)
    assert (cfg.lr_schedule, cfg.warmup, cfg.ema_decay, cfg.ema_warmup) == ("constant", 0, 0.9999, False)
    assert cfg.tasks == ["S", "J", "V", "F", "C"]
    assert cfg.aggregator_kwargs()["min_norm_ratio"] == 1e-3  # mtlkit's NashMTL default: the paper's method
    text = (resources.files("dancegen.train") / "recipes" / "paper.toml").read_text()
    for not_reproduced in ("Adan", "steps", "normalisation"):
        assert not_reproduced in text


def test_edge_recipe_is_paper_with_edge_weights():
    paper, edge = recipe_settings("paper"), recipe_settings("edge")
    differ = {k for k in paper.keys() | edge.keys() if paper.get(k) != edge.get(k)}
    assert differ == {"aggregator", "aggregator_options", "recipe"}
    cfg = TrainConfig.from_recipe("edge", data="d", out="o")
    assert cfg.aggregator_kwargs()["weights"] == [EDGE_WEIGHTS[t] for t in "SJVF"] + [1.0]


def test_fast_recipe_is_bounded_nash_in_representation_space():
    cfg = TrainConfig.from_recipe("fast", data="d", out="o")
    assert (cfg.preset, cfg.shared, cfg.precision, cfg.lr_schedule) == ("small", "representation", "bf16", "cosine")
    assert cfg.warmup > 0
    assert cfg.ema_warmup
    assert cfg.aggregator_kwargs()["min_norm_ratio"] == NASH_MIN_NORM_RATIO


def test_precedence_defaults_recipe_config_flags(data, tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('recipe = "paper"\nlr = 5e-4\n[aggregator_options]\nupdate_every = 2\n')
    cfg = TrainConfig.from_toml(toml)
    assert cfg.recipe == "paper"
    assert cfg.lr == 5e-4  # the file over the recipe
    assert cfg.batch_size == 128  # the recipe over the defaults
    assert cfg.aggregator_options == {"min_norm_ratio": 1e-3, "update_every": 2}  # option tables merged
    assert TrainConfig().recipe == ""  # no recipe: the built-in defaults
    with pytest.raises(DancegenError, match=r"unknown recipe .papr. \(did you mean paper\?\); choose one of"):
        TrainConfig.from_dict({"recipe": "papr"})

    out = tmp_path / "run"
    proc = subprocess.run(tiny_args(data, out, "--recipe", "fast", "--config", str(toml), "--lr", "3e-4",
                                    "--precision", "fp32", "--json"), capture_output=True, text=True, env=ENV,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    train = read_config(latest_checkpoint(out))["train"]
    assert train["recipe"] == "fast"  # the flag over the file's recipe
    assert train["lr"] == 3e-4  # the flag over the file
    assert train["aggregator_options"] == {"min_norm_ratio": 0.01, "update_every": 2}
    assert train["shared"] == "representation"  # from the recipe
    assert train["warmup"] == 500  # from the recipe
    assert train["preset"] == "tiny"  # the flag


def test_cli_unknown_recipe_and_help(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dancegen", "train", "--recipe", "slow", "--data", "x", "--out",
                           str(tmp_path / "o")], capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "unknown recipe 'slow'" in lines[0]
    assert "paper, edge, fast" in lines[0]
    help_text = subprocess.run([sys.executable, "-m", "dancegen", "train", "--help"], capture_output=True, text=True,
                               env={**ENV, "COLUMNS": "200"}, timeout=120).stdout
    assert "--recipe" in help_text
    for name in RECIPES:
        assert f"{name}:" in help_text


def test_recipe_help_lists_every_recipe():
    from dancegen.cli.train import RECIPE_HELP

    assert tuple(RECIPE_HELP) == RECIPES


# -- EMA warm-up -----------------------------------------------------------------------------------------------------


def test_ema_decay_schedule():
    cfg = TrainConfig(ema_decay=0.9999, ema_start=3)
    assert [cfg.ema_decay_at(s) for s in range(3)] == [0.0, 0.0, 0.0]
    assert cfg.ema_decay_at(3) == pytest.approx(0.1)
    assert cfg.ema_decay_at(53) == pytest.approx(51 / 60)
    assert cfg.ema_decay_at(10**6) == 0.9999
    assert TrainConfig(ema_warmup=False, ema_decay=0.9999).ema_decay_at(0) == 0.9999
    with pytest.raises(DancegenError, match="ema_warmup must be true or false"):
        TrainConfig(data="d", out="o", ema_warmup="yes").validate()


def _ema_progress(data: Path, out: Path, warmup: bool) -> float:
    """After 50 steps at decay 0.9999: distance(EMA, raw) / distance(init, raw) (1: the EMA is still the init)."""
    trainer = Trainer(make_cfg(data, out, aggregator="linear", steps=50, lr=2e-3, ema_warmup=warmup))
    init = torch.cat([p.detach().reshape(-1).clone() for p in trainer.run.model.parameters()])
    trainer.fit()
    raw = torch.cat([p.detach().reshape(-1) for p in trainer.run.model.parameters()])
    ema = torch.cat([p.detach().reshape(-1) for p in trainer.run.ema.parameters()])
    assert read_config(latest_checkpoint(out))["train"]["ema_warmup"] is warmup
    return float((ema - raw).norm() / (init - raw).norm())


def test_ema_warmup_gives_usable_ema_weights_after_50_steps(data, tmp_path):
    with_warmup = _ema_progress(data, tmp_path / "warm", True)
    without = _ema_progress(data, tmp_path / "cold", False)
    assert without > 0.98  # 0.9999⁵⁰: the EMA is still ≈ the initial weights
    assert with_warmup < 0.5  # the EMA has followed the training


# -- bounded Nash ----------------------------------------------------------------------------------------------------


def _tiny_foot_gradient_run(data: Path, out: Path, **kw) -> list[dict]:
    """A model whose contact outputs are below the 0.95 contact threshold: L_F = 0 and its gradient vanishes."""
    trainer = Trainer(make_cfg(data, out, steps=4, **kw))
    with torch.no_grad():
        trainer.run.model.body.final_layer.weight[:4] = 0.0
        trainer.run.model.body.final_layer.bias[:4] = -1.0
    trainer.fit()
    assert "min_norm_ratio" in trainer.start_message()
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_nash_weights_are_bounded_when_the_foot_gradient_vanishes(data, tmp_path):
    r = NASH_MIN_NORM_RATIO
    lines = _tiny_foot_gradient_run(data, tmp_path / "bounded")
    for line in lines:
        assert line["gradient_norms"]["F"] < r * max(line["gradient_norms"].values())
        bound = line["weight_bound"]
        assert bound["min_norm_ratio"] == r
        assert bound["floored"] >= 1  # F was raised to the floor ...
        alpha_f = line["diagnostics"]["alpha"][3]
        assert alpha_f * max(line["gradient_norms"].values()) <= (1 + 1e-6) / r  # ... so α_F ≤ 1/(r·max‖g‖)
        assert bound["max_over_min"] < 1.25 / r
    meta = read_config(latest_checkpoint(tmp_path / "bounded"))
    assert meta["aggregator"]["options"]["min_norm_ratio"] == r  # recorded in the checkpoint

    # mtlkit's own default floor (1e-3, the paper's method) lets the weight ratio reach ~1000
    plain = _tiny_foot_gradient_run(data, tmp_path / "plain", aggregator_options={"min_norm_ratio": 1e-3})
    assert max(line["weight_bound"]["max_over_min"] for line in plain) > 5 / r


def test_an_explicit_floor_is_kept_and_other_aggregators_have_none():
    assert TrainConfig(aggregator_options={"min_norm_ratio": 0.0}).aggregator_kwargs() == {"min_norm_ratio": 0.0}
    assert "min_norm_ratio" not in TrainConfig(aggregator="aligned").aggregator_kwargs()


# -- one backward for linear -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shared", ["all", "representation", "trunk"])
def test_linear_takes_one_backward_whatever_shared_says(data, tmp_path, shared):
    kw = {"genre_controller": "text", "controller_options": {}, "tasks": list("SJVFC")} if shared == "trunk" else {}
    trainer = Trainer(make_cfg(data, tmp_path / "run", aggregator="linear", shared=shared, steps=1, **kw))
    assert trainer.one_backward
    trainer.fit()
    line = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert line["backend"] == "one_backward"
    assert line["gradient_norms"] is None
    assert line["diagnostics"]["one_backward"] is True
    assert "weight_bound" not in line


def test_linear_with_an_explicit_backend_keeps_the_per_task_gradients(data, tmp_path):
    trainer = Trainer(make_cfg(data, tmp_path / "run", aggregator="linear", backend="gramian", steps=1))
    assert not trainer.one_backward
    trainer.fit()
    line = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert line["backend"] == "gramian"
    assert set(line["gradient_norms"]) == set("SJVF")
    with pytest.raises(DancegenError, match="'linear': linear aggregator has 2 weights but got 4 tasks"):
        Trainer(make_cfg(data, tmp_path / "bad", aggregator="linear", aggregator_options={"weights": [1.0, 2.0]}))


# -- --allow-random-weights with an encoder without weights ----------------------------------------------------------


def test_allow_random_weights_with_stft_only(data, tmp_path):
    from dancegen.features import build_music_encoder

    assert build_music_encoder("stft", allow_random_weights=True).dim == 193
    assert build_music_encoder("mfcc,stft", allow_random_weights=True).dim > 193
    with pytest.raises(DancegenError, match="bad options"):
        build_music_encoder("stft", bogus=1)  # other options are still checked
    proc = subprocess.run(tiny_args(data, tmp_path / "run", "--allow-random-weights"), capture_output=True, text=True,
                          env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr


# -- generate / edit --weights ema|raw -------------------------------------------------------------------------------


@pytest.mark.slow
def test_generate_and_edit_weights_ema_or_raw(data, tmp_path):
    import numpy as np

    run = tmp_path / "run"
    Trainer(make_cfg(data, run, aggregator="linear", steps=3, lr=5e-3)).fit()
    wav = sorted((data / "music_wav").glob("*.wav"))[0]

    def dancegen(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dancegen", *map(str, args)], env=ENV, capture_output=True,
                              text=True, timeout=300)

    motions = {}
    for weights in ("ema", "raw"):
        out = tmp_path / weights
        proc = dancegen("generate", wav, "--genre", "Jazz", "--checkpoint", run, "--out", out, "--steps", "2",
                        "--format", "npz", "--weights", weights, "--json", "--no-progress", "--device", "cpu")
        assert proc.returncode == 0, proc.stderr
        motions[weights] = np.load(out / "motion.npz")["motion_319"]
    assert motions["ema"].shape == motions["raw"].shape
    assert not np.allclose(motions["ema"], motions["raw"])  # the EMA (warm-up) and the raw weights differ
    edit = dancegen("edit", tmp_path / "ema" / "motion.npz", wav, "--keep", "body", "--genre", "Jazz", "--checkpoint",
                    run, "--out", tmp_path / "edit", "--steps", "2", "--format", "npz", "--weights", "raw", "--json",
                    "--no-progress", "--device", "cpu")
    assert edit.returncode == 0, edit.stderr
    bad = dancegen("generate", wav, "--genre", "Jazz", "--checkpoint", run, "--weights", "best")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["error: --weights must be ema or raw, got 'best'"]
