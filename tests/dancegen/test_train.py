"""GCDance training (dancegen.train, ``dancegen train``) on a tiny procedural data set: losses, aggregators and
backends, the aggregated gradient, checkpoints, bit-identical resume after SIGKILL, CLI errors, torchrun."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import mtlkit
from dancegen.checkpoint.files import join_tree, latest_checkpoint, load_flat, load_tree, read_config, split_tree
from dancegen.errors import DancegenError
from dancegen.train import TrainConfig, Trainer

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def tiny_data(tmp_path_factory, name: str) -> Path:
    """A 4-genre procedural data set of 5-s songs (one per genre) in a fresh temporary folder."""
    from dancegen.data.synth.writer import build

    root = tmp_path_factory.mktemp(name) / "synth"
    build(root, songs_per_genre=1, seconds=5.0, genres=["Breaking", "Jazz", "Dai", "Korean"])
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tiny_data(tmp_path_factory, "train")


def make_cfg(data: Path, out: Path, **kw) -> TrainConfig:
    base = {"data": str(data), "out": str(out), "music_encoders": "stft", "genre_controller": "label",
            "controller_options": {"embedding": "onehot"}, "tasks": ["S", "J", "V", "F"], "preset": "tiny",
            "batch_size": 2, "steps": 2, "progress": False, "tensorboard": False, "log_every": 1,
            "checkpoint_every": 1000, "aggregator": "nash"}
    return TrainConfig.from_dict({**base, **kw})


def cli_args(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "dancegen", "train", "--data", str(data), "--out", str(out), "--music-encoders",
            "stft", "--genre-controller", "label", "--controller-opt", "embedding=onehot", "--tasks", "S,J,V,F",
            "--preset", "tiny", "--batch-size", "2", "--log-every", "1", "--no-progress", *extra]


def fixed_losses(trainer: Trainer, n: int = 4) -> torch.Tensor:
    """Task losses of the current model on a fixed batch (fixed windows, timesteps and noise; eval mode)."""
    from dancegen.losses import task_losses

    r = trainer.run
    g = torch.Generator().manual_seed(123)
    items = [r.dataset[i] for i in range(n)]
    x0 = r.normalizer.normalize(torch.stack([it["motion"] for it in items]))
    t = torch.randint(0, 300, (n,), generator=g)
    x_t = r.scheduler.add_noise(x0, torch.randn(x0.shape, generator=g), t)
    labels = torch.tensor([it["genre"] for it in items])
    r.model.eval()
    with torch.no_grad():
        pred = r.model(x_t, t, torch.stack([it["music"] for it in items]), r.genre.controller.embed(labels))
        losses, _ = task_losses(pred, x0, r.skeleton, tasks=trainer.cfg.tasks, normalizer=r.normalizer)
    r.model.train()
    return losses


def test_config_validation_and_toml(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('data = "d"\nout = "o"\naggregator = "linear"\nsteps = 7\n[model]\ndropout = 0.0\n')
    cfg = TrainConfig.from_toml(toml).validate()
    assert (cfg.steps, cfg.model, cfg.lr, cfg.weight_decay, cfg.ema_decay) == (7, {"dropout": 0.0}, 2e-4, 0.02, 0.9999)
    assert cfg.aggregator_kwargs() == {"weights": [0.636, 0.646, 2.964, 10.942, 1.0]}  # S J V F C (EDGE)
    with pytest.raises(DancegenError, match="did you mean steps"):
        TrainConfig.from_dict({"stepz": 3})
    with pytest.raises(DancegenError, match="shared must be one of"):
        TrainConfig(data="d", out="o", shared="heads").validate()
    with pytest.raises(DancegenError, match="batch_size must be a positive integer"):
        TrainConfig(data="d", out="o", batch_size=0).validate()


def test_short_run_lowers_losses(data, tmp_path):
    cfg = make_cfg(data, tmp_path / "run", aggregator="linear", steps=12, batch_size=4, lr=2e-3,
                   lr_schedule="constant", model={"dropout": 0.0})
    trainer = Trainer(cfg)
    before = fixed_losses(trainer)
    trainer.fit()
    after = fixed_losses(trainer)
    w = torch.tensor([0.636, 0.646, 2.964, 10.942])
    assert torch.isfinite(before).all()
    assert torch.isfinite(after).all()
    assert float(w @ after) < 0.9 * float(w @ before), (before, after)
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == list(range(1, 13))
    assert set(lines[0]["losses"]) == {"S", "J", "V", "F"}
    assert lines[0]["weights"]["F"] == pytest.approx(10.942)
    # fixed weights: one backward of Σ w_i L_i, no per-task gradient (tests/dancegen/test_recipes.py)
    assert lines[0]["backend"] == "one_backward"
    assert lines[0]["cosine"] is None
    assert lines[0]["gradient_norms"] is None
    assert lines[0]["update_norm"] > 0


def test_update_is_the_aggregated_gradient(data, tmp_path):
    """The .grad the optimiser sees is Σ w_i ∇L_i with the aggregator's (Nash) weights for this very batch."""
    cfg = make_cfg(data, tmp_path / "run", backend="gramian", grad_clip=0.0, model={"dropout": 0.0})
    trainer = Trainer(cfg)
    r = trainer.run
    start = {k: v.clone() for k, v in r.model.state_dict().items()}
    gens = {k: g.get_state() for k, g in r.generators.items()}
    sampler = (r.sampler.perm.clone(), r.sampler.pos)
    out = trainer.train_step()
    weights = out["result"].weights
    grads = [p.grad.clone() for p in r.shared_params]
    assert weights is not None
    assert not torch.allclose(weights, torch.ones_like(weights))
    # replay the same batch on the starting parameters, task by task
    r.model.load_state_dict(start)
    for k, g in r.generators.items():
        g.set_state(gens[k])
    r.sampler.perm, r.sampler.pos = sampler
    from dancegen.losses import task_losses

    b = trainer._draw()
    x0 = r.normalizer.normalize(b["motion"])
    pred = r.model(r.scheduler.add_noise(x0, b["noise"], b["t"]), b["t"], b["music"],
                   r.genre.controller.embed(b["genre"]), b["drop"])
    losses, _ = task_losses(pred, x0, r.skeleton, tasks=cfg.tasks, hands_present=b["hands"], normalizer=r.normalizer)
    per_task = [torch.autograd.grad(losses[i], r.shared_params, retain_graph=True, allow_unused=True)
                for i in range(len(losses))]
    for j, p in enumerate(r.shared_params):
        expected = sum(float(weights[i]) * (g[j] if g[j] is not None else torch.zeros_like(p))
                       for i, g in enumerate(per_task))
        torch.testing.assert_close(grads[j], expected, rtol=1e-4, atol=1e-7)


