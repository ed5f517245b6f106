"""PCGrad on the Gramian vs a direct implementation on the gradient vectors, K = 2 closed form, randomness."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import mtlkit
from mtlkit import PCGrad, gramian
from mtlkit._pcgrad import draw_orders, pcgrad_coefficients


def rand_jacobian(K: int, P: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    J = torch.randn(K, P, generator=gen, dtype=torch.float64)  # independent rows: many conflicts
    return (J * torch.exp(torch.randn(K, 1, generator=gen, dtype=torch.float64))).to(dtype)


def projected_on_vectors(J: torch.Tensor, i: int, order) -> torch.Tensor:
    """Algorithm 1 of the paper for task i on the explicit gradients, visiting the tasks in ``order``."""
    g = J[i].clone()
    for j in order:
        if j == i:
            continue
        dot = g @ J[j]
        if dot < 0:
            g = g - dot / (J[j] @ J[j]) * J[j]
    return g


def pcgrad_on_vectors(J: torch.Tensor, orders) -> torch.Tensor:
    return torch.stack([projected_on_vectors(J, i, order) for i, order in enumerate(orders)]).sum(dim=0)


def all_orders(K: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([rng.permutation([j for j in range(K) if j != i]) for i in range(K)]).reshape(K, K - 1)


@pytest.mark.parametrize(("K", "P"), [(2, 5), (3, 10), (5, 8), (8, 30)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_vector_algorithm_for_fixed_orders(K, P, seed):
    J = rand_jacobian(K, P, 10 * K + seed)
    orders = all_orders(K, seed)
    coef, projections = pcgrad_coefficients(gramian(J).numpy(), orders)
    update = torch.from_numpy(coef.sum(axis=0)) @ J
    torch.testing.assert_close(update, pcgrad_on_vectors(J, orders.tolist()), rtol=1e-10, atol=1e-10)
    each = torch.stack([projected_on_vectors(J, i, orders[i].tolist()) for i in range(K)])
    torch.testing.assert_close(torch.from_numpy(coef) @ J, each, rtol=1e-10, atol=1e-10)
    assert projections > 0 or bool((gramian(J) >= 0).all())


def test_every_order_of_three_tasks():
    J = rand_jacobian(3, 6, 42)
    G = gramian(J).numpy()
    for rows in itertools.product(*[list(itertools.permutations([j for j in range(3) if j != i])) for i in range(3)]):
        orders = np.array(rows)
        coef, _ = pcgrad_coefficients(G, orders)
        torch.testing.assert_close(torch.from_numpy(coef.sum(axis=0)) @ J, pcgrad_on_vectors(J, rows))


def test_two_tasks_closed_form():
    g1 = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64)
    g2 = torch.tensor([-1.0, 1.0, 0.5], dtype=torch.float64)  # g1·g2 = 0 → no projection
    J = torch.stack([g1, g2])
    torch.testing.assert_close(PCGrad(seed=0)(J), g1 + g2)
    g2 = torch.tensor([-2.0, 1.0, -0.5], dtype=torch.float64)  # g1·g2 = −3 < 0
    J = torch.stack([g1, g2])
    d = g1 @ g2
    expected = (g1 - d / (g2 @ g2) * g2) + (g2 - d / (g1 @ g1) * g1)
    agg = PCGrad(seed=0)
    update = agg(J)
    torch.testing.assert_close(update, expected)
    assert agg.diagnostics["projections"] == 2
    coef = agg.diagnostics["coefficients"]
    projected = coef @ J
    torch.testing.assert_close(projected[0] @ g2, torch.tensor(0.0, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(projected[1] @ g1, torch.tensor(0.0, dtype=torch.float64), atol=1e-12, rtol=0)


def test_generator_drives_the_orders_and_results_are_reproducible():
    J = rand_jacobian(6, 20, 7)
    gen = torch.Generator().manual_seed(123)
    twin = torch.Generator().manual_seed(123)
    state = torch.random.get_rng_state()
    agg = PCGrad(generator=gen)
    updates = [agg(J) for _ in range(3)]
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is never touched
    for update in updates:
        orders = draw_orders(6, twin)  # the same draws from an identically seeded generator
        torch.testing.assert_close(update, pcgrad_on_vectors(J, orders.tolist()), rtol=1e-10, atol=1e-10)
    assert torch.equal(agg.diagnostics["orders"], torch.from_numpy(orders))
    again = PCGrad(generator=torch.Generator().manual_seed(123))
    assert all(torch.equal(again(J), u) for u in updates)
    seeded = PCGrad(seed=123)
    assert all(torch.equal(seeded(J), u) for u in updates)


def test_orders_are_fresh_uniform_permutations_of_the_other_tasks():
    gen = torch.Generator().manual_seed(0)
    seen = [set() for _ in range(3)]
    for _ in range(200):
        orders = draw_orders(3, gen)
        for i, row in enumerate(orders.tolist()):
            assert sorted(row) == [j for j in range(3) if j != i]
            seen[i].add(tuple(row))
    assert all(len(s) == 2 for s in seen)  # both orders of the two other tasks occur for every task
    counts = np.zeros((4, 3))  # first visited task, K = 4: uniform over the 3 others
    for _ in range(600):
        orders = draw_orders(4, gen)
        for i in range(4):
            counts[i, [j for j in range(4) if j != i].index(orders[i, 0])] += 1
    assert (counts > 120).all()
    assert draw_orders(1, gen).shape == (1, 0)


def test_zero_rows_and_degenerate_inputs_stay_finite():
    J = rand_jacobian(3, 10, 9)
    J[1] = 0
    agg = PCGrad(seed=1)
    update = agg(J)
    assert torch.isfinite(update).all()
    torch.testing.assert_close(update, pcgrad_on_vectors(J[[0, 2]], [[1], [0]]))
    assert torch.equal(PCGrad(seed=1)(torch.zeros(3, 4)), torch.zeros(4))
    g = rand_jacobian(1, 10, 10)[0]
    torch.testing.assert_close(PCGrad(seed=0)(torch.stack([g, -g])), torch.zeros(10, dtype=torch.float64))
    torch.testing.assert_close(PCGrad(seed=0)(g[None]), g)  # K = 1
    torch.testing.assert_close(PCGrad(seed=0)(torch.stack([g, g])), 2 * g)  # duplicates never conflict


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [1e-15, 1.0, 1e15])
def test_dtypes_and_extreme_scales(dtype, scale):
    J = (rand_jacobian(4, 16, 11) * scale).to(dtype)
    agg = PCGrad(seed=3)
    update = agg(J)
    assert update.dtype == dtype
    assert update.shape == (16,)
    assert torch.isfinite(update).all()
    expected = pcgrad_on_vectors(J.double(), agg.diagnostics["orders"].tolist())
    torch.testing.assert_close(update.double(), expected, rtol=1e-4 if dtype == torch.float32 else 1e-9,
                               atol=1e-5 * float(expected.abs().max()))
    mixed = J * torch.tensor([1e-15, 1.0, 1e15, 1.0], dtype=dtype)[:, None] / scale
    assert torch.isfinite(PCGrad(seed=0)(mixed)).all()


def test_registry_properties_and_repr():
    agg = mtlkit.get_aggregator("pcgrad", seed=5)
    assert isinstance(agg, PCGrad)
    assert repr(agg) == "PCGrad(seed=5)"
    props = PCGrad.properties
    assert props.randomised
    assert not props.permutation_invariant
    assert not props.non_conflicting
    assert props.needs == frozenset({"gramian"})
    assert agg.state_dict() == {}
    unseeded = PCGrad()
    assert torch.isfinite(unseeded(rand_jacobian(3, 5, 0))).all()


def test_bad_options():
    with pytest.raises(ValueError, match="not both"):
        PCGrad(generator=torch.Generator(), seed=1)
    with pytest.raises(TypeError, match=r"torch\.Generator"):
        PCGrad(generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match="seed"):
        PCGrad(seed="7")
    with pytest.raises(ValueError, match="square"):
        PCGrad(seed=0).weights(torch.ones(3, 2, dtype=torch.float64))


def test_torch_solver_draws_the_same_orders():
    """solver="torch" draws the same keys from the generator as numpy: same orders, same update."""
    J = torch.randn(5, 30, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    a = PCGrad(generator=torch.Generator().manual_seed(9), solver="torch")
    b = PCGrad(generator=torch.Generator().manual_seed(9), solver="numpy")
    for _ in range(3):
        torch.testing.assert_close(a(J), b(J), rtol=1e-12, atol=1e-12)
        assert torch.equal(a.diagnostics["orders"], b.diagnostics["orders"])
    assert repr(PCGrad(seed=1, solver="torch")) == "PCGrad(seed=1, solver='torch')"
