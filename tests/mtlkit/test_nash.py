"""Nash-MTL: the bargaining equation α_i (Gα)_i = 1, independent solvers, scaling, warm starts, state, edge cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import mtlkit
from mtlkit import NashMTL, gramian
from mtlkit._nash import newton_bargaining


def rand_jacobian(K: int, P: int, seed: int, shared: float = 0.5, dtype=torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    J = torch.randn(K, P, generator=gen, dtype=torch.float64)
    J = J + shared * torch.randn(P, generator=gen, dtype=torch.float64)
    scales = torch.exp(torch.randn(K, 1, generator=gen, dtype=torch.float64))
    return (J * scales).to(dtype)


def bargaining_residual(G: torch.Tensor, alpha: torch.Tensor) -> float:
    G = 0.5 * (G + G.T)  # a float32 J Jᵀ is symmetric only up to rounding; the solver symmetrises it
    return float((alpha * (G @ alpha) - 1).abs().max())


@pytest.mark.parametrize(("K", "P"), [(1, 4), (2, 7), (3, 50), (5, 100), (8, 30), (16, 200)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_solves_the_bargaining_equation(K, P, seed):
    G = gramian(rand_jacobian(K, P, seed))
    nash = NashMTL(max_norm=None)
    w = nash.weights(G)
    assert w.dtype == torch.float64
    assert w.shape == (K,)
    assert (w > 0).all()
    assert bargaining_residual(G, w) < 1e-8
    assert nash.diagnostics["residual"] < 1e-8
    assert nash.diagnostics["converged"]
    assert not nash.diagnostics["regularised"]
    assert nash.diagnostics["iterations"] <= 20
    # at the solution ‖Jᵀα‖² = αᵀGα = K, with no pass over J
    assert float(w @ G @ w) == pytest.approx(K, rel=1e-9)
    assert nash.diagnostics["update_norm"] == pytest.approx(math.sqrt(K), rel=1e-9)


def test_matches_scipy_minimiser_of_f():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    for seed in range(5):
        G = gramian(rand_jacobian(5, 40, seed)).numpy()

        def f(z, G=G):  # α = exp(z) keeps α > 0
            a = np.exp(z)
            return 0.5 * a @ G @ a - z.sum(), a * (G @ a) - 1.0

        res = scipy_optimize.minimize(f, np.zeros(5), jac=True, method="BFGS", options={"gtol": 1e-12})
        expected = np.exp(res.x)
        got = NashMTL(max_norm=None).weights(torch.from_numpy(G)).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_matches_fairgrad_with_alpha_one():
    """FairGrad solves Gw = w^(-1/α) with scipy's least_squares; for α = 1 that is the Nash-MTL equation."""
    scipy_optimize = pytest.importorskip("scipy.optimize")
    for seed in range(5):
        G = gramian(rand_jacobian(4, 30, 10 + seed)).numpy()
        fair = scipy_optimize.least_squares(
            lambda x, G=G: G @ x - 1.0 / x, np.ones(4), bounds=(1e-12, np.inf), xtol=1e-15, ftol=1e-15, gtol=1e-15
        ).x
        got = NashMTL(max_norm=None).weights(torch.from_numpy(G)).numpy()
        np.testing.assert_allclose(got, fair, rtol=1e-6)


def test_closed_forms():
    # K = 1: α = 1/‖g‖; orthogonal gradients: α_i = 1/‖g_i‖ (every projection J α has unit components)
    assert NashMTL(max_norm=None).weights(torch.tensor([[4.0]], dtype=torch.float64)).item() == pytest.approx(0.5)
    norms = torch.tensor([0.5, 2.0, 3.0], dtype=torch.float64)
    w = NashMTL(max_norm=None).weights(torch.diag(norms**2))
    torch.testing.assert_close(w, 1 / norms, rtol=1e-12, atol=0)
    # K = 2 with cosine c: α_i = 1 / (‖g_i‖ √(1 + c))
    c = -0.3
    G = torch.tensor([[4.0, 2.0 * 3.0 * c], [2.0 * 3.0 * c, 9.0]], dtype=torch.float64)
    w = NashMTL(max_norm=None).weights(G)
    expected = torch.tensor([1 / 2, 1 / 3], dtype=torch.float64) / math.sqrt(1 + c)
    torch.testing.assert_close(w, expected, rtol=1e-12, atol=0)


