"""Hardened inputs: every method rejects non-finite and non-floating input the same way; finite input in fp16 or
near float32's range is aggregated, not rejected; the jacobian backend frees the graph."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import mtlkit

NAMES = [info.name for info in mtlkit.list_aggregators()]


INFOS = {info.name: info for info in mtlkit.list_aggregators()}


def _build(name: str) -> mtlkit.Aggregator:
    options = {"num_tasks": 3} if name == "uw" else {}
    if INFOS[name].properties.randomised:  # two builds draw alike: the float64 comparison below is meaningful
        options["generator"] = torch.Generator().manual_seed(0)
    return mtlkit.get_aggregator(name, **options)


def _losses(K: int = 3) -> torch.Tensor:
    return torch.linspace(0.5, 1.5, K)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_jacobian_is_rejected_by_every_method(name, bad):
    J = torch.randn(3, 10)
    J[1, 4] = bad
    with pytest.raises(ValueError, match="not finite"):
        _build(name)(J, _losses())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool])
def test_non_floating_jacobian_is_rejected(name, dtype):
    J = torch.ones(3, 10, dtype=dtype)
    with pytest.raises(TypeError, match="floating-point"):
        _build(name)(J, _losses())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("dtype", "scale"), [(torch.float16, 300.0), (torch.bfloat16, 1e30), (torch.float32, 1e20),
                                              (torch.float32, 1e-25)])
def test_finite_input_near_the_range_limits_is_aggregated(name, dtype, scale):
    g = torch.Generator().manual_seed(0)
    J64 = torch.randn(3, 4000, generator=g, dtype=torch.float64) * scale
    J = J64.to(dtype)
    assert torch.isfinite(J).all()
    update = _build(name)(J, _losses())
    assert update.dtype == dtype
    assert torch.isfinite(update).all()
    # the same direction as the float64 computation on the rounded input
    ref = _build(name)(J.double(), _losses())
    u, r = update.double() / scale, ref / scale  # cosine_similarity's eps would swamp 1e-25-sized vectors
    cos = float(u @ r / (u.norm() * r.norm()))
    assert cos > 0.999


def test_gramian_overflow_is_avoided_exactly():
    J = torch.randn(4, 1000, dtype=torch.float32, generator=torch.Generator().manual_seed(1))
    for scales in ([1e20] * 4, [1e-25] * 4, [1e-25, 1.0, 1e20, 3.0]):
        Js = J * torch.tensor(scales)[:, None]
        G, ref = mtlkit.gramian(Js), Js.double() @ Js.double().T
        tol = 1e-5 * ref.diagonal().sqrt()  # float32 rounding, relative to the rows' norms
        assert ((G - ref).abs() <= tol[:, None] * tol[None, :] * 1e5).all(), scales
    G16 = mtlkit.gramian((torch.randn(3, 2000) * 300).half())
    assert torch.isfinite(G16).all()


def test_non_finite_losses_and_integer_losses_fail_in_backward():
    lin = nn.Linear(3, 1).double()
    out = lin(torch.randn(4, 3, dtype=torch.float64)).squeeze(1)
    with pytest.raises(ValueError, match="not finite"):
        mtlkit.backward([out.mean(), out.mean() * float("inf")], lin, "linear")


@pytest.mark.parametrize("name", ["dwa", "uw", "famo"])
def test_a_non_finite_loss_fails_before_a_loss_weighting_sees_it(name):
    """Loss-based methods take one backward: a NaN loss raises like on the other paths, the method's state intact."""
    lin = nn.Linear(3, 1).double()
    method = mtlkit.get_aggregator(name, **({"num_tasks": 2} if name == "uw" else {}))
    out = lin(torch.randn(4, 3, dtype=torch.float64)).squeeze(1)
    mtlkit.backward([out.mean(), out.pow(2).mean()], lin, method)
    before = repr(method.state_dict())
    out = lin(torch.randn(4, 3, dtype=torch.float64)).squeeze(1)
    with pytest.raises(ValueError, match="not finite"):
        mtlkit.backward([out.mean(), out.mean() * float("nan")], lin, method)
    assert repr(method.state_dict()) == before


def test_jacobian_backend_frees_the_graph():
    trunk = nn.Sequential(nn.Linear(4, 32), nn.Tanh()).double()
    heads = nn.ModuleList(nn.Linear(32, 1) for _ in range(3)).double()
    x = torch.randn(16, 4, dtype=torch.float64)
    for _ in range(2):  # the first batched backward of a process keeps the graph (see _jacobian.py)
        z = trunk(x)
        losses = [h(z).pow(2).mean() for h in heads]
        mtlkit.backward(losses, trunk, "nash", backend="jacobian")
    with pytest.raises(RuntimeError, match="second time"):
        torch.autograd.grad(losses[0], list(trunk.parameters()))
    z = trunk(x)
    losses = [h(z).pow(2).mean() for h in heads]
    mtlkit.backward(losses, trunk, "nash", backend="jacobian", retain_graph=True)
    assert torch.autograd.grad(losses[0], list(trunk.parameters()))  # kept on request


def test_input_checks_can_be_turned_off():
    J = torch.randn(3, 5)
    J[0, 0] = float("nan")
    previous = mtlkit.set_input_checks(False)
    try:
        assert not torch.isfinite(mtlkit.get_aggregator("linear")(J)).all()
    finally:
        mtlkit.set_input_checks(previous)
    assert mtlkit.input_checks_enabled()
