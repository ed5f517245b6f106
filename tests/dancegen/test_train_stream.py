"""Training batches loaded ahead in DataLoader workers (dancegen.train.batches) and losses read off the device in
groups (``Trainer._flush``): the same run, step for step, whatever the worker count or the flush interval, and a
resumed run equal to an uninterrupted one."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from test_train import make_cfg, tiny_data

import mtlkit
from dancegen.checkpoint.files import load_tree
from dancegen.errors import DancegenError
from dancegen.train import Trainer
from dancegen.train.monitor import Monitor


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tiny_data(tmp_path_factory, "stream")


def _same(a: object, b: object) -> bool:
    """Equal nested state (tensors compared exactly)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


def _metrics(run: Path) -> list[dict]:
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in x.items() if k != "step_time"} for x in lines]


def _params(trainer: Trainer) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in trainer.run.model.parameters()])


def _train(data: Path, out: Path, **kw) -> Trainer:
    trainer = Trainer(make_cfg(data, out, **{"aggregator": "pcgrad", "lr": 1e-3, "model": {"dropout": 0.1},
                                             "keep_checkpoints": 5, **kw}))
    trainer.fit()
    return trainer


def test_workers_load_ahead_and_train_the_same_run(data, tmp_path):
    """2 workers loading 3 batches ahead each: the same losses, weights and parameters as loading in the training
    process, and the checkpoint's data order is the one after the last batch trained, not the ones loaded."""
    ref = _train(data, tmp_path / "ref", steps=7, checkpoint_every=3)
    ahead = _train(data, tmp_path / "ahead", steps=7, checkpoint_every=3, data_workers=2, prefetch=3)
    probe = Trainer(make_cfg(data, tmp_path / "probe", data_workers=2, prefetch=3))
    try:
        probe.train_step()
        assert len(probe.stream.drawn) >= 2  # batches drawn and loading beyond the one trained
    finally:
        probe.stream.close()
    assert probe.stream.sampler.pos == 2  # closing rewinds the sampler to after the one batch trained
    assert _metrics(tmp_path / "ahead") == _metrics(tmp_path / "ref")
    assert torch.equal(_params(ahead), _params(ref))
    for step in (3, 6, 7):
        a = load_tree(tmp_path / "ahead" / "checkpoints" / f"step_{step:07d}", "rng")
        b = load_tree(tmp_path / "ref" / "checkpoints" / f"step_{step:07d}", "rng")
        assert torch.equal(a["sampler"]["perm"], b["sampler"]["perm"])
        assert a["sampler"]["pos"] == b["sampler"]["pos"]
        assert torch.equal(a["generators"]["data"], b["generators"]["data"])


def test_resume_with_workers_is_bit_identical(data, tmp_path):
    """Stop at step 3 with batches loaded ahead, resume with another worker count: the same parameters as one
    uninterrupted run (the window draws span an epoch boundary: 4 songs × few windows, batch 2; a constant
    learning rate, so that stopping at 3 of 3 steps trains as 3 of 8 do)."""
    whole = _train(data, tmp_path / "whole", steps=8, checkpoint_every=3, data_workers=1, lr_schedule="constant")
    _train(data, tmp_path / "cut", steps=3, checkpoint_every=3, data_workers=2, prefetch=4, lr_schedule="constant")
    cfg = make_cfg(data, tmp_path / "cut", aggregator="pcgrad", lr=1e-3, model={"dropout": 0.1}, steps=8,
                   checkpoint_every=3, data_workers=0, lr_schedule="constant")
    resumed = Trainer(cfg, resume=True)
    resumed.fit()
    assert torch.equal(_params(resumed), _params(whole))
    assert resumed.run.sampler.epoch >= 1  # the run crossed an epoch of its data
    assert _metrics(tmp_path / "cut") == _metrics(tmp_path / "whole")


def test_losses_read_in_groups_log_the_same_records(data, tmp_path):
    """Reading 4 steps' losses in one transfer (what a CUDA run does) writes the same metrics as reading each step,
    without mtlkit's per-call finiteness check."""
    ref = Trainer(make_cfg(data, tmp_path / "ref", steps=8, log_every=4, aggregator="nash"))
    ref.fit()
    grouped = Trainer(make_cfg(data, tmp_path / "grouped", steps=8, log_every=4, aggregator="nash"))
    grouped.flush_every = 4
    seen = []
    original = mtlkit.backward

    def spy(*args, **kwargs):  # records the check setting each step runs under, then runs the real backward
        seen.append(mtlkit.input_checks_enabled())
        return original(*args, **kwargs)

    mtlkit.backward = spy
    try:
        grouped.fit()
    finally:
        mtlkit.backward = original
    assert seen == [False] * 8  # grouped reads: mtlkit's per-call check (a device wait) is off while training
    assert mtlkit.input_checks_enabled()  # and back on afterwards
    assert _metrics(tmp_path / "grouped") == _metrics(tmp_path / "ref")
    assert [x["step"] for x in _metrics(tmp_path / "grouped")] == [4, 8]


