"""Nash-MTL's floor on gradient norms (``min_norm_ratio``, default 1e-3): a task whose gradient is ~0 gets a
bounded weight, unless that would make the update conflict with it; normal Gramians are untouched.

The default was measured by ``benchmarks/nash_floor.py`` (see docs/mtlkit/aggregators.md): the default model's
100 logged Gramians have min ‖g_i‖/max ‖g_j‖ = 4.2e-3, so 1e-3 never touches them (1e-2 moved 4 of them), while
a zero foot-contact gradient's weight drops from 2.2e5/max‖g‖ to 1e3/max‖g‖.
"""

from __future__ import annotations

import math

import pytest
import torch

from mtlkit import NashMTL, gramian
from mtlkit.testing import check_aggregator, seeded

SOLVERS = ("numpy", "torch")


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the torch path is hundreds of tiny ops
    yield
    torch.set_num_threads(threads)


def jacobian(K: int = 5, P: int = 40, seed: int = 0) -> torch.Tensor:
    gen = seeded(seed)
    J = torch.randn(K, P, generator=gen, dtype=torch.float64) + 0.5 * torch.randn(P, generator=gen,
                                                                                  dtype=torch.float64)
    return J * torch.exp(torch.randn(K, 1, generator=gen, dtype=torch.float64))


def with_tiny_task(J: torch.Tensor, direction: torch.Tensor, s: float = 1e-6) -> torch.Tensor:
    """J with task 0 replaced by ``direction`` scaled to s × the largest gradient norm."""
    J = J.clone()
    J[0] = 0.0 if s == 0 else direction / direction.norm() * s * float(J[1:].norm(dim=1).max())
    return J


def bound(G: torch.Tensor, i: int, ratio: float = 1e-3) -> float:
    """The stated bound: a floored task that the update does not conflict with has ``δ α_i² ≤ 1`` for the amount
    ``δ = r² max_j G_jj − G_ii`` added to its diagonal (from ``α_i((G + δ e_i e_iᵀ)α)_i = 1`` and ``(Gα)_i ≥ 0``),
    i.e. ``α_i ≤ 1/√δ ≈ 1/(r max_j ‖g_j‖)``."""
    return 1.0 / math.sqrt(ratio * ratio * float(G.diagonal().max()) - float(G[i, i]))


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("s", [1e-6, 0.0])
def test_a_tiny_or_zero_gradient_gets_a_bounded_weight(solver, s):
    J0 = jacobian()
    n_max = float(J0[1:].norm(dim=1).max())
    for name, direction in {"shared": J0[1:].sum(0), "orthogonal": torch.linalg.svd(J0[1:]).Vh[-1],
                            "partly shared": torch.randn(40, generator=seeded(5), dtype=torch.float64) / 6.3
                            + J0[1:].sum(0) / J0[1:].sum(0).norm()}.items():
        J = with_tiny_task(J0, direction, s)
        G = gramian(J)
        nash = NashMTL(max_norm=None, solver=solver)
        w = nash.weights(G)
        assert int(nash.diagnostics["floored"]) == 1, name
        assert not bool(nash.diagnostics["floor_rejected"]), name
        assert float(w[0]) <= bound(G, 0) * (1 + 1e-9), name
        assert float(w[0]) * n_max <= 1000.0 * (1 + 1e-6), name  # ≈ 1/r, against 1e6 (s = 1e-6) without the floor
        # the other tasks bargain as if task 0 were not there, up to its own share ‖α_0 g_0‖ ≤ s/r = 1e-3
        rest = NashMTL(max_norm=None, solver=solver).weights(gramian(J[1:]))
        torch.testing.assert_close(w[1:], rest, rtol=3e-3, atol=0, msg=name)
        assert (J @ (w @ J) >= -1e-12 * n_max).all(), name  # still non-conflicting
        assert float(nash.diagnostics["update_norm"]) == pytest.approx(float((w @ J).norm()), rel=1e-9)
        clipped = NashMTL(solver=solver)  # max_norm=1.0: the update has norm 1, the weights are smaller still
        assert float((clipped.weights(G) @ J).norm()) == pytest.approx(1.0, rel=1e-9)
        assert float(clipped.diagnostics["alpha"][0]) <= bound(G, 0) * (1 + 1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_off_gives_the_bargaining_solution(solver):
    J0 = jacobian(seed=1)
    v = J0[1:].sum(0)
    tiny, normal = with_tiny_task(J0, v, 1e-6), with_tiny_task(J0, v, 1.0)
    off = NashMTL(max_norm=None, min_norm_ratio=0.0, solver=solver)
    w = off.weights(gramian(tiny))
    assert int(off.diagnostics["floored"]) == 0
    # scale invariance, g_0 → 1e-6 g_0 gives α_0 → 1e6 α_0: the weight ~1/‖g_0‖ that the floor bounds
    w1 = NashMTL(max_norm=None, min_norm_ratio=0.0, solver=solver).weights(gramian(normal))
    torch.testing.assert_close(w * 1e-6 ** torch.tensor([1.0, 0, 0, 0, 0], dtype=torch.float64), w1, rtol=1e-8,
                               atol=0)
    assert float(w[0]) * float(J0[1:].norm(dim=1).max()) > 1e5
    Z = with_tiny_task(J0, v, 0.0)  # a zero gradient: the ridge weight 1/√(ε tr(G)/K), "regularised"
    off.reset()
    w = off.weights(gramian(Z))
    assert bool(off.diagnostics["regularised"])
    assert float(w[0]) == pytest.approx(1 / math.sqrt(1e-10 * float(gramian(Z).trace()) / 5), rel=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
def test_normal_gramians_are_unchanged(solver):
    for seed in range(10):  # norms spread e^±1 (ratios ≥ 1e-2 here): no task below 1e-3 × the largest
        G = gramian(jacobian(K=4 + seed, seed=10 + seed))
        default = NashMTL(max_norm=None, solver=solver)
        w = default.weights(G)
        assert int(default.diagnostics["floored"]) == 0
        off = NashMTL(max_norm=None, min_norm_ratio=0.0, solver=solver).weights(G)
        torch.testing.assert_close(w, off, rtol=1e-12, atol=0)


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_tiny_gradient_opposing_the_update_keeps_the_plain_weights(solver):
    J0 = jacobian(seed=2)
    away = -J0[1:].sum(0) / J0[1:].sum(0).norm() + 0.5 * torch.linalg.svd(J0[1:]).Vh[-1]  # not in their span
    J = with_tiny_task(J0, away)  # bounding its weight would make the update conflict with it
    G = gramian(J)
    nash = NashMTL(max_norm=None, solver=solver)
    w = nash.weights(G)
    assert bool(nash.diagnostics["floor_rejected"])
    assert int(nash.diagnostics["floored"]) == 0
    torch.testing.assert_close(w, NashMTL(max_norm=None, min_norm_ratio=0.0, solver="numpy").weights(G),
                               rtol=1e-9, atol=0)
    update = w @ J
    assert (J @ update >= -1e-9 * J.norm(dim=1) * float((w.abs() * J.norm(dim=1)).sum())).all()


@pytest.mark.parametrize("ratio", [0.0, 1e-2])
def test_other_floors_keep_the_contract(ratio):
    assert check_aggregator("nash", min_norm_ratio=ratio) == []


@pytest.mark.parametrize("value", [-0.1, 1.0, float("nan"), "1e-3", True])
def test_bad_min_norm_ratio(value):
    with pytest.raises(ValueError, match="min_norm_ratio"):
        NashMTL(min_norm_ratio=value)