_FIXED = {"linear", "nash", "aligned", "pcgrad", "dwa", "uw", "famo"}
_OTHER_METHODS = sorted(i.name for i in mtlkit.list_aggregators() if i.name not in _FIXED)  # every method trains


@pytest.mark.parametrize(("aggregator", "shared", "backend"), [
    ("linear", "all", "jacobian"),
    ("nash", "all", "gramian"),
    ("nash", "representation", "auto"),
    ("aligned", "trunk", "auto"),
    ("pcgrad", "all", "gramian"),
    ("pcgrad", "representation", "representation"),
    ("dwa", "all", "auto"),
    ("uw", "trunk", "auto"),
    ("famo", "all", "auto"),
] + [(name, "all", "auto") for name in _OTHER_METHODS])
def test_each_aggregator_and_backend_runs(data, tmp_path, aggregator, shared, backend):
    trainer = Trainer(make_cfg(data, tmp_path / "run", aggregator=aggregator, shared=shared, backend=backend,
                               steps=1))
    before = [p.detach().clone() for p in trainer.run.params]
    trainer.fit()
    line = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    # a loss-based method runs one backward of Σ w_i L_i, whatever the backend; so does a constant-weight one
    # (mean) under backend="auto"
    method = mtlkit.get_aggregator(aggregator)
    loss_based = method.properties.loss_based
    constant = backend == "auto" and mtlkit.constant_weights(method, 4, torch.zeros(())) is not None
    assert line["backend"] == ("losses" if loss_based else "one_backward" if constant else
                               "representation" if shared == "representation" else
                               "jacobian" if backend == "auto" else backend)
    assert all(v == v and abs(v) < 1e6 for v in line["losses"].values())
    kind = {i.name: i for i in mtlkit.list_aggregators()}[aggregator].properties.kind
    assert line["weights"] is None if kind == "jacobian" else len(line["weights"]) == 4  # no weights: a J method
    assert any(not torch.equal(a, p) for a, p in zip(before, trainer.run.params))
    if aggregator == "uw":  # its log-variances are trained with the model
        log_var = trainer.run.aggregator.log_var
        assert log_var.shape == (4,)
        assert any(p is log_var for p in trainer.run.params)
        assert not torch.equal(log_var.detach(), torch.full((4,), -0.5))
    if aggregator == "famo":  # its logits learned from the losses after the step
        assert trainer.run.aggregator.get_extra_state()["steps"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("shared", ["all", "trunk", "representation"])
def test_text_controller_with_classification_loss(data, tmp_path, shared):
    cfg = make_cfg(data, tmp_path / "run", genre_controller="text", controller_options={}, tasks=list("SJVFC"),
                   shared=shared, steps=1)
    trainer = Trainer(cfg)
    head = [p.detach().clone() for p in trainer.run.controller.parameters()]
    trainer.fit()
    line = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert line["losses"]["C"] >= 0
    assert set(line["weights"]) == set("SJVFC")
    assert len(line["cosine"]) == (4 if shared == "trunk" else 5)
    assert any(not torch.equal(a, p) for a, p in zip(head, trainer.run.controller.parameters()))


def test_checkpoint_round_trip(data, tmp_path):
    out = tmp_path / "run"
    trainer = Trainer(make_cfg(data, out, aggregator="nash", steps=2, checkpoint_every=1))
    trainer.fit()
    folder = latest_checkpoint(out)
    assert folder.name == "step_0000002"
    assert (out / "checkpoints" / "step_0000001").is_dir()
    meta = read_config(folder)
    assert meta["step"] == 2
    assert meta["model"]["music_dim"] == 193
    assert meta["music_encoder"]["spec"] == "stft"
    assert meta["train"]["aggregator"] == "nash"
    assert len(meta["data"]["fingerprint"]) == 64
    assert meta["genre_controller"]["config"]["embedding"] == "onehot"
    model = load_flat(folder, "model")
    for k, v in trainer.run.model.state_dict().items():
        assert torch.equal(model[k], v)
    agg = load_tree(folder, "aggregator")["_extra_state"]
    assert agg["step"] == 2
    assert agg["beta"].dtype == torch.float64
    resumed = Trainer(make_cfg(data, out, steps=3), resume=True)
    assert resumed.run.step == 2
    for a, b in zip(resumed.run.optimizer.state_dict()["state"].values(),
                    trainer.run.optimizer.state_dict()["state"].values()):
        assert all(torch.equal(a[k], b[k]) for k in a)
    tree = {"a": [torch.arange(3), (1, 2.5)], 3: {"x": None, "y": torch.ones(2, dtype=torch.float64)}}
    structure, tensors = split_tree(tree)
    back = join_tree(json.loads(json.dumps(structure)), tensors)
    assert back[3]["y"].dtype == torch.float64
    assert back["a"][1] == (1, 2.5)
    assert torch.equal(back["a"][0], torch.arange(3))


@pytest.mark.slow
def test_resume_after_sigkill_is_bit_identical(data, tmp_path):
    # enough steps after the first checkpoint that the kill lands mid-run however fast the machine (tiny steps ≈ 0.1 s)
    common = ("--steps", "30", "--checkpoint-every", "3", "--aggregator", "pcgrad", "--lr", "1e-3")
    ref = subprocess.Popen(cli_args(data, tmp_path / "ref", *common), env=ENV, stderr=subprocess.PIPE, text=True)
    victim = subprocess.Popen(cli_args(data, tmp_path / "cut", *common), env=ENV, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (tmp_path / "cut" / "latest").is_file():
        assert victim.poll() is None, "the run died before its first checkpoint"
        assert time.time() < deadline, "no checkpoint within 120 s"
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 0.3))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    killed_at = read_config(latest_checkpoint(tmp_path / "cut"))["step"]
    assert killed_at < 30
    resumed = subprocess.run(cli_args(data, tmp_path / "cut", *common, "--resume"), env=ENV, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert ref.wait(timeout=300) == 0, ref.stderr.read()
    for part in ("model", "ema", "optimizer"):
        a = load_file(tmp_path / "ref" / "checkpoints" / "step_0000030" / f"{part}.safetensors")
        b = load_file(tmp_path / "cut" / "checkpoints" / "step_0000030" / f"{part}.safetensors")
        assert a.keys() == b.keys(), part
        assert all(torch.equal(a[k], b[k]) for k in a), part
    steps = [json.loads(x)["step"] for x in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 31))


