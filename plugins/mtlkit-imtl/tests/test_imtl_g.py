"""IMTL-G: the defining property, the paper's closed form, discovery through the entry point, the contract."""

from __future__ import annotations

import importlib.metadata as md

import pytest
import torch
from mtlkit_imtl import IMTLG

import mtlkit
from mtlkit.testing import AggregatorContract


class TestImtlContract(AggregatorContract):
    aggregators = ("imtl",)


def _jacobian(K: int, P: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    scales = torch.logspace(-2, 2, K, dtype=torch.float64)[:, None]  # very different gradient norms
    return torch.randn(K, P, generator=gen, dtype=torch.float64) * scales


def _paper_closed_form(J: torch.Tensor) -> torch.Tensor:
    """α_{2:K} = g_1 Uᵀ (D Uᵀ)⁻¹, α_1 = 1 − Σ α_{2:K}, computed on J itself (D_i = g_1 − g_i, U_i = u_1 − u_i)."""
    u = J / J.norm(dim=1, keepdim=True)
    D = J[:1] - J[1:]
    U = u[:1] - u[1:]
    rest = torch.linalg.solve((D @ U.T).T, (J[0] @ U.T))  # row-vector equation x (DUᵀ) = g_1 Uᵀ
    return torch.cat([1 - rest.sum().reshape(1), rest])


@pytest.mark.parametrize(("K", "P", "seed"), [(2, 10, 0), (3, 50, 1), (5, 200, 2), (8, 100, 3)])
def test_equal_projections_onto_unit_task_gradients(K, P, seed):
    J = _jacobian(K, P, seed)
    agg = IMTLG()
    update = agg(J)
    projections = (J / J.norm(dim=1, keepdim=True)) @ update
    torch.testing.assert_close(projections, projections.mean().expand(K), rtol=1e-9, atol=0)
    w = agg.weights(mtlkit.gramian(J))
    torch.testing.assert_close(w.sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(w, _paper_closed_form(J), rtol=1e-8, atol=1e-12)
    torch.testing.assert_close(agg.diagnostics["projection"] * 1.0, float(projections[0]), rtol=1e-9, atol=0)


def test_two_tasks_bisect_the_angle():
    J = torch.tensor([[3.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    update = IMTLG()(J)
    # on the segment from g_1 to g_2 and along u_1 + u_2 = (1, 1): (3/4, 3/4)
    torch.testing.assert_close(update, torch.tensor([0.75, 0.75], dtype=torch.float64))


def test_degenerate_inputs():
    g = torch.tensor([1.0, 2.0, -1.0], dtype=torch.float64)
    agg = IMTLG()
    # opposite gradients: only the zero update has equal projections; weights still sum to 1
    w = agg.weights(mtlkit.gramian(torch.stack([g, -g])))
    torch.testing.assert_close(w, torch.tensor([0.5, 0.5], dtype=torch.float64))
    assert agg.diagnostics["degenerate"]
    # a task with zero gradient gets weight 0; the others are treated as usual
    J = torch.stack([g, torch.zeros(3, dtype=torch.float64), torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)])
    w = agg.weights(mtlkit.gramian(J))
    assert w[1] == 0
    assert agg.diagnostics["zero_tasks"] == 1
    torch.testing.assert_close(w[[0, 2]], _paper_closed_form(J[[0, 2]]))
    # more tasks than dimensions: the zero update
    J = _jacobian(6, 3, 4)
    assert agg(J).norm() < 1e-10 * J.norm()
    with pytest.raises(ValueError, match="rcond"):
        IMTLG(rcond=0)


def test_discovered_by_name_through_the_entry_point():
    info = {i.name: i for i in mtlkit.list_aggregators()}["imtl"]
    assert info.cls is IMTLG
    assert info.origin == f"mtlkit-imtl {md.version('mtlkit-imtl')}"
    assert info.origin != "built-in"
    eps = [ep for ep in md.entry_points(group="mtlkit") if ep.name == "imtl"]
    assert [ep.value for ep in eps] == ["mtlkit_imtl"]
    assert isinstance(mtlkit.get_aggregator("imtl"), IMTLG)
    assert isinstance(mtlkit.get_aggregator("imtl", rcond=1e-6), IMTLG)


def test_matches_torchjd_on_full_rank_inputs():
    aggregation = pytest.importorskip("torchjd.aggregation")
    J = _jacobian(5, 40, 9)
    ours = IMTLG()(J)
    theirs = aggregation.IMTLG()(J)
    torch.testing.assert_close(ours, theirs, rtol=1e-8, atol=1e-10)
