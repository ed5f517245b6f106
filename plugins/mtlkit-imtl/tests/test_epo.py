"""EPO search: the LP solver against vertex enumeration, the two modes, convergence to the preferred Pareto point
on a toy problem, discovery through the entry point, and the mtlkit contract suite."""

from __future__ import annotations

import importlib.metadata as md
import itertools

import numpy as np
import pytest
import torch
from mtlkit_imtl import EPO
from mtlkit_imtl._epo import adjustments
from mtlkit_imtl._lp import linprog_max

import mtlkit
from mtlkit.testing import AggregatorContract


class TestEpoContract(AggregatorContract):
    aggregators = ("epo",)


def brute_force_lp(c, A_ub, b_ub, A_eq, b_eq):
    """The best vertex of {A_ub x ≤ b_ub, A_eq x = b_eq, x ≥ 0} by enumerating every choice of n active
    constraints (tiny LPs only); None when infeasible."""
    n = c.size
    rows = [(a, b) for a, b in zip(A_ub, b_ub)] + [(-np.eye(n)[i], 0.0) for i in range(n)]
    best, best_x = -np.inf, None
    for subset in itertools.combinations(range(len(rows)), n - A_eq.shape[0]):
        M = np.vstack([A_eq] + [rows[i][0] for i in subset])
        rhs = np.concatenate([b_eq, [rows[i][1] for i in subset]])
        if abs(np.linalg.det(M)) < 1e-12:
            continue
        x = np.linalg.solve(M, rhs)
        if (A_ub @ x <= b_ub + 1e-9).all() and (x >= -1e-9).all() and c @ x > best:
            best, best_x = c @ x, x
    return best_x


@pytest.mark.parametrize("seed", range(40))
def test_lp_solver_finds_the_optimal_vertex(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(2, 5), rng.integers(1, 4)
    c, A_ub, b_ub = rng.normal(size=n), rng.normal(size=(m, n)), rng.normal(size=m) * 0.3
    A_eq, b_eq = np.ones((1, n)), np.ones(1)  # EPO's LPs live on the simplex
    x = linprog_max(c, A_ub, b_ub, A_eq, b_eq)
    expected = brute_force_lp(c, A_ub, b_ub, A_eq, b_eq)
    if expected is None:
        assert x is None
    else:
        assert x is not None
        assert (A_ub @ x <= b_ub + 1e-9).all()
        assert x.sum() == pytest.approx(1.0)
        assert c @ x == pytest.approx(c @ expected, abs=1e-9)


def test_adjustments_and_modes():
    r = np.array([0.2, 0.3, 0.5])
    rl, mu, a = adjustments(np.array([1.0, 1.0, 1.0]), r)
    l_hat = rl / rl.sum()
    assert mu == pytest.approx(float((l_hat * np.log(3 * l_hat)).sum()))
    np.testing.assert_allclose(a, r * (np.log(3 * l_hat) - mu))
    _, mu_ray, _ = adjustments(1.0 / r, r)  # on the preference ray: uniform weighted losses, μ = 0
    assert mu_ray == pytest.approx(0.0, abs=1e-15)
    J = torch.tensor([[1.0, 0.0, 0.2], [0.3, 1.0, 0.0], [0.0, 0.4, 1.0]], dtype=torch.float64)
    agg = EPO(preference=r.tolist())
    agg(J, torch.ones(3, dtype=torch.float64))
    assert agg.diagnostics["mode"] == "balance"
    w = agg(J, torch.from_numpy(1.0 / r))
    assert agg.diagnostics["mode"] == "descent"
    assert ((J @ w) >= -1e-12).all()  # descent: no task gets worse
    assert float(agg.weights(J @ J.T, torch.from_numpy(1.0 / r)).sum()) == pytest.approx(1.0)


@pytest.mark.parametrize("eps", [1e-4, 1e-8])
def test_descends_to_the_preferred_pareto_point(eps):
    """l_i = ½‖θ − c_i‖² with c_1 = (1, 0), c_2 = (0, 1): the Pareto set is the segment between them and the point
    with r_1 l_1 = r_2 l_2 for r = (1, 2)/3 is θ = (1 − t) c_1 + t c_2, t = √2/(1 + √2). EPO ends on the segment
    with a non-uniformity below eps (as close to that point as eps allows)."""
    centres = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    theta = torch.tensor([2.0, 1.5], dtype=torch.float64)
    agg = EPO(preference=[1.0, 2.0], eps=eps)
    for _ in range(400):
        J = theta - centres  # row i: ∇l_i
        theta = theta - 0.05 * agg(J, 0.5 * (J**2).sum(1))
    losses = (0.5 * ((theta - centres) ** 2).sum(1)).numpy()
    assert float(theta.sum()) == pytest.approx(1.0, abs=1e-7)  # on the Pareto segment
    assert adjustments(losses, np.array([1.0, 2.0]) / 3)[1] < eps
    t = 2**0.5 / (1 + 2**0.5)
    atol = 5e-3 if eps == 1e-4 else 1e-4
    torch.testing.assert_close(theta, torch.tensor([1 - t, t], dtype=torch.float64), atol=atol, rtol=0)


def test_validation():
    J = torch.eye(2, dtype=torch.float64)
    with pytest.raises(ValueError, match="needs the losses"):
        EPO()(J)
    with pytest.raises(ValueError, match="non-negative"):
        EPO()(J, torch.tensor([1.0, -1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="preference has 3"):
        EPO(preference=[1, 2, 3])(J, torch.ones(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="positive"):
        EPO(preference=[1.0, 0.0])


def test_discovered_by_name_through_the_entry_point():
    info = {i.name: i for i in mtlkit.list_aggregators()}
    assert info["epo"].cls is EPO
    assert info["epo"].origin == f"mtlkit-imtl {md.version('mtlkit-imtl')}"
    assert info["imtl"].origin == "built-in"  # IMTL-G, which this plugin used to provide
    eps = [ep for ep in md.entry_points(group="mtlkit") if ep.name == "imtl"]
    assert [ep.value for ep in eps] == ["mtlkit_imtl"]
    assert isinstance(mtlkit.get_aggregator("epo", preference=[1.0, 3.0]), EPO)
