"""mtlkit.backward: each backend against plain autograd on small models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import mtlkit
from mtlkit import Properties, Weighting


class InverseNorm(Weighting):
    """Test weighting that depends nonlinearly on G: w_i = 1 / sqrt(G_ii)."""

    name = "inverse-norm-test"
    properties = Properties()

    def weights(self, G, losses=None):
        return 1.0 / G.diagonal().clamp_min(1e-30).sqrt()


class JacobianOnly(mtlkit.Aggregator):
    """Test aggregator that needs the Jacobian: the element-wise median of the rows."""

    name = "median-test"
    properties = Properties(needs=frozenset({"jacobian"}))

    def __call__(self, J, losses=None):
        return J.median(dim=0).values


def make_model(seed: int = 0, dtype=torch.float64):
    torch.manual_seed(seed)
    trunk = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8), nn.Tanh()).to(dtype)
    heads = nn.ModuleList([nn.Linear(8, 1) for _ in range(3)]).to(dtype)
    return trunk, heads


def forward(trunk, heads, seed: int = 1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 6, generator=g, dtype=dtype)
    ys = [torch.randn(32, 1, generator=g, dtype=dtype) for _ in heads]
    z = trunk(x)
    losses = [nn.functional.mse_loss(h(z), y) for h, y in zip(heads, ys)]
    return z, losses


def per_task_jacobian(losses, params):
    rows = []
    for loss in losses:
        gs = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(gs, params)]))
    return torch.stack(rows)


def grads_of(params):
    return torch.cat([p.grad.reshape(-1) for p in params])


@pytest.mark.parametrize("chunk_size", [None, 1, 2])
def test_jacobian_backend_linear_equals_plain_backward(chunk_size):
    trunk, heads = make_model()
    _, losses = forward(trunk, heads)
    result = mtlkit.backward(losses, trunk, "linear", backend="jacobian", task_params=heads, chunk_size=chunk_size)
    got = grads_of([*trunk.parameters(), *heads.parameters()])
    trunk2, heads2 = make_model()
    _, losses2 = forward(trunk2, heads2)
    sum(losses2).backward()
    want = grads_of([*trunk2.parameters(), *heads2.parameters()])
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert result.backend == "jacobian"
    assert result.weights.tolist() == [1.0, 1.0, 1.0]


def test_result_diagnostics_match_explicit_jacobian():
    trunk, heads = make_model()
    _, losses = forward(trunk, heads)
    J = per_task_jacobian(losses, list(trunk.parameters()))
    result = mtlkit.backward(losses, trunk, InverseNorm(), backend="jacobian", task_params=heads)
    G = J @ J.T
    torch.testing.assert_close(result.gramian, G)
    torch.testing.assert_close(result.gradient_norms, G.diagonal().sqrt())
    torch.testing.assert_close(result.cosine, G / torch.outer(G.diagonal().sqrt(), G.diagonal().sqrt()))
    w = 1 / G.diagonal().sqrt()
    torch.testing.assert_close(result.weights, w)
    torch.testing.assert_close(grads_of(list(trunk.parameters())), w @ J)
    assert result.update_norm == pytest.approx(float((w @ J).norm()))
    torch.testing.assert_close(result.losses, torch.stack(losses).detach())


@pytest.mark.parametrize("block_numel", [1 << 27, 50])
def test_gramian_backend_equals_jacobian_backend(block_numel):
    trunk, heads = make_model()
    _, losses = forward(trunk, heads)
    r1 = mtlkit.backward(losses, trunk, InverseNorm(), backend="jacobian", task_params=heads)
    g1 = grads_of([*trunk.parameters(), *heads.parameters()])
    trunk2, heads2 = make_model()
    _, losses2 = forward(trunk2, heads2)
    r2 = mtlkit.backward(losses2, trunk2, InverseNorm(), backend="gramian", task_params=heads2,
                         block_numel=block_numel)
    g2 = grads_of([*trunk2.parameters(), *heads2.parameters()])
    torch.testing.assert_close(g1, g2)
    torch.testing.assert_close(r1.gramian, r2.gramian)
    assert r2.update_norm == pytest.approx(r1.update_norm)


def test_auto_switches_to_gramian_for_large_jacobians():
    trunk, heads = make_model()
    _, losses = forward(trunk, heads)
    assert mtlkit.backward(losses, trunk, InverseNorm(), task_params=heads).backend == "jacobian"
    _, losses = forward(trunk, heads)
    assert mtlkit.backward(losses, trunk, InverseNorm(), max_jacobian_bytes=10).backend == "gramian"
    _, losses = forward(trunk, heads)  # a Jacobian-only aggregator stays exact on the jacobian backend
    assert mtlkit.backward(losses, trunk, JacobianOnly(), max_jacobian_bytes=10).backend == "jacobian"


@pytest.mark.parametrize("task_weighting", ["unweighted", "weighted"])
def test_representation_backend(task_weighting):
    trunk, heads = make_model()
    z, losses = forward(trunk, heads)
    Jz = per_task_jacobian(losses, [z])
    result = mtlkit.backward(losses, trunk, InverseNorm(), backend="representation", representation=z,
                             task_params=heads, task_weighting=task_weighting)
    w = 1 / (Jz @ Jz.T).diagonal().sqrt()
    torch.testing.assert_close(result.weights, w)
    assert result.space == "representation"
    trunk2, heads2 = make_model()
    _, losses2 = forward(trunk2, heads2)
    (w * torch.stack(losses2)).sum().backward()  # shared params: exactly the gradient of Σ w_i L_i
    torch.testing.assert_close(grads_of(list(trunk.parameters())), grads_of(list(trunk2.parameters())))
    trunk3, heads3 = make_model()
    _, losses3 = forward(trunk3, heads3)
    head_w = w if task_weighting == "weighted" else torch.ones(3, dtype=torch.float64)
    (head_w * torch.stack(losses3)).sum().backward()
    torch.testing.assert_close(grads_of(list(heads.parameters())), grads_of(list(heads3.parameters())))


def test_jacobian_only_aggregator_and_accumulation():
    trunk, heads = make_model()
    for p in trunk.parameters():
        p.grad = torch.ones_like(p)
    _, losses = forward(trunk, heads)
    params = list(trunk.parameters())
    J = per_task_jacobian(losses, params)
    result = mtlkit.backward(losses, params, JacobianOnly())
    torch.testing.assert_close(grads_of(params), J.median(dim=0).values + 1)
    assert result.weights is None


def test_unused_parameter_gets_zero_gradient_and_float32():
    torch.manual_seed(0)
    used, unused = nn.Linear(4, 4), nn.Linear(4, 4)
    x = torch.randn(8, 4)
    losses = [used(x).pow(2).mean(), used(x).sum().abs()]
    mtlkit.backward(losses, [*used.parameters(), *unused.parameters()], "linear")
    assert all((p.grad == 0).all() for p in unused.parameters())
    assert all(p.grad.dtype == torch.float32 for p in used.parameters())


def test_errors_are_clear():
    trunk, heads = make_model()
    _, losses = forward(trunk, heads)
    with pytest.raises(ValueError, match="unknown backend"):
        mtlkit.backward(losses, trunk, "linear", backend="magic")
    with pytest.raises(ValueError, match="needs representation"):
        mtlkit.backward(losses, trunk, "linear", backend="representation")
    with pytest.raises(ValueError, match="Gramian-based"):
        mtlkit.backward(losses, trunk, JacobianOnly(), backend="gramian")
    with pytest.raises(ValueError, match="at least one loss"):
        mtlkit.backward([], trunk, "linear")
    with pytest.raises(ValueError, match="not a scalar"):
        mtlkit.backward([torch.ones(3, requires_grad=True)], trunk, "linear")
    with pytest.raises(ValueError, match="both in params and in task_params"):
        mtlkit.backward(losses, trunk, "linear", task_params=trunk)
    with pytest.raises(KeyError, match="did you mean linear"):
        mtlkit.backward(losses, trunk, "linera")
    with pytest.raises(ValueError, match="NaN or Inf"):
        mtlkit.backward([losses[0] * float("nan"), losses[1]], trunk, "linear")


def test_representation_backend_separate_losses_equal_stacked():
    """Separate losses take one backward each over their own graph; a stacked vector one vmapped backward."""
    results, grads = [], []
    for stacked in (False, True):
        trunk, heads = make_model()
        z, losses = forward(trunk, heads)
        given = torch.stack(losses) if stacked else losses
        results.append(mtlkit.backward(given, trunk, "nash", backend="representation", representation=z,
                                       task_params=heads))
        grads.append(grads_of([*trunk.parameters(), *heads.parameters()]))
    torch.testing.assert_close(results[0].gramian, results[1].gramian, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(results[0].weights, results[1].weights, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-9, atol=1e-12)


def test_jacobian_rows_from_separate_terms():
    from mtlkit._jacobian import jacobian

    trunk, heads = make_model()
    z, losses = forward(trunk, heads)
    L = torch.stack(losses)
    want = per_task_jacobian(losses, [z])
    torch.testing.assert_close(jacobian(L, [z], chunk_size=1, retain_graph=True, terms=losses), want)
    torch.testing.assert_close(jacobian(L, [z], retain_graph=True, terms=losses), want)  # vmapped: terms unused
