"""Aligned-MTL: BGB = σ²I, the scale modes, sum vs mean, a direct re-implementation on J, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import mtlkit
from mtlkit import AlignedMTL, gramian
from mtlkit._aligned import alignment_matrix


def rand_jacobian(K: int, P: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    J = torch.randn(K, P, generator=gen, dtype=torch.float64) + 0.4 * torch.randn(P, generator=gen, dtype=torch.float64)
    return (J * torch.exp(torch.randn(K, 1, generator=gen, dtype=torch.float64))).to(dtype)


def procrustes_reference(J: torch.Tensor, scale_mode: str) -> torch.Tensor:
    """The original algorithm written on the explicit gradients: eigendecompose JJᵀ, drop tiny eigenvalues
    (tol = λ_max · K · eps(float32)), rescale the principal components, sum the aligned task gradients."""
    K = J.shape[0]
    lam, V = torch.linalg.eigh(J @ J.T)
    keep = lam > lam.max() * K * torch.finfo(torch.float32).eps
    lam, V = lam[keep], V[:, keep]
    scale = {"min": lam.min().sqrt(), "median": lam.median().sqrt(), "rmse": lam.mean().sqrt()}[scale_mode]
    B = V @ torch.diag(scale / lam.sqrt()) @ V.T
    aligned = B @ J  # row i: the i-th aligned task gradient
    return aligned.sum(dim=0)


@pytest.mark.parametrize("scale_mode", ["min", "median", "rmse"])
@pytest.mark.parametrize(("K", "P"), [(2, 10), (3, 50), (5, 100), (8, 20)])
def test_aligned_rows_are_orthogonal_with_equal_norm(scale_mode, K, P):
    J = rand_jacobian(K, P, K * 7 + P)
    G = gramian(J)
    B, scale, lam = alignment_matrix(G.numpy(), scale_mode)
    assert lam.size == K
    np.testing.assert_allclose(B, B.T, atol=1e-12)
    np.testing.assert_allclose(B @ G.numpy() @ B, scale**2 * np.eye(K), rtol=0, atol=1e-10 * scale**2)
    aligned = torch.from_numpy(B) @ J  # the rows of BJ: orthogonal, each of norm σ
    torch.testing.assert_close(aligned @ aligned.T, scale**2 * torch.eye(K, dtype=torch.float64),
                               rtol=0, atol=1e-10 * scale**2)
    agg = AlignedMTL(scale_mode=scale_mode)
    w = agg.weights(G)
    torch.testing.assert_close(w, torch.from_numpy(B.sum(axis=1)))
    torch.testing.assert_close(agg(J), aligned.sum(dim=0))
    assert agg.diagnostics["rank"] == K
    assert agg.diagnostics["scale"] == pytest.approx(scale)


@pytest.mark.parametrize("scale_mode", ["min", "median", "rmse"])
def test_matches_the_original_algorithm_on_the_jacobian(scale_mode):
    for seed in range(4):
        J = rand_jacobian(4, 30, 100 + seed)
        torch.testing.assert_close(AlignedMTL(scale_mode=scale_mode)(J), procrustes_reference(J, scale_mode))
    J = rand_jacobian(2, 30, 99)
    J = torch.cat([J, J[:1] + J[1:]])  # rank 2 of 3: the dropped direction must match too
    torch.testing.assert_close(AlignedMTL(scale_mode=scale_mode)(J), procrustes_reference(J, scale_mode))


def test_scale_modes_on_orthogonal_gradients():
    norms = torch.tensor([3.0, 0.5, 2.0, 1.0], dtype=torch.float64)
    G = torch.diag(norms**2)  # orthogonal rows: V = I, B = σ diag(1/‖g_i‖), update = σ Σ g_i/‖g_i‖
    expected_scale = {"min": 0.5, "median": 1.0, "rmse": math.sqrt(float((norms**2).mean()))}  # lower median
    for mode, scale in expected_scale.items():
        agg = AlignedMTL(scale_mode=mode)
        torch.testing.assert_close(agg.weights(G), scale / norms)
        assert agg.diagnostics["scale"] == pytest.approx(scale)
        torch.testing.assert_close(agg.diagnostics["singular_values"], torch.tensor([3.0, 2.0, 1.0, 0.5]).double())
        assert agg.diagnostics["condition"] == pytest.approx(6.0)


def test_sum_and_mean_reductions_differ_by_exactly_K():
    for K in (2, 5, 7):
        J = rand_jacobian(K, 40, K)
        total, mean = AlignedMTL(reduction="sum")(J), AlignedMTL(reduction="mean")(J)
        torch.testing.assert_close(total, K * mean, rtol=1e-13, atol=0)


def test_scale_invariance_and_permutation_equivariance():
    J = rand_jacobian(5, 60, 3)
    G = gramian(J)
    w = AlignedMTL().weights(G)
    for c in (1e-30, 1e-3, 1e5, 1e30):
        torch.testing.assert_close(AlignedMTL().weights(c * G), w, rtol=1e-10, atol=0)
    perm = torch.tensor([3, 0, 4, 1, 2])
    torch.testing.assert_close(AlignedMTL().weights(G[perm][:, perm]), w[perm], rtol=1e-10, atol=1e-12)


def test_rank_deficient_inputs():
    g = rand_jacobian(2, 20, 5)
    agg = AlignedMTL()
    torch.testing.assert_close(agg(g[[0, 0]]), 2 * g[0])  # duplicated rows: one direction, B = vvᵀ, w = (1, 1)
    assert agg.diagnostics["rank"] == 1
    J = torch.stack([g[0], torch.zeros(20, dtype=torch.float64), g[1]])  # a zero row gets no weight
    w = agg.weights(gramian(J))
    assert agg.diagnostics["rank"] == 2
    assert w[1] == 0
    torch.testing.assert_close(w[[0, 2]], AlignedMTL().weights(gramian(g)))
    w = agg.weights(torch.zeros(3, 3, dtype=torch.float64))
    assert torch.equal(w, torch.zeros(3, dtype=torch.float64))
    assert agg.diagnostics["rank"] == 0
    assert agg.diagnostics["condition"] is None
    torch.testing.assert_close(AlignedMTL()(g[:1]), g[0])  # K = 1: σ/‖g‖ · g with σ = ‖g‖


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [1e-15, 1.0, 1e15])
def test_dtypes_and_extreme_scales(dtype, scale):
    J = (rand_jacobian(4, 16, 8) * scale).to(dtype)
    agg = AlignedMTL()
    update = agg(J)
    assert update.dtype == dtype
    assert update.shape == (16,)
    assert torch.isfinite(update).all()
    expected = procrustes_reference(J.double(), "min")
    torch.testing.assert_close(update.double(), expected, rtol=1e-3 if dtype == torch.float32 else 1e-9, atol=0)
    assert agg.weights(gramian(J)).dtype == torch.float64
    mixed = J * torch.tensor([1e-15, 1.0, 1e15, 1.0], dtype=dtype)[:, None] / scale
    assert torch.isfinite(AlignedMTL()(mixed)).all()


def test_registry_properties_and_repr():
    agg = mtlkit.get_aggregator("aligned", scale_mode="rmse", reduction="mean")
    assert isinstance(agg, AlignedMTL)
    assert repr(agg) == "AlignedMTL(scale_mode='rmse', reduction='mean')"
    props = AlignedMTL.properties
    assert props.permutation_invariant
    assert not props.non_conflicting
    assert not props.stateful
    assert props.needs == frozenset({"gramian"})


@pytest.mark.parametrize(
    ("options", "message"),
    [({"scale_mode": "max"}, "scale_mode"), ({"reduction": "avg"}, "reduction"), ({"rtol": -1.0}, "rtol"),
     ({"rtol": "small"}, "rtol")],
)
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        AlignedMTL(**options)


def test_bad_gramians():
    with pytest.raises(ValueError, match="square"):
        AlignedMTL().weights(torch.ones(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN or Inf"):
        AlignedMTL().weights(torch.full((2, 2), float("inf")))


def test_torch_solver_option():
    """solver="torch" (the default off the CPU; tests/mtlkit/test_on_device.py compares it with numpy)."""
    J = torch.randn(4, 30, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    agg = AlignedMTL(solver="torch")
    assert repr(agg) == "AlignedMTL(scale_mode='min', reduction='sum', solver='torch')"
    torch.testing.assert_close(agg(J), AlignedMTL(solver="numpy")(J), rtol=1e-10, atol=1e-12)
    assert agg.diagnostics["singular_values"].shape == (4,)
    with pytest.raises(ValueError, match="solver"):
        AlignedMTL(solver="cuda")
