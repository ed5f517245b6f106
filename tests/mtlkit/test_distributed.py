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


def _run(out, nproc, *extra):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node",
           str(nproc), str(WORKER), str(out), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={
        **os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(nproc)]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("dist"), 2)


@pytest.fixture(scope="module")
def three_ranks(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("dist3"), 3, "comm")


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


@pytest.mark.parametrize(("agg", "backend", "comm"), worker.COMM_COMBOS,
                         ids=[f"{a}-{b}-{c}" for a, b, c in worker.COMM_COMBOS])
def test_comm_schemes_identical_and_equal_to_single_process(ranks, agg, backend, comm):
    key = f"{agg}/{backend}/{comm}"
    r0, r1 = torch.tensor(ranks[0][key]), torch.tensor(ranks[1][key])
    assert torch.equal(r0, r1), f"{key}: ranks diverged by {float((r0 - r1).abs().max())}"
    single = torch.tensor(worker.train(agg, backend, rank=0, world=1))
    torch.testing.assert_close(r0, single, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("agg", "backend"), [(a, b) for a, b, c in worker.COMM_COMBOS if c == "sharded"])
def test_sharded_sends_fewer_numbers(ranks, agg, backend):
    """Reduce-scatter + all-gather (sharded) carries fewer numbers than all-reducing the per-task gradients."""
    for r in (0, 1):
        sharded = ranks[r][f"{agg}/{backend}/sharded/numbers"][0]
        allreduce = ranks[r][f"{agg}/{backend}/allreduce/numbers"][0]
        assert 0 < sharded < allreduce


def test_sharded_needs_a_gramian_based_aggregator():
    import mtlkit

    jacobian_only = [i.name for i in mtlkit.list_aggregators() if not i.properties.gramian_based
                     and not i.properties.loss_based]
    if not jacobian_only:
        pytest.skip("no Jacobian-only aggregator registered")
    x = torch.randn(4, 3)
    lin = torch.nn.Linear(3, 2)
    losses = list(lin(x).pow(2).mean(0))
    with pytest.raises(ValueError, match="comm='sharded'"):
        mtlkit.backward(losses, lin, jacobian_only[0], backend="jacobian", comm="sharded")
    with pytest.raises(ValueError, match="unknown comm"):
        mtlkit.backward(losses, lin, "mean", comm="ring")


@pytest.mark.parametrize(("agg", "backend", "comm"), worker.THREE_RANK_COMBOS,
                         ids=[f"{a}-{b}-{c}" for a, b, c in worker.THREE_RANK_COMBOS])
def test_sharded_on_three_ranks(three_ranks, agg, backend, comm):
    """Three shards (a sum over more than two ranks, group boundaries inside shards) agree too."""
    key = f"{agg}/{backend}/{comm}"
    r0 = torch.tensor(three_ranks[0][key])
    for other in three_ranks[1:]:
        assert torch.equal(r0, torch.tensor(other[key])), f"{key}: ranks diverged"
    single = torch.tensor(worker.train(agg, backend, rank=0, world=1))
    torch.testing.assert_close(r0, single, rtol=1e-5, atol=1e-5)