def test_scaling_laws():
    G = gramian(rand_jacobian(5, 60, 3))
    w = NashMTL(max_norm=None).weights(G)
    for c in (1e-30, 1e-6, 1e6, 1e30):  # G → cG: α → α/√c
        torch.testing.assert_close(NashMTL(max_norm=None).weights(c * G), w / math.sqrt(c), rtol=1e-9, atol=0)
    d = torch.tensor([1e-12, 1.0, 3.0, 1e5, 1e12], dtype=torch.float64)  # g_i → d_i g_i: α_i → α_i / d_i
    Gd = d[:, None] * G * d[None, :]
    # exact for the bargaining solution itself; the default norm floor (test_nash_floor.py) departs from it on
    # purpose for norms below 1e-3 × the largest
    torch.testing.assert_close(NashMTL(max_norm=None, min_norm_ratio=0.0).weights(Gd), w / d, rtol=1e-9, atol=0)


def test_max_norm_scales_the_weights_so_every_update_has_that_norm():
    J = rand_jacobian(5, 300, 4)
    nash = NashMTL()  # max_norm = 1.0 (original default)
    update = nash(J)
    assert float(update.norm()) == pytest.approx(1.0, rel=1e-10)
    alpha = nash.diagnostics["alpha"]
    assert nash.diagnostics["clip"] == pytest.approx(1 / math.sqrt(5), rel=1e-10)
    torch.testing.assert_close(update, (alpha / math.sqrt(5)) @ J)
    assert float(NashMTL(max_norm=0.1)(J).norm()) == pytest.approx(0.1, rel=1e-10)
    assert float(NashMTL(max_norm=100.0)(J).norm()) == pytest.approx(math.sqrt(5), rel=1e-10)  # not clipped
    assert float(NashMTL(max_norm=None)(J).norm()) == pytest.approx(math.sqrt(5), rel=1e-10)
    assert float(NashMTL()(J[:1]).norm()) == pytest.approx(1.0, rel=1e-10)  # K = 1: ‖g/‖g‖‖ = 1


def test_non_conflicting_on_random_jacobians():
    for seed in range(10):
        J = rand_jacobian(6, 20, 100 + seed, shared=0.0)
        update = NashMTL()(J)
        assert (J @ update > 0).all()


def test_warm_start_cuts_iterations_and_lands_on_the_same_solution():
    J = rand_jacobian(5, 100, 5)
    G1 = gramian(J)
    G2 = gramian(J + 0.05 * rand_jacobian(5, 100, 6))
    nash = NashMTL(max_norm=None)
    nash.weights(G1)
    cold_iterations = nash.diagnostics["iterations"]
    assert cold_iterations >= 2
    nash.weights(G1)
    assert nash.diagnostics["iterations"] == 0  # already at the solution
    w_warm = nash.weights(G2)
    assert nash.diagnostics["iterations"] < cold_iterations
    w_cold = NashMTL(max_norm=None).weights(G2)
    torch.testing.assert_close(w_warm, w_cold, rtol=1e-9, atol=0)
    nash.weights(1e8 * G2)  # the warm start is scale-free
    assert nash.diagnostics["iterations"] == 0


def test_update_every_reuses_alpha_and_reclips():
    Js = [rand_jacobian(4, 50, 20 + i) for i in range(5)]
    nash = NashMTL(update_every=3)
    recomputed = []
    first_alpha = None
    for i, J in enumerate(Js):
        update = nash(J)
        recomputed.append(nash.diagnostics["recomputed"])
        assert float(update.norm()) == pytest.approx(1.0, rel=1e-9) or float(update.norm()) < 1.0
        if i in (1, 2):  # α from call 0, clipped against the current Gramian
            alpha0 = first_alpha
            torch.testing.assert_close(nash.diagnostics["alpha"], alpha0)
            norm = math.sqrt(float(alpha0 @ gramian(J) @ alpha0))
            torch.testing.assert_close(update, alpha0 * min(1.0, 1.0 / norm) @ J)
        if i == 0:
            first_alpha = nash.diagnostics["alpha"].clone()
    assert recomputed == [True, False, False, True, False]
    assert nash.state_dict()["_extra_state"]["step"] == 5