def test_a_non_finite_loss_read_later_names_its_step(data, tmp_path):
    """Without mtlkit's per-call check (no synchronisation) a NaN reaches the loss; the grouped read stops there
    with the step it happened at, after handing the finite steps before it to the monitor."""
    trainer = Trainer(make_cfg(data, tmp_path / "run", steps=5, aggregator="linear",
                               aggregator_options={"weights": [1.0, 1.0, 1.0, 1.0]}))
    previous = mtlkit.set_input_checks(False)
    try:
        pending = [trainer.train_step(), trainer.train_step()]
        with torch.no_grad():
            for p in trainer.run.model.parameters():
                p.fill_(float("nan"))
        pending.append(trainer.train_step())
        with (Monitor(tmp_path / "run", 5, 0, ["S", "J", "V", "F"], progress=False, tensorboard=False) as mon,
              pytest.raises(DancegenError, match=r"non-finite training loss at step 3: .*lower --lr")):
            trainer._flush(pending, mon)
    finally:
        mtlkit.set_input_checks(previous)
        trainer.stream.close()
    assert [x["step"] for x in _metrics(tmp_path / "run")] == [1, 2]


def test_fp16_with_a_loss_scaler_trains_and_skips_overflowing_steps(data, tmp_path):
    """fp16 autocast with a GradScaler (CPU autocast stands in for CUDA's here): Nash-MTL sees unscaled per-task
    gradients, so a step's weights equal fp32's to fp16 rounding; a scale so large that the gradients overflow
    skips the step (parameters, EMA and Nash's state untouched, the scale halved, ``skipped`` logged); the scale is
    in the checkpoint and comes back on resume."""
    from dancegen.precision import Precision
    from dancegen.train.state import restore

    runs = {}
    for name in ("fp32", "fp16"):
        trainer = Trainer(make_cfg(data, tmp_path / name, steps=1, aggregator="nash", model={"dropout": 0.0}))
        if name == "fp16":
            trainer.run.precision = Precision("fp16", "cpu")
        runs[name] = trainer.train_step()
        trainer.stream.close()
    w32, w16 = runs["fp32"]["result"].weights, runs["fp16"]["result"].weights
    torch.testing.assert_close(w16.float(), w32.float(), rtol=0.05, atol=0.0)

    trainer = Trainer(make_cfg(data, tmp_path / "run", steps=3, aggregator="nash", checkpoint_every=1,
                               keep_checkpoints=5))
    r = trainer.run
    r.precision = Precision("fp16", "cpu")
    assert r.precision.scaler is not None
    r.precision.scaler.scale(torch.ones(()))  # the scaler starts its scale lazily
    r.precision.scaler.load_state_dict(r.precision.scaler.state_dict() | {"scale": 3e38})
    before = [p.detach().clone() for p in r.model.parameters()]
    ema = [p.detach().clone() for p in r.ema.parameters()]
    nash = copy.deepcopy(r.aggregator.state_dict())
    out = trainer.train_step()
    assert out["skipped"]
    assert out["result"].skipped
    assert all(torch.equal(a, b) for a, b in zip(before, r.model.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(ema, r.ema.parameters()))
    assert _same(nash, r.aggregator.state_dict())
    assert r.precision.scaler.get_scale() == pytest.approx(1.5e38)
    out = trainer.train_step()  # 1.5e38 overflows too; then a finite step from a usable scale
    r.precision.scaler.load_state_dict(r.precision.scaler.state_dict() | {"scale": 1024.0})
    out = trainer.train_step()
    assert not out["skipped"]
    assert not all(torch.equal(a, b) for a, b in zip(before, r.model.parameters()))
    from dancegen.train.state import save

    folder = save(r, tmp_path / "run", trainer.stream.state())
    trainer.stream.close()
    fresh = Trainer(make_cfg(data, tmp_path / "run2", steps=3, aggregator="nash"))
    fresh.run.precision = Precision("fp16", "cpu")
    restore(fresh.run, folder)
    assert fresh.run.precision.scaler is not None
    assert fresh.run.precision.scaler.get_scale() == r.precision.scaler.get_scale()
    fresh.stream.close()