@pytest.fixture(scope="module")
def finished_run(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "run"
    Trainer(make_cfg(data, out, steps=1)).fit()
    return out


@pytest.mark.parametrize(("extra", "message"), [
    (("--aggregator", "nahs"), "nash"),
    (("--music-encoders", "sftf"), "stft"),
    (("--genre-controller", "labl"), "label"),
    (("--out", "{empty}"), "not empty"),
    (("--resume", "--music-encoders", "mfcc"), "resume with --music-encoders stft"),
    (("--data", "{missing}"), "data directory not found"),
])
def test_cli_errors_exit_2_with_one_line(data, finished_run, tmp_path, extra, message):
    fill = {"{empty}": str(finished_run), "{missing}": str(tmp_path / "nope")}
    extra = tuple(fill.get(x, x) for x in extra)
    out = finished_run if "--resume" in extra else tmp_path / "new"
    proc = subprocess.run(cli_args(data, out, "--steps", "2", *extra), env=ENV, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert message in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_empty_data_dir_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DancegenError, match="is empty"):
        Trainer(make_cfg(tmp_path / "empty", tmp_path / "out"))


@pytest.mark.slow
def test_torchrun_two_processes_keep_replicas_identical(data, tmp_path):
    out = tmp_path / "dist"
    args = cli_args(data, out, "--steps", "2", "--batch-size", "4", "--debug-replica-hash", "--data-workers", "1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
           str(random.randint(20000, 40000)), *args[1:]]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    hashes = [(out / f"replica_hash_rank{r}.txt").read_text() for r in (0, 1)]
    assert hashes[0] == hashes[1]
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2  # only rank 0 logs


def test_none_controller_trains_without_genre_and_without_l_c(data, tmp_path):
    """--genre-controller none (the paper's no-genre-control ablation): tasks default to S,J,V,F and the trained
    model's dance does not depend on the requested genre."""
    import numpy as np

    from dancegen.pipeline import DancePipeline

    out = tmp_path / "none"
    args = [a for a in cli_args(data, out, "--steps", "2") if a not in ("--tasks", "S,J,V,F", "--controller-opt",
                                                                         "embedding=onehot")]
    args[args.index("label")] = "none"
    proc = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert set(line["losses"]) == set("SJVF")
    cfg = read_config(latest_checkpoint(out))
    assert cfg["genre_controller"]["config"]["name"] == "none"
    pipe = DancePipeline.from_checkpoint(out)
    audio = (0.1 * np.random.default_rng(0).standard_normal(15360 * 2)).astype(np.float32)
    a, b = (pipe(audio, 15360, genre=g, steps=3, seed=1).motion for g in ("Jazz", "Dai"))
    assert torch.equal(a, b)