def test_state_dict_round_trip_through_safetensors_and_json(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    Js = [rand_jacobian(5, 80, 30 + i) for i in range(4)]
    nash = NashMTL(update_every=2)
    for J in Js[:3]:
        nash(J)
    state = nash.state_dict()["_extra_state"]  # loaded back in the flat layout of mtlkit 0.1 checkpoints
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    scalars = {k: v for k, v in state.items() if not isinstance(v, torch.Tensor)}
    safetensors_torch.save_file(tensors, tmp_path / "nash.safetensors")
    (tmp_path / "nash.json").write_text(json.dumps(scalars))
    twin = NashMTL(update_every=2)
    twin.load_state_dict({**safetensors_torch.load_file(tmp_path / "nash.safetensors"),
                          **json.loads((tmp_path / "nash.json").read_text())})
    for J in Js[3:] + Js[:2]:
        expected = nash(J)
        got = twin(J)
        assert torch.equal(got, expected)
        assert twin.diagnostics["iterations"] == nash.diagnostics["iterations"]
        assert twin.diagnostics["recomputed"] == nash.diagnostics["recomputed"]


def test_reset_gives_a_fresh_instance():
    J1, J2 = rand_jacobian(5, 40, 40), rand_jacobian(5, 40, 41)
    nash = NashMTL(update_every=5)
    nash(J1)
    nash.reset()
    assert nash.state_dict() == {"_extra_state": {"step": 0}}
    fresh = NashMTL(update_every=5)
    assert torch.equal(nash(J2), fresh(J2))
    assert nash.diagnostics["iterations"] == fresh.diagnostics["iterations"]


def test_zero_row_is_regularised_and_the_others_solve_their_own_problem():
    J = rand_jacobian(4, 30, 50)
    J[2] = 0
    nash = NashMTL(max_norm=None, min_norm_ratio=0.0)  # without the norm floor (test_nash_floor.py for the default)
    w = nash.weights(gramian(J))
    assert nash.diagnostics["regularised"]
    assert torch.isfinite(w).all()
    assert (w > 0).all()
    live = [0, 1, 3]
    torch.testing.assert_close(w[live], NashMTL(max_norm=None).weights(gramian(J[live])), rtol=1e-10, atol=0)
    G = gramian(J)
    assert float(w[2]) == pytest.approx(1 / math.sqrt(1e-10 * float(G.trace()) / 4))  # ridge ε·tr(G)/K
    torch.testing.assert_close(NashMTL(max_norm=None)(J), w[live] @ J[live])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_singular_gramians_are_regularised_with_finite_non_conflicting_updates(dtype):
    g = torch.linalg.qr(rand_jacobian(3, 16, 60, shared=0.0).T).Q.T * torch.tensor([[1.0], [2.0], [3.0]]).double()
    cases = {
        "opposite": torch.stack([g[0], -g[0]]),
        "rank-1 mixed signs": torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=torch.float64)[:, None] * g[0],
        "zero sum": torch.stack([g[0], g[1], -(g[0] + g[1]), g[2]]),
        "K > P": rand_jacobian(12, 2, 61, shared=0.0),  # 12 directions in R²: no half-space holds them all
        "all zero": torch.zeros(3, 16, dtype=torch.float64),
    }
    eps = torch.finfo(dtype).eps
    for name, J in cases.items():
        J = J.to(dtype)
        nash = NashMTL(max_norm=None)
        update = nash(J)
        assert torch.isfinite(update).all(), name
        assert nash.diagnostics["regularised"], name
        assert nash.diagnostics["converged"], name
        w = nash.diagnostics["alpha"]
        assert torch.isfinite(w).all(), name
        assert (w > 0).all(), name
        # the limit has no non-conflicting direction left except the part along g_3 ("zero sum"): tiny conflicts only
        scale = float((w.abs() * J.double().norm(dim=1)).sum()) * J.double().norm(dim=1)
        assert (J.double() @ update.double() >= -(1e-8 + 100 * eps) * scale).all(), name
    J = cases["zero sum"].to(dtype)
    update = NashMTL(max_norm=None)(J)
    # g_0 + g_1 + g_2' = 0 leaves no common direction for the first three; g_3 ⟂ them gets α_3 = 1/‖g_3‖
    atol = 1e-5 if dtype == torch.float64 else 1e-3  # the ridge covers float32 rounding: a larger bias
    torch.testing.assert_close(update.double(), g[2] / g[2].norm(), rtol=0, atol=atol)


def test_duplicated_and_rank_one_same_sign_rows_are_not_singular():
    g = rand_jacobian(2, 16, 70, shared=0.0)
    J = g[[0, 0, 1]]
    nash = NashMTL(max_norm=None)
    w = nash.weights(gramian(J))
    assert not nash.diagnostics["regularised"]
    assert bargaining_residual(gramian(J), w) < 1e-8
    assert float(w[0]) == pytest.approx(float(w[1]), rel=1e-10)
    c = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    J = c[:, None] * g[0]
    w = NashMTL(max_norm=None).weights(gramian(J))  # α_i = 1 / (c_i √K ‖g‖)
    torch.testing.assert_close(w, 1 / (c * math.sqrt(3) * g[0].norm()), rtol=1e-10, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [1e-15, 1.0, 1e15])
