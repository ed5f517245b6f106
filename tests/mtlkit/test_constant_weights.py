"""Constant-weight methods (``linear``) under ``backend="auto"``: ONE backward of Σ w_i L_i, the same ``.grad`` as
the K-gradient path (an explicit backend), diagnostics saying so."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

import mtlkit
from mtlkit import constant_weights

EDGE = [0.636, 2.964, 0.646, 10.942, 1.0]
K = 5


class CountBackward(torch.autograd.Function):
    """Identity whose backward counts how often gradients flow through it."""

    calls = 0

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:  # type: ignore[override]
        CountBackward.calls += 1
        return g


def make(dtype: torch.dtype = torch.float64, seed: int = 0, count: bool = False
         ) -> tuple[nn.Module, nn.ModuleList, list[Tensor]]:
    torch.manual_seed(seed)
    trunk = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 16), nn.Tanh()).to(dtype)
    heads = nn.ModuleList(nn.Linear(16, 1) for _ in range(K)).to(dtype)
    x = torch.randn(24, 6, dtype=dtype)
    y = torch.randn(24, K, dtype=dtype)
    z = trunk(x)
    if count:
        z = CountBackward.apply(z)
    losses = [(h(z).squeeze(1) - y[:, i]).pow(2).mean() * (i + 1) for i, h in enumerate(heads)]
    return trunk, heads, losses


def grads(*modules: nn.Module) -> Tensor:
    return torch.cat([p.grad.reshape(-1) for m in modules for p in m.parameters()])


@pytest.mark.parametrize("weights", [None, EDGE])
@pytest.mark.parametrize("task_weighting", [None, "unweighted", "weighted"])
def test_one_backward_gives_the_k_gradient_update(weights, task_weighting):
    results, got = [], []
    for backend in ("auto", "jacobian"):
        trunk, heads, losses = make()
        agg = mtlkit.get_aggregator("linear", weights=weights)
        results.append(mtlkit.backward(losses, trunk, agg, backend=backend, task_params=heads,
                                       task_weighting=task_weighting))
        got.append(grads(trunk, heads))
    one, per_task = results
    torch.testing.assert_close(got[0], got[1], rtol=1e-12, atol=1e-14)
    assert one.backend == "one_backward"
    assert one.space == "constant"
    assert one.gramian is None
    assert one.gradient_norms is None
    assert one.cosine is None
    assert one.diagnostics["one_backward"] is True
    assert per_task.backend == "jacobian"
    assert per_task.gradient_norms is not None
    assert one.weights.dtype == torch.float64
    torch.testing.assert_close(one.weights, per_task.weights, rtol=0, atol=0)
    torch.testing.assert_close(one.losses, per_task.losses, rtol=0, atol=0)
    assert one.update_norm == pytest.approx(per_task.update_norm, rel=1e-10)
    assert one.as_dict()["gradient_norms"] is None


def test_mean_takes_one_backward_with_the_same_update():
    got = []
    for backend in ("auto", "jacobian"):
        trunk, heads, losses = make(count=True)
        CountBackward.calls = 0
        result = mtlkit.backward(losses, trunk, mtlkit.get_aggregator("mean"), backend=backend, task_params=heads,
                                 chunk_size=1)
        got.append(grads(trunk, heads))
        assert result.backend == ("one_backward" if backend == "auto" else "jacobian")
        assert CountBackward.calls == (1 if backend == "auto" else K)
    torch.testing.assert_close(got[0], got[1], rtol=1e-12, atol=1e-14)


def test_float32_within_1e_6():
    out = []
    for backend in ("auto", "jacobian"):
        trunk, heads, losses = make(torch.float32)
        mtlkit.backward(losses, trunk, mtlkit.get_aggregator("linear", weights=EDGE), backend=backend,
                        task_params=heads)
        out.append(grads(trunk, heads))
    # the same sum in another order: float32 rounding, ≤ 1e-6 of the update's norm
    assert float((out[0] - out[1]).norm()) <= 1e-6 * float(out[1].norm())


def test_exactly_one_backward_through_the_trunk():
    for backend, expected in (("auto", 1), ("jacobian", None)):
        trunk, heads, losses = make(count=True)
        CountBackward.calls = 0
        mtlkit.backward(losses, trunk, mtlkit.get_aggregator("linear", weights=EDGE), backend=backend,
                        task_params=heads, chunk_size=1)  # the per-task path: one backward per task
        assert CountBackward.calls == (expected if expected is not None else K), backend


def test_weights_that_may_depend_on_gradients_keep_the_per_task_path():
    class Reweighted(mtlkit.Linear):
        def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
            return 1.0 / G.diagonal().sqrt()

    trunk, heads, losses = make()
    assert constant_weights(Reweighted(), K, losses[0]) is None
    assert constant_weights(mtlkit.get_aggregator("nash"), K, losses[0]) is None
    result = mtlkit.backward(losses, trunk, Reweighted(), task_params=heads)
    assert result.backend == "jacobian"
    assert result.gradient_norms is not None


def test_unused_parameters_errors_and_retain_graph():
    torch.manual_seed(0)
    used, unused = nn.Linear(4, 4), nn.Linear(4, 4)
    x = torch.randn(8, 4)
    losses = [used(x).pow(2).mean(), used(x).sum().abs()]
    result = mtlkit.backward(losses, [*used.parameters(), *unused.parameters()], "linear", retain_graph=True)
    assert result.backend == "one_backward"
    assert all((p.grad == 0).all() for p in unused.parameters())
    assert torch.autograd.grad(losses[0], list(used.parameters()))  # the graph was kept on request
    with pytest.raises(ValueError, match="has 3 weights but got 2 tasks"):
        mtlkit.backward([used(x).mean(), used(x).sum()], used, mtlkit.get_aggregator("linear", weights=[1, 2, 3]))
    with pytest.raises(ValueError, match="NaN or Inf"):
        mtlkit.backward([used(x).mean() * float("nan"), used(x).sum()], used, "linear")
    out = used(x).clamp_min(0).sqrt().sum()  # finite loss, infinite gradient at 0
    with pytest.raises(ValueError, match="not finite"):
        mtlkit.backward([out, used(x).sum() * 0 + (used.weight * 0).sum().sqrt()], used, "linear")


def test_representation_backend_still_available():
    trunk, heads, _ = make()
    torch.manual_seed(1)
    x = torch.randn(24, 6, dtype=torch.float64)
    rep = trunk(x)
    losses = [h(rep).pow(2).mean() for h in heads]
    result = mtlkit.backward(losses, trunk, "linear", backend="representation", representation=rep, task_params=heads)
    assert result.backend == "representation"
    assert result.gradient_norms is not None
