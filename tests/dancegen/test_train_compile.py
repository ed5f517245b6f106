"""``dancegen train --compile``: the denoiser's forward under torch.compile (inductor, real C++ build on CPU) trains
the same run to rounding; per-task parameter gradients, which a compiled graph cannot give, are refused up front."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch
from test_train import ENV, cli_args, make_cfg, tiny_data

from dancegen.errors import DancegenError
from dancegen.train import Trainer
from dancegen.train.state import preflight


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tiny_data(tmp_path_factory, "compile")


def test_compiled_forward_trains_the_same_run(data, tmp_path):
    """Nash-MTL in representation space (one backward through the model per step), 3 steps: the compiled run's
    parameters equal the eager run's to rounding, and the module's state dict keeps its names."""
    params = {}
    for compiled in (False, True):
        cfg = make_cfg(data, tmp_path / str(compiled), steps=3, shared="representation", compile=compiled,
                       model={"dropout": 0.0})
        trainer = Trainer(cfg)
        trainer.fit()
        assert (trainer.forward is not trainer.run.model) == compiled
        assert not any(k.startswith("_orig_mod") for k in trainer.run.model.state_dict())
        params[compiled] = torch.cat([p.detach().reshape(-1) for p in trainer.run.model.parameters()])
    # Adam divides by √v: a gradient near zero turns rounding into a step of up to lr·1e-1 on a few entries
    torch.testing.assert_close(params[True], params[False], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(("kw", "ok"), [
    ({"aggregator": "nash"}, False),
    ({"aggregator": "linear", "backend": "jacobian"}, False),
    ({"aggregator": "linear"}, True),
    ({"aggregator": "dwa"}, True),
    ({"aggregator": "upgrad", "shared": "representation"}, True),
])
def test_compile_needs_one_backward_through_the_model(data, tmp_path, kw, ok):
    cfg = make_cfg(data, tmp_path / "run", compile=True, **kw)
    if ok:
        preflight(cfg)
    else:
        with pytest.raises(DancegenError, match="--compile needs one backward through the model per step"):
            preflight(cfg)


def test_cli_refuses_compile_with_per_task_gradients_in_one_line(data, tmp_path):
    proc = subprocess.run(cli_args(data, tmp_path / "run", "--compile", "--aggregator", "nash", "--steps", "2"),
                          env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "--shared representation" in proc.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()
