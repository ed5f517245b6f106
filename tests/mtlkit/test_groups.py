"""Per-group aggregation: each group of shared parameters gets its own weighting of the task gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import mtlkit


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    trunk = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 6), nn.Tanh()).double()
    heads = nn.ModuleList(nn.Linear(6, 1) for _ in range(3)).double()
    x, y = torch.randn(20, 5, dtype=torch.float64), torch.randn(20, 3, dtype=torch.float64)
    return trunk, heads, x, y


def _losses(trunk, heads, x, y):
    z = trunk(x)
    return [nn.functional.mse_loss(h(z).squeeze(1), y[:, i]) for i, h in enumerate(heads)]


def _grads(trunk):
    return [p.grad.clone() for p in trunk.parameters()]


def _expected(name: str, seed: int = 0) -> list[torch.Tensor]:
    """Each group's update computed by hand: its own Jacobian, its own Gramian, a fresh method per group."""
    trunk, heads, x, y = _setup(seed)
    losses = _losses(trunk, heads, x, y)
    out = []
    for group in (list(trunk[0].parameters()), list(trunk[2].parameters())):
        rows = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(L, group, retain_graph=True)]) for L in losses]
        J = torch.stack(rows)
        w = mtlkit.get_aggregator(name).weights(mtlkit.gramian(J))
        update = w @ J
        out += [u.view_as(p) for u, p in zip(torch.split(update, [p.numel() for p in group]), group)]
    return out


@pytest.mark.parametrize("backend", ["jacobian", "gramian"])
@pytest.mark.parametrize("name", ["nash", "aligned"])
def test_each_group_gets_its_own_weights(name, backend):
    trunk, heads, x, y = _setup()
    aggs = [mtlkit.get_aggregator(name), mtlkit.get_aggregator(name)]
    result = mtlkit.backward(_losses(trunk, heads, x, y), None, aggs, backend, groups=[trunk[0], trunk[2]],
                             task_params=heads)
    for got, want in zip(_grads(trunk), _expected(name)):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    assert len(result.groups) == 2
    assert result.weights is None
    torch.testing.assert_close(result.gramian, result.groups[0].gramian + result.groups[1].gramian)
    assert not torch.allclose(result.groups[0].weights, result.groups[1].weights)


def test_a_name_builds_one_method_per_group_and_heads_are_unweighted():
    trunk, heads, x, y = _setup()
    mtlkit.backward(_losses(trunk, heads, x, y), trunk, "nash", groups=[trunk[0], trunk[2]], task_params=heads)
    for got, want in zip(_grads(trunk), _expected("nash")):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    ref_trunk, ref_heads, x, y = _setup()
    sum(_losses(ref_trunk, ref_heads, x, y)).backward()
    for p, q in zip(heads.parameters(), ref_heads.parameters()):
        torch.testing.assert_close(p.grad, q.grad)


def test_group_errors_are_clear():
    trunk, heads, x, y = _setup()
    losses = _losses(trunk, heads, x, y)
    with pytest.raises(ValueError, match="stateful"):
        mtlkit.backward(losses, None, mtlkit.NashMTL(), groups=[trunk[0], trunk[2]], retain_graph=True)
    with pytest.raises(ValueError, match="two groups"):
        mtlkit.backward(losses, None, "linear", groups=[trunk[0], trunk], retain_graph=True)
    with pytest.raises(ValueError, match="3 aggregators for 2 groups"):
        mtlkit.backward(losses, None, ["linear"] * 3, groups=[trunk[0], trunk[2]], retain_graph=True)
    with pytest.raises(ValueError, match="representation backend"):
        mtlkit.backward(losses, None, "linear", "representation", groups=[trunk[0], trunk[2]], retain_graph=True)
    with pytest.raises(ValueError, match="ambiguous"):
        mtlkit.backward(losses, None, "linear", groups=[trunk[0], trunk[2]], task_params=heads,
                        task_weighting="weighted", retain_graph=True)
    with pytest.raises(ValueError, match=r"needs params \(the shared parameters\) or groups"):
        mtlkit.backward(losses, None, "linear")


def test_a_stateless_instance_serves_every_group():
    trunk, heads, x, y = _setup()
    agg = mtlkit.AlignedMTL()
    mtlkit.backward(_losses(trunk, heads, x, y), None, agg, groups=[trunk[0], trunk[2]], task_params=heads)
    for got, want in zip(_grads(trunk), _expected("aligned")):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
