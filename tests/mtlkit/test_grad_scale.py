"""mtlkit.backward(grad_scale=s): mixed precision with torch.amp.GradScaler.

The aggregator sees unscaled per-task gradients, ``.grad`` receives ``s × update``, and a non-finite per-task
gradient skips the step (every ``.grad`` inf, the aggregator untouched) instead of raising."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import mtlkit

WORKER = Path(__file__).with_name("dist_worker.py")
GRADIENT_METHODS = ("nash", "upgrad", "mgda", "pcgrad", "aligned", "linear")
LOSS_METHODS = ("dwa", "uw", "famo")
SCALE = 2.0**12


def make_model(dtype: torch.dtype = torch.float64) -> tuple[nn.Module, nn.ModuleList]:
    torch.manual_seed(0)
    trunk = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8), nn.Tanh()).to(dtype)
    heads = nn.ModuleList([nn.Linear(8, 1) for _ in range(3)]).to(dtype)
    return trunk, heads


def batch(step: int, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + step)
    x = torch.randn(32, 6, generator=g, dtype=dtype)
    ys = torch.randn(32, 3, generator=g, dtype=dtype) + x[:, :3]
    return x, ys


def forward(trunk: nn.Module, heads: nn.ModuleList, x: torch.Tensor, ys: torch.Tensor
            ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    z = trunk(x)
    return z, [nn.functional.mse_loss(h(z).squeeze(1), ys[:, i]) for i, h in enumerate(heads)]


def build(name: str) -> Any:
    if name == "groups-nash":
        return [mtlkit.get_aggregator("nash") for _ in range(2)]
    if name == "uw":
        return mtlkit.get_aggregator("uw", num_tasks=3)
    if name in ("pcgrad", "random"):
        return mtlkit.get_aggregator(name, generator=torch.Generator().manual_seed(7))
    return mtlkit.get_aggregator(name)


def own_params(agg: Any) -> list[nn.Parameter]:
    return [] if isinstance(agg, list) else list(agg.parameters())


def flat_grads(params: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in params])


def assert_same_state(a: Any, b: Any, path: str = "state") -> None:
    """Recursive comparison of state_dicts (tensors, numpy arrays, numbers) to 1e-6 relative."""
    if isinstance(a, dict):
        assert isinstance(b, dict), path
        assert set(a) == set(b), f"{path}: keys differ"
        for key in a:
            assert_same_state(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{path}[{i}]")
    elif isinstance(a, (torch.Tensor, np.ndarray)):
        torch.testing.assert_close(torch.as_tensor(a), torch.as_tensor(b), rtol=1e-6, atol=1e-9, msg=path)
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def states(agg: Any) -> Any:
    return [a.state_dict() for a in agg] if isinstance(agg, list) else agg.state_dict()


# (aggregator, backend): the one-backward path (linear under auto), every per-task backend, groups, loss-based
CASES = [("linear", "auto")]
CASES += [(a, b) for b in ("jacobian", "gramian", "representation") for a in GRADIENT_METHODS]
CASES += [("trimmed_mean", "jacobian"), ("moco", "jacobian")]  # Jacobian-only methods: they read J/s itself
CASES += [("groups-nash", "jacobian"), ("groups-nash", "gramian"), ("groups-upgrad", "jacobian"),
          ("groups-upgrad", "gramian")]
CASES += [(a, "auto") for a in LOSS_METHODS]


@pytest.mark.parametrize(("name", "backend"), CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_grad_is_scale_times_unscaled_and_state_identical(name: str, backend: str) -> None:
    """Three steps side by side: ``.grad`` with grad_scale is s × ``.grad`` without, the weights and the methods'
    states are the same, and the result's losses and update norm are unscaled."""
    runs = []
    scales = (SCALE, SCALE, 1000.0)  # a float, a 0-dim tensor (GradScaler-style), a scale that is no power of 2
    for scaled in (False, True):
        trunk, heads = make_model()
        agg = build(name.removeprefix("groups-") if name == "groups-upgrad" else name)
        params = [*trunk.parameters(), *heads.parameters(), *own_params(agg)]
        groups = [trunk[0], trunk[2]] if name.startswith("groups-") else None
        grads, results = [], []
        for step in range(3):
            x, ys = batch(step)
            z, losses = forward(trunk, heads, x, ys)
            for p in params:
                p.grad = None
            s = None if not scaled else torch.tensor(scales[step]) if step == 1 else scales[step]
            result = mtlkit.backward(losses, None if groups else trunk, agg, backend=backend, groups=groups,
                                     representation=z, task_params=heads, grad_scale=s)
            assert not result.skipped
            grads.append(flat_grads(params))
            results.append(result)
            with torch.no_grad():
                for p in params:
                    p -= 0.05 * p.grad / (scales[step] if scaled else 1.0)
            if name == "famo":
                _, after = forward(trunk, heads, x, ys)
                mtlkit.after_step(agg, after)
        runs.append((grads, results, agg))
    (g0, r0, a0), (g1, r1, a1) = runs
    for step in range(3):
        torch.testing.assert_close(g1[step], scales[step] * g0[step], rtol=1e-6, atol=1e-9)
        torch.testing.assert_close(r1[step].losses, r0[step].losses, rtol=1e-12, atol=0)
        for field in ("weights", "gramian"):
            want, got = getattr(r0[step], field), getattr(r1[step], field)
            assert (want is None) == (got is None), field
            if want is not None:
                torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-12)
        if r0[step].update_norm is not None:
            assert math.isclose(r1[step].update_norm, r0[step].update_norm, rel_tol=1e-6)
        assert r1[step].backend == r0[step].backend
    assert_same_state(states(a1), states(a0))


