"""Two real gloo processes (torchrun) apply identical updates, equal to one process on the whole batch."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("dist_worker.py")


def _load_worker():
    spec = importlib.util.spec_from_file_location("mtlkit_dist_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", "2",
           str(WORKER), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={
        **os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


worker = _load_worker()


@pytest.mark.parametrize(("agg", "backend"), worker.COMBOS, ids=[f"{a}-{b}" for a, b in worker.COMBOS])
def test_ranks_identical_and_equal_to_single_process(ranks, agg, backend):
    key = f"{agg}/{backend}"
    r0, r1 = torch.tensor(ranks[0][key]), torch.tensor(ranks[1][key])
    assert torch.equal(r0, r1), f"{key}: ranks diverged by {float((r0 - r1).abs().max())}"
    if agg in worker.UNSEEDED:
        return
    single = torch.tensor(worker.train(agg, backend, rank=0, world=1))
    torch.testing.assert_close(r0, single, rtol=1e-5, atol=1e-5)
    initial = torch.tensor(worker.initial_parameters())  # the model's (uw's log-variances follow them)
    moved = (single[: initial.numel()] - initial).abs().max()
    assert moved > 1e-3, "training did not change the parameters"