def test_output_dtype_and_extreme_scales(dtype, scale):
    J = (rand_jacobian(5, 16, 80) * scale).to(dtype)
    nash = NashMTL(max_norm=None)
    update = nash(J)
    assert update.dtype == dtype
    assert update.shape == (16,)
    assert torch.isfinite(update).all()
    w = nash.weights(gramian(J))
    assert w.dtype == torch.float64
    assert bargaining_residual(gramian(J), w) < 1e-8
    mixed = J * torch.tensor([1e-15, 1.0, 1e15, 1.0, 1.0], dtype=dtype)[:, None] / scale
    assert torch.isfinite(NashMTL()(mixed)).all()


def test_newton_from_far_starts_converges():
    C = gramian(rand_jacobian(6, 40, 90)).numpy()
    d = np.sqrt(C.diagonal())
    C = C / np.outer(d, d)
    starts = [np.full(6, 1e-3), np.full(6, 1e3), np.array([1e-4, 1e4, 1.0, 1.0, 3.0, 1e-2])]
    for start in starts:
        beta, r, iterations, converged = newton_bargaining(C, start, max_iter=100, tol=1e-12)
        assert converged
        assert np.abs(r).max() < 1e-12
        assert (beta > 0).all()
        assert iterations < 60  # damped steps for the ill-scaled start, then quadratic convergence


def test_registry_and_repr():
    agg = mtlkit.get_aggregator("nash", max_norm=None, update_every=2)
    assert isinstance(agg, NashMTL)
    assert agg.max_norm is None
    assert agg.update_every == 2
    assert "nash" in {info.name for info in mtlkit.list_aggregators()}
    assert NashMTL.properties.non_conflicting
    assert NashMTL.properties.stateful
    assert NashMTL.properties.needs == frozenset({"gramian"})
    assert repr(agg) == "NashMTL(max_norm=None, update_every=2)"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_norm": 0.0}, "max_norm"),
        ({"max_norm": -1.0}, "max_norm"),
        ({"max_norm": float("nan")}, "max_norm"),
        ({"max_norm": "1"}, "max_norm"),
        ({"update_every": 0}, "update_every"),
        ({"update_every": 1.5}, "update_every"),
        ({"update_every": True}, "update_every"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": 0.0}, "tol"),
        ({"tol": 2.0}, "tol"),
        ({"regularization": 0.0}, "regularization"),
        ({"min_norm_ratio": 1.0}, "min_norm_ratio"),
        ({"solver": "gpu"}, "solver"),
        ({"torch_iter": 0}, "torch_iter"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        NashMTL(**options)


def test_bad_inputs_and_states():
    nash = NashMTL()
    with pytest.raises(ValueError, match="square"):
        nash.weights(torch.ones(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN or Inf"):
        nash.weights(torch.tensor([[1.0, float("nan")], [float("nan"), 1.0]]))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        nash.weights(np.eye(2))
    with pytest.raises(ValueError, match="unexpected keys"):
        nash.load_state_dict({"step": 1, "momentum": torch.ones(2)})
    with pytest.raises(ValueError, match="beta"):
        nash.load_state_dict({"step": 1, "beta": torch.tensor([1.0, -1.0])})
    with pytest.raises(ValueError, match="step"):
        nash.load_state_dict({"step": -1})


def test_a_singular_step_does_not_poison_the_next_warm_start():
    g = rand_jacobian(3, 20, 95)
    nash = NashMTL(max_norm=None)
    nash(torch.stack([g[0], -g[0], g[1]]))
    assert nash.diagnostics["regularised"]
    w = nash.weights(gramian(g))
    assert not nash.diagnostics["regularised"]
    assert nash.diagnostics["iterations"] <= 20
    torch.testing.assert_close(w, NashMTL(max_norm=None).weights(gramian(g)), rtol=1e-9, atol=0)


def test_torch_path_state_round_trip():
    """The torch path keeps its warm starts (plain and ridged) as tensors; they survive state_dict()."""
    g = rand_jacobian(3, 20, 96)
    Js = [torch.stack([g[0], -g[0], g[1]]), g, g + 0.01 * rand_jacobian(3, 20, 97)]
    nash = NashMTL(solver="torch", update_every=2)
    for J in Js[:2]:
        nash(J)
    state = nash.state_dict()["_extra_state"]
    assert set(state) == {"step", "beta", "alpha", "beta_ridged"}
    assert all(isinstance(state[k], torch.Tensor) for k in ("beta", "alpha", "beta_ridged"))
    twin = NashMTL(solver="torch", update_every=2)
    twin.load_state_dict(state)  # the flat layout, too
    for J in Js[2:] + Js[:1]:
        assert torch.equal(twin(J), nash(J))
    assert repr(NashMTL(solver="torch", min_norm_ratio=0.0)) == (
        "NashMTL(max_norm=1.0, update_every=1, min_norm_ratio=0, solver='torch')"
    )