@pytest.mark.parametrize("backend", ["jacobian", "gramian", "representation"])
@pytest.mark.parametrize("chunk_size", [None, 2])
def test_stacked_losses_and_weighted_heads(backend: str, chunk_size: int | None) -> None:
    """A (K,) loss tensor (the vmapped path) and heads weighted like the shared parameters: still s × .grad."""
    out = []
    for scale in (None, torch.tensor(SCALE)):
        trunk, heads = make_model()
        z, losses = forward(trunk, heads, *batch(0))
        mtlkit.backward(torch.stack(losses), trunk, build("nash"), backend=backend, representation=z,
                        task_params=heads, task_weighting="weighted", chunk_size=chunk_size, grad_scale=scale)
        out.append(flat_grads([*trunk.parameters(), *heads.parameters()]))
    torch.testing.assert_close(out[1], SCALE * out[0], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backend", ["jacobian", "gramian", "representation"])
def test_none_and_one_are_bit_identical(backend: str) -> None:
    out = []
    for scale in (None, 1.0):
        trunk, heads = make_model()
        z, losses = forward(trunk, heads, *batch(0))
        mtlkit.backward(losses, trunk, build("nash"), backend=backend, representation=z, task_params=heads,
                        grad_scale=scale)
        out.append(flat_grads([*trunk.parameters(), *heads.parameters()]))
    assert torch.equal(out[0], out[1])


def test_float16_representation_rows() -> None:
    """A float16 representation: the rows stay float16 (scaled), the Gramian is formed in float32 and divided by
    s² in float64; the weights equal those of a float32 run."""
    weights = []
    for dtype, scale in ((torch.float32, None), (torch.float16, 2.0**10)):
        trunk, heads = make_model(torch.float32)
        x, ys = batch(0, torch.float32)
        z = trunk(x).to(dtype)
        losses = [nn.functional.mse_loss(h(z.float()).squeeze(1), ys[:, i]) for i, h in enumerate(heads)]
        result = mtlkit.backward(losses, trunk, "upgrad", backend="representation", representation=z,
                                 task_params=heads, grad_scale=scale)
        weights.append(result.weights)
    torch.testing.assert_close(weights[1], weights[0], rtol=2e-3, atol=1e-4)


def _bad_forward(trunk: nn.Module, heads: nn.ModuleList, x: torch.Tensor, ys: torch.Tensor
                 ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Finite losses whose gradients overflow float32 once scaled by 2^16 (task 1 × 1e36)."""
    z, losses = forward(trunk, heads, x, ys)
    losses[1] = losses[1] * 1e36
    return z, losses


@pytest.mark.parametrize(("name", "backend"), [("nash", "jacobian"), ("nash", "gramian"), ("upgrad", "representation"),
                                               ("moco", "jacobian"), ("groups-nash", "gramian")])
def test_grad_scaler_skips_then_steps_like_fp32(name: str, backend: str) -> None:
    """The real GradScaler workflow: an overflowing step is skipped (aggregator state, parameters unchanged, scale
    halved), the next one updates the parameters as an unscaled float32 step with a fresh method does."""
    trunk, heads = make_model(torch.float32)
    agg = build(name)
    groups = [trunk[0], trunk[2]] if name.startswith("groups-") else None
    params = [*trunk.parameters(), *heads.parameters()]
    opt = torch.optim.SGD(params, lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    fresh_state = states(build(name))
    x, ys = batch(0, torch.float32)

    def step(losses: list[torch.Tensor], z: torch.Tensor) -> mtlkit.BackwardResult:
        opt.zero_grad(set_to_none=True)
        grad_scale = scaler.scale(torch.ones(()))  # the current scale, as a tensor (initialises the scaler)
        result = mtlkit.backward(losses, None if groups else trunk, agg, backend=backend, groups=groups,
                                 representation=z, task_params=heads, grad_scale=grad_scale)
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        scaler.step(opt)
        scaler.update()
        return result

    before = [p.detach().clone() for p in params]
    z, losses = _bad_forward(trunk, heads, x, ys)
    result = step(losses, z)
    assert result.skipped
    assert result.weights is None
    assert result.as_dict()["skipped"] is True
    assert not any(bool(torch.isfinite(p.grad).any()) for p in params)  # inf, NaN after clipping
    assert all(torch.equal(p, b) for p, b in zip(params, before))
    assert scaler.get_scale() == 2.0**15
    assert_same_state(states(agg), fresh_state)

    z, losses = forward(trunk, heads, x, ys)
    result = step(losses, z)
    assert not result.skipped
    assert scaler.get_scale() == 2.0**15

    ref_trunk, ref_heads = make_model(torch.float32)
    ref_params = [*ref_trunk.parameters(), *ref_heads.parameters()]
    z, losses = forward(ref_trunk, ref_heads, x, ys)
    ref = mtlkit.backward(losses, None if groups else ref_trunk, build(name), backend=backend,
                          groups=None if groups is None else [ref_trunk[0], ref_trunk[2]], representation=z,
                          task_params=ref_heads)
    torch.nn.utils.clip_grad_norm_(ref_params, 10.0)
    torch.optim.SGD(ref_params, lr=0.1).step()
    for p, q in zip(params, ref_params):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    if ref.weights is not None:
        torch.testing.assert_close(result.weights, ref.weights, rtol=1e-5, atol=1e-7)


def test_without_grad_scale_non_finite_gradients_still_raise() -> None:
    """grad_scale=None keeps raising on a non-finite per-task gradient; with grad_scale the same input skips."""
    for scale in (None, SCALE):
        trunk, heads = make_model(torch.float32)
        x, ys = batch(0, torch.float32)
        x[0, 0] = math.inf  # tanh saturates: finite losses, NaN gradients (0 × inf)
        _, losses = forward(trunk, heads, x, ys)
        assert all(math.isfinite(float(loss.detach())) for loss in losses)
        if scale is None:
            with pytest.raises(ValueError, match="NaN or Inf"):
                mtlkit.backward(losses, trunk, "nash", backend="jacobian", task_params=heads)
        else:
            assert mtlkit.backward(losses, trunk, "nash", backend="jacobian", task_params=heads,
                                   grad_scale=scale).skipped


def test_non_finite_losses_skip_loss_based_methods_without_touching_their_state() -> None:
    """DWA's loss history and UW's parameters: a NaN loss skips the step before the method sees it."""
    for name in ("dwa", "uw", "famo", "linear"):
        trunk, heads = make_model()
        agg = build(name)
        fresh = states(build(name))
        x, ys = batch(0)
        x[0, 0] = math.nan
        _, losses = forward(trunk, heads, x, ys)
        result = mtlkit.backward(losses, trunk, agg, task_params=heads, grad_scale=SCALE)
        assert result.skipped
        assert result.weights is None
        assert result.backend == ("one_backward" if name == "linear" else "losses")
        assert all(bool(torch.isinf(p.grad).all()) for p in [*trunk.parameters(), *heads.parameters(),
                                                               *own_params(agg)])
        assert_same_state(states(agg), fresh)


def test_one_backward_lets_non_finite_gradients_flow() -> None:
    """Constant weights (one backward): an overflowing gradient goes into .grad as computed, the result says so."""
    trunk, heads = make_model(torch.float32)
    _, losses = _bad_forward(trunk, heads, *batch(0, torch.float32))
    result = mtlkit.backward(losses, trunk, "linear", task_params=heads, grad_scale=2.0**16)
    assert result.backend == "one_backward"
    assert result.skipped
    assert not bool(torch.isfinite(flat_grads(list(trunk.parameters()))).all())


def test_bad_grad_scale() -> None:
    trunk, heads = make_model()
    for bad, err in ((0.0, ValueError), (-1.0, ValueError), (math.inf, ValueError), ("2", TypeError),
                     (torch.ones(2), ValueError), (torch.tensor(-2.0), ValueError), (torch.tensor(4), ValueError)):
        _, losses = forward(trunk, heads, *batch(0))
        with pytest.raises(err, match="grad_scale"):
            mtlkit.backward(losses, trunk, "upgrad", task_params=heads, grad_scale=bad)


def test_autocast_fp16_with_grad_scaler_trains() -> None:
    """A few steps under CPU float16 autocast with GradScaler: finite losses that go down."""
    try:
        with torch.autocast("cpu", dtype=torch.float16):
            probe = nn.Linear(2, 2)(torch.ones(1, 2))
        ok = probe.dtype == torch.float16
    except (RuntimeError, ValueError) as exc:  # pragma: no cover - depends on the torch build
        pytest.skip(f"CPU float16 autocast unavailable: {exc}")
    if not ok:  # pragma: no cover
        pytest.skip("CPU float16 autocast does not produce float16 here")
    trunk, heads = make_model(torch.float32)
    params = [*trunk.parameters(), *heads.parameters()]
    opt = torch.optim.SGD(params, lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    agg = mtlkit.get_aggregator("nash")
    x, ys = batch(0, torch.float32)
    totals, skipped = [], 0
    for _ in range(12):
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.float16):
            z = trunk(x)
            assert z.dtype == torch.float16
            losses = [nn.functional.mse_loss(h(z).squeeze(1).float(), ys[:, i]) for i, h in enumerate(heads)]
        result = mtlkit.backward(losses, trunk, agg, backend="jacobian", task_params=heads,
                                 grad_scale=scaler.scale(torch.ones(())))
        skipped += result.skipped
        totals.append(float(sum(losses).detach()))
        scaler.step(opt)
        scaler.update()
    assert all(math.isfinite(t) for t in totals)
    assert skipped < 3
    assert totals[-1] < 0.8 * totals[0]


# -- two gloo processes ---------------------------------------------------------------------------------------


def _load_worker() -> Any:
    spec = importlib.util.spec_from_file_location("mtlkit_dist_worker_amp", WORKER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


worker = _load_worker()


@pytest.fixture(scope="module")
def amp_ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("dist_amp")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", "2",
           str(WORKER), str(out), "amp"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


@pytest.mark.parametrize(("agg", "backend", "comm"), worker.AMP_COMBOS,
                         ids=[f"{a}-{b}-{c}" for a, b, c in worker.AMP_COMBOS])
def test_distributed_grad_scale(amp_ranks: list[dict[str, Any]], agg: str, backend: str, comm: str) -> None:
    """Both ranks write bit-identical scaled gradients, equal to s × the single-process update; an overflow on ONE
    rank's data (everywhere, or only in a task head's columns) makes BOTH ranks skip alike."""
    r0, r1 = (r[f"{agg}/{backend}/{comm}/none"] for r in amp_ranks)
    assert torch.equal(torch.tensor(r0["grad"]), torch.tensor(r1["grad"]))
    assert not r0["skipped"]
    assert not r1["skipped"]
    single = worker.amp_step(agg, backend, rank=0, world=1, grad_scale=None)
    torch.testing.assert_close(torch.tensor(r0["grad"]) / worker.AMP_SCALE, torch.tensor(single["grad"]),
                               rtol=1e-5, atol=1e-5)  # float32: half batches against the whole one
    for bad in ("trunk", "head"):
        r0, r1 = (r[f"{agg}/{backend}/{comm}/{bad}"] for r in amp_ranks)
        g0, g1 = torch.tensor(r0["grad"]), torch.tensor(r1["grad"])
        assert r0["skipped"] == r1["skipped"], bad
        assert not bool(torch.isfinite(g0).all()), bad
        assert not bool(torch.isfinite(g1).all()), bad
        if bad == "trunk" or backend == "jacobian":  # per-task gradients that decide the skip
            assert r0["skipped"], bad
            assert r1["skipped"], bad
            assert bool(torch.isinf(g0).all())
            assert bool(torch.isinf(g1).all())
            assert r0["step"] == r1["step"] == (0 if agg == "nash" else -1)  # Nash never ran
        else:  # heads' gradients come after the weights on gramian/representation: they flow into .grad
            assert torch.equal(g0.isfinite(), g1.isfinite())
