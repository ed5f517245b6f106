"""The torchjd-family methods: mean, upgrad, dualproj, mgda, krum, trimmed_mean, random, graddrop, config, pcd.

Their outputs against torchjd 0.18 on the 36 shared cases are checked by test_references.py (the reference files
references/torchjd/<name>.json); here: the dual-cone solver's optimality (KKT certificates), the documented
properties and options of each method, torchjd-style re-implementations of the randomised and sorting methods,
PCD's stateful sequences against torchjd, and the backends.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import mtlkit
from mtlkit import _dual_cone as dc
from mtlkit.testing import Subject, check_aggregator, check_non_conflicting

NAMES = ("mean", "upgrad", "dualproj", "mgda", "krum", "trimmed_mean", "random", "graddrop", "config", "pcd")
REFERENCES = Path(__file__).parents[2] / "references"


def _J(K: int, P: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(K, P, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- registration, references, contract -------------------------------------------------------------------------


def test_registered_with_declared_kinds():
    infos = {i.name: i for i in mtlkit.list_aggregators()}
    kinds = {n: infos[n].properties.kind for n in NAMES}
    assert kinds == {"mean": "gramian", "upgrad": "gramian", "dualproj": "gramian", "mgda": "gramian",
                     "krum": "gramian", "trimmed_mean": "jacobian", "random": "gramian", "graddrop": "jacobian",
                     "config": "gramian", "pcd": "gramian"}
    assert {n for n in NAMES if infos[n].properties.randomised} == {"random", "graddrop"}
    assert {n for n in NAMES if infos[n].properties.stateful} == {"pcd"}


@pytest.mark.parametrize("name", NAMES)
def test_every_method_has_a_torchjd_reference(name):
    ref = json.loads((REFERENCES / "torchjd" / f"{name}.json").read_text())
    assert ref["reference"].startswith("torchjd 0.18")
    assert ref["mtlkit"]["name"] == name
    assert len(ref["cases"]) + len(ref["errors"]) == 36


@pytest.mark.parametrize(("name", "options"), [
    ("upgrad", {"reg_eps": 0.0}), ("upgrad", {"norm_eps": 0.0, "reg_eps": 0.0}), ("dualproj", {"reg_eps": 0.0}),
    ("upgrad", {"pref_vector": None, "reg_eps": 1e-2}), ("mgda", {"epsilon": 1e-6, "max_iters": 1000}),
    ("krum", {"n_selected": 1, "squared": True}), ("trimmed_mean", {"trim_number": 3}),
    ("trimmed_mean", {"trim_number": 0}), ("config", {"rcond": 1e-3}), ("pcd", {"tau": 0.5, "beta": 0.9}),
])
def test_options_keep_the_contract(name, options):
    assert check_aggregator(name, **options) == []


@pytest.mark.parametrize("name", ["upgrad", "dualproj"])
def test_exact_projection_is_non_conflicting(name):
    """Without regularisation (and normalisation threshold) the update never conflicts with a task: the contract's
    non-conflicting check, on a subject that claims it."""
    cls = {i.name: i.cls for i in mtlkit.list_aggregators()}[name]
    claims = type(f"Exact{cls.__name__}", (cls,), {
        "properties": mtlkit.Properties(non_conflicting=True, needs=frozenset({"gramian"}))})
    check_non_conflicting(Subject(claims, f"{name} (reg_eps=0)", {"norm_eps": 0.0, "reg_eps": 0.0}))


# --- the dual-cone solver -----------------------------------------------------------------------------------------


def _kkt(A: np.ndarray, U: np.ndarray, V: np.ndarray) -> float:
    """Largest violation of the optimality conditions of min vᵀAv s.t. v ≥ u (relative to the problem's scale):
    v ≥ u, λ = Av ≥ 0, λ·(v − u) = 0."""
    lam = V @ A
    scale = np.abs(U).max() * max(np.abs(A).max(), 1e-300)
    return max(float((U - V).max()), float(-lam.min()) / scale, float(np.abs(lam * (V - U)).max()) / scale)


@pytest.mark.parametrize("kind", ["gaussian", "scaled", "biased", "conflicting", "duplicates", "more tasks than dims"])
@pytest.mark.parametrize("reg", [1e-4, 0.0])
def test_projection_solves_the_quadratic_program(kind, reg):
    rng = np.random.default_rng(0)
    worst = 0.0
    for trial in range(60):
        K = int(rng.integers(1, 33))
        P = int(rng.integers(1, 2 * K)) if kind == "more tasks than dims" else 3 * K + 2
        J = rng.standard_normal((K, P))
        if kind == "scaled":
            J *= np.logspace(-6, 6, K)[:, None]
        elif kind == "biased":
            J += 2.0 * np.abs(rng.standard_normal((1, P)))
        elif kind == "conflicting" and K > 1:
            J[1] = -0.9 * J[0] + 0.05 * J[1]
        elif kind == "duplicates":
            J = J[rng.integers(0, K, K)]
        A, _ = dc.normalised(J @ J.T, 1e-4, reg)
        U = np.diag(rng.uniform(0.1, 1.0, K)) if trial % 2 else rng.uniform(-0.5, 1.0, (1, K))
        V, info = dc.project_weights(A, U, reg=reg)
        assert info["converged"]
        assert (V >= U).all()
        if reg > 0:  # the floor (reg = 0) solves a slightly different problem; checked by the contract instead
            worst = max(worst, _kkt(A, U, V))
    assert worst < 1e-9


def test_active_set_fallback_solves_what_pivoting_is_not_allowed_to():
    rng = np.random.default_rng(1)
    for _ in range(20):
        K = int(rng.integers(2, 30))
        J = rng.standard_normal((K, K // 2 + 1))
        A, _ = dc.normalised(J @ J.T, 1e-4, 1e-4)
        U = np.diag(np.full(K, 1.0 / K))
        V, _ = dc.project_weights(A, U, reg=1e-4)
        s = np.sqrt(A.diagonal())
        M = A / np.multiply.outer(s, s)
        X, ok, _ = dc._lcp_active_set(M, (U * s) @ M, np.zeros((K, K)), dc.TOL, 10 * K + 20)
        assert ok.all()
        np.testing.assert_allclose(U + X / s, V, rtol=1e-7, atol=1e-12)


def test_upgrad_matches_the_torchjd_documentation_example():
    J = torch.tensor([[-4.0, 1.0, 1.0], [6.0, 1.0, 1.0]], dtype=torch.float64)
    upgrad = mtlkit.get_aggregator("upgrad")
    torch.testing.assert_close(upgrad(J), torch.tensor([0.2929, 1.9004, 1.9004], dtype=torch.float64),
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(upgrad.weights(J @ J.T), torch.tensor([1.1109, 0.7894], dtype=torch.float64),
                               atol=1e-4, rtol=0)


def test_upgrad_and_dualproj_options():
    J = _J(5, 30, 3)
    G = J @ J.T
    base = mtlkit.get_aggregator("upgrad").weights(G)
    # weights scale with a uniform preference; a preference of 1/K is the default
    torch.testing.assert_close(mtlkit.get_aggregator("upgrad", pref_vector=[1.0] * 5).weights(G), 5 * base)
    torch.testing.assert_close(mtlkit.get_aggregator("upgrad", pref_vector=torch.full((5,), 0.2)).weights(G), base)
    # the normalisation makes the weights invariant to the scale of J (for a trace above norm_eps)
    torch.testing.assert_close(mtlkit.get_aggregator("upgrad").weights(G * 1e6), base)
    # aligned tasks: nothing to project, DualProj returns the preference itself
    aligned = torch.ones(3, 4, dtype=torch.float64) + 0.01 * _J(3, 4, 4)
    torch.testing.assert_close(mtlkit.get_aggregator("dualproj").weights(aligned @ aligned.T),
                               torch.full((3,), 1 / 3, dtype=torch.float64))
    # a Gramian whose trace is below norm_eps is taken as 0: the weights are the preference (torchjd)
    tiny = _J(4, 10, 5) * 1e-4
    torch.testing.assert_close(mtlkit.get_aggregator("upgrad").weights(tiny @ tiny.T),
                               torch.full((4,), 0.25, dtype=torch.float64))
    with pytest.raises(ValueError, match="pref_vector has 3 entries"):
        mtlkit.get_aggregator("upgrad", pref_vector=[1.0, 2.0, 3.0]).weights(G)
    for bad in ({"reg_eps": -1.0}, {"norm_eps": float("nan")}, {"pref_vector": [1.0, float("inf")]}):
        with pytest.raises(ValueError, match="must be"):
            mtlkit.get_aggregator("dualproj", **bad)
    up = mtlkit.get_aggregator("upgrad")
    up.weights(G)
    assert set(up.diagnostics) >= {"iterations", "moved", "fallback", "converged", "trace", "regularised"}
    assert repr(mtlkit.get_aggregator("upgrad", reg_eps=0.0)) == "UPGrad(reg_eps=0)"


def test_regularisation_bounds_the_conflict():
    """With reg_eps the constraints hold for the regularised Gramian: g_j·d ≥ −reg_eps·tr(G)·w_j."""
    J = _J(6, 40, 6)
    J[1] = -0.9 * J[0] + 0.1 * J[1]
    for name in ("upgrad", "dualproj"):
        method = mtlkit.get_aggregator(name)
        w = method.weights(J @ J.T)
        d = w @ J
        trace = float((J * J).sum())
        assert (J @ d >= -1e-4 * trace * w - 1e-12).all()


# --- MGDA, Krum, trimmed mean ------------------------------------------------------------------------------------


def test_mgda_frank_wolfe():
    # two orthogonal gradients of equal norm: the min-norm point is their mean, reached in one step
    J = torch.eye(2, 5, dtype=torch.float64)
    mgda = mtlkit.get_aggregator("mgda")
    torch.testing.assert_close(mgda.weights(J @ J.T), torch.tensor([0.5, 0.5], dtype=torch.float64))
    # a gradient inside the hull: all the weight goes there
    J = torch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, -1.0]], dtype=torch.float64)
    torch.testing.assert_close(mtlkit.get_aggregator("mgda", epsilon=1e-9, max_iters=1000).weights(J @ J.T),
                               torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), atol=1e-6, rtol=0)
    # more iterations approach the exact min-norm point, which conflicts with no task
    J = _J(6, 20, 7)
    exact = mtlkit.get_aggregator("mgda", epsilon=1e-12, max_iters=100_000)
    d = exact(J)
    assert (J @ d >= float(d @ d) * (1 - 1e-3) - 1e-9).all()
    mgda(J)
    assert set(mgda.diagnostics) == {"iterations", "gamma"}
    for bad in ({"epsilon": 0.0}, {"max_iters": 0}, {"max_iters": 1.5}):
        with pytest.raises(ValueError, match="must be a positive"):
            mtlkit.get_aggregator("mgda", **bad)


def test_krum_selects_the_central_gradients():
    g = _J(1, 8, 8)
    J = torch.cat([g + 0.01 * _J(5, 8, 9), 100.0 * _J(2, 8, 10)])  # 5 honest rows and 2 outliers
    krum = mtlkit.get_aggregator("krum", n_byzantine=2, n_selected=3)
    w = krum.weights(J @ J.T)
    assert w[5:].abs().max() == 0
    assert math.isclose(float(w.sum()), 1.0)
    assert len(krum.diagnostics["selected"]) == 3
    assert max(krum.diagnostics["selected"]) < 5
    # the default n_byzantine is the largest Krum's guarantee allows: ⌊(K − 3)/2⌋ = 2 for K = 7
    default = mtlkit.get_aggregator("krum")
    default.weights(J @ J.T)
    assert default.diagnostics["n_byzantine"] == 2
    # ties at the cut share the weight (K = 2: every gradient ties; duplicated rows tie)
    J2 = _J(2, 4, 11)
    torch.testing.assert_close(default.weights(J2 @ J2.T), torch.tensor([0.5, 0.5], dtype=torch.float64))
    Jd = _J(3, 4, 12)[[0, 0, 1, 2]]
    w = mtlkit.get_aggregator("krum", n_byzantine=0).weights(Jd @ Jd.T)
    assert float(w[0]) == float(w[1]) == 0.5
    with pytest.raises(ValueError, match="needs at least 5 tasks"):
        mtlkit.get_aggregator("krum", n_byzantine=2).weights(J2 @ J2.T)
    with pytest.raises(ValueError, match="n_selected=3 but only 2 tasks"):
        mtlkit.get_aggregator("krum", n_selected=3).weights(J2 @ J2.T)
    # squared distances: the paper's score
    sq = mtlkit.get_aggregator("krum", n_byzantine=1, squared=True)
    sq.weights(J @ J.T)
    d2 = torch.cdist(J, J) ** 2
    expected = d2.sort(dim=1).values[:, 1 : 7 - 1 - 2 + 1].sum(1)
    torch.testing.assert_close(torch.tensor(sq.diagnostics["scores"], dtype=torch.float64), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("K", "t"), [(3, 1), (5, 2), (8, 1), (8, 3), (20, 1), (20, 4), (4, 0)])
def test_trimmed_mean_equals_the_sorted_definition(K, t, dtype):
    J = _J(K, 300, K * 10 + t, dtype)
    J[:, :40] = torch.round(J[:, :40])  # ties
    J[0, 50:60] = 1e30  # huge outliers must not swamp the rest
    J[1, 60:70] = -1e30
    expected = J.double().sort(dim=0).values[t : K - t].mean(dim=0)
    got = mtlkit.get_aggregator("trimmed_mean", trim_number=t)(J)
    assert got.dtype == dtype
    tol = 8 * K * torch.finfo(dtype).eps  # rounding of the sum of the kept entries (of size ≲ 4)
    torch.testing.assert_close(got.double(), expected, rtol=tol, atol=4 * tol)


def test_trimmed_mean_falls_back_to_the_median():
    J = _J(4, 50, 13)
    tm = mtlkit.get_aggregator("trimmed_mean", trim_number=3)
    torch.testing.assert_close(tm(J), J.sort(dim=0).values[1:3].mean(0))  # the median of 4: trims ⌊3/2⌋ = 1
    assert tm.diagnostics == {"trimmed": 1}
    J[2, 7] = float("inf")
    with pytest.raises(ValueError, match="not finite"):
        tm(J)


# --- randomised methods -------------------------------------------------------------------------------------------


def test_random_weighting_draws_softmax_of_normals_from_its_generator():
    J = _J(4, 9, 14)
    a = mtlkit.get_aggregator("random", seed=5)
    w = a.weights(J @ J.T)
    expected = torch.softmax(torch.randn(4, generator=torch.Generator().manual_seed(5), dtype=torch.float64), 0)
    torch.testing.assert_close(w, expected)
    b = mtlkit.get_aggregator("random", generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(b(J), expected @ J)
    state = torch.random.get_rng_state()
    mtlkit.get_aggregator("random")(J)
    assert torch.equal(state, torch.random.get_rng_state())
    with pytest.raises(ValueError, match="not both"):
        mtlkit.get_aggregator("random", seed=1, generator=torch.Generator())


def _torchjd_graddrop(J: torch.Tensor, U: torch.Tensor, leak: torch.Tensor | None, f=lambda p: p) -> torch.Tensor:
    """torchjd 0.18's GradDrop.forward with the uniform draws U given."""
    leak = leak if leak is not None else torch.zeros_like(J[:, 0])
    P = 0.5 * (torch.ones_like(J[0]) + J.sum(dim=0) / J.abs().sum(dim=0))
    fP = f(P)
    vector = torch.zeros_like(J[0])
    for i in range(len(J)):
        M_i = (fP > U) * (J[i] > 0) + (fP < U) * (J[i] < 0)
        vector += (leak[i] + (1 - leak[i]) * M_i) * J[i]
    return vector


@pytest.mark.parametrize("leak", [None, [0.0, 0.5, 1.0, 0.2, 0.1]])
@pytest.mark.parametrize("f", [None, torch.sqrt])
def test_graddrop_equals_torchjds_masks(leak, f):
    J = _J(5, 200, 15)
    J[:, :10] = 0.0  # columns of zeros: both masks off
    J[2, 10:20] = 0.0
    U = torch.rand(200, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    expected = _torchjd_graddrop(J, U, None if leak is None else torch.tensor(leak, dtype=torch.float64),
                                 f or (lambda p: p))
    got = mtlkit.get_aggregator("graddrop", seed=3, leak=leak, f=f)(J)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="leak has 5 entries"):
        mtlkit.get_aggregator("graddrop", leak=leak or [0.0] * 5)(J[:3])


# --- ConFIG -------------------------------------------------------------------------------------------------------


def test_config_gives_equal_projections_and_agrees_across_paths():
    J = _J(4, 30, 16) * torch.tensor([0.1, 1.0, 10.0, 3.0], dtype=torch.float64)[:, None]
    config = mtlkit.get_aggregator("config")
    d = config(J)
    assert config.diagnostics["path"] == "gramian"
    units = J / J.norm(dim=1, keepdim=True)
    proj = units @ d
    torch.testing.assert_close(proj, proj.mean().expand(4))  # equal projections on the unit gradients
    assert float(d.norm()) == pytest.approx(float((J @ (d / d.norm())).sum()))  # length: Σ_i g_i·d̂
    # the Gramian alone gives the same update
    torch.testing.assert_close(config.weights(J @ J.T) @ J, d)
    # the pseudo-inverse path (torchjd's computation) for a spectrum the Gramian cannot resolve
    Jr = _J(6, 3, 17)  # rank 3: the cosine matrix has three zero eigenvalues
    config(Jr)
    assert config.diagnostics["path"] == "pinv"
    units = Jr / Jr.norm(dim=1, keepdim=True)
    direction = torch.linalg.pinv(units) @ torch.ones(6, dtype=torch.float64)
    unit = direction / direction.norm()
    torch.testing.assert_close(config(Jr), (Jr @ unit).sum() * unit)
    # a preference vector
    pref = [1.0, 2.0, 0.5, 1.0]
    dp = mtlkit.get_aggregator("config", pref_vector=pref)(J)
    proj = (J / J.norm(dim=1, keepdim=True)) @ dp  # proportional to the preference
    torch.testing.assert_close(proj / torch.tensor(pref, dtype=torch.float64), (proj[0] / pref[0]).expand(4))


def test_config_cutoff():
    # two nearly parallel gradients: a large rcond drops the small singular value, leaving the mean direction
    g = _J(1, 20, 18)[0]
    J = torch.stack([g, g + 1e-3 * _J(1, 20, 19)[0]])
    kept = mtlkit.get_aggregator("config", rcond=1e-6)
    dropped = mtlkit.get_aggregator("config", rcond=0.1)
    kept.weights(J @ J.T)
    dropped.weights(J @ J.T)
    assert kept.diagnostics["rank"] == 2
    assert dropped.diagnostics["rank"] == 1
    # the J path uses torch.linalg.pinv's default for the dtype and P: float32 at P = 1e4 drops it too
    J32 = torch.stack([g.float().repeat(500), (g + 1e-3 * _J(1, 20, 19)[0]).float().repeat(500)])
    config = mtlkit.get_aggregator("config")
    config(J32)
    assert config.diagnostics["rank"] == 1
    with pytest.raises(ValueError, match="rcond must be"):
        mtlkit.get_aggregator("config", rcond=1.5)


# --- PCD ----------------------------------------------------------------------------------------------------------


def _cases() -> dict[str, torch.Tensor]:
    spec = importlib.util.spec_from_file_location("reference_cases", REFERENCES / "cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.cases())


def test_pcd_sequences_match_torchjd():
    """One instance over a sequence of calls (the moving average evolves) against torchjd's PCD."""
    ref = json.loads((REFERENCES / "torchjd" / "pcd.json").read_text())
    spec = importlib.util.spec_from_file_location("run_reference", REFERENCES / "torchjd" / "run_reference.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    cases = _cases()
    assert set(ref["sequences"]) == set(ref["cases"])
    failures = []
    for case, expected in ref["sequences"].items():
        method = mtlkit.get_aggregator("pcd", **ref["mtlkit"]["options"])
        for t, (Jt, want) in enumerate(zip(runner.sequence(cases[case]), expected)):
            got, theirs = method(Jt), torch.tensor(want, dtype=torch.float64)
            err = float((got - theirs).norm())
            if not err <= 1e-7 * float(theirs.norm()) + 1e-10:
                failures.append(f"{case} step {t}: ‖Δ‖ = {err:.3g}")
    assert not failures, failures


def test_pcd_behaviour():
    J = _J(3, 10, 20)
    pcd = mtlkit.get_aggregator("pcd", tau=0.3)
    d = pcd(J)
    s = torch.tensor(pcd.diagnostics["scales"], dtype=torch.float64)
    # each secondary objective gets at least τ of its normalised progress; the update has ‖g_1‖'s norm
    Jn = s[:, None] * J  # the normalised gradients
    direction = torch.tensor([1.0] + pcd.diagnostics["multipliers"], dtype=torch.float64) @ Jn
    assert (Jn[1:] @ direction >= 0.3 * (Jn[1:] ** 2).sum(1) - 1e-9).all()
    assert d.norm() == pytest.approx(float(J[0].norm()))
    torch.testing.assert_close(d / d.norm(), direction / direction.norm())
    # a zero primary gradient gives a zero update; opposite secondary gradients are infeasible: the update is g_1
    Z = J.clone()
    Z[0] = 0
    assert mtlkit.get_aggregator("pcd")(Z).abs().max() == 0
    g = _J(1, 10, 21)[0]
    opposite = torch.stack([J[0], g, -g])
    out = mtlkit.get_aggregator("pcd", tau=0.5)
    torch.testing.assert_close(out(opposite), J[0])
    assert out.diagnostics["feasible"] is False
    # state: the moving average restarts when K changes and on reset()
    pcd.reset()
    a = pcd(J)
    pcd(_J(4, 10, 22))
    pcd.reset()
    torch.testing.assert_close(pcd(J), a)
    with pytest.raises(ValueError, match="secondary tasks"):
        mtlkit.get_aggregator("pcd", tau=[0.1, 0.2, 0.3])(J)
    with pytest.raises(ValueError, match="beta must be"):
        mtlkit.get_aggregator("pcd", beta=1.0)


# --- backends -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mean", "upgrad", "dualproj", "mgda", "krum", "config", "pcd", "random"])
def test_gramian_backend_equals_jacobian_backend(name):
    torch.manual_seed(0)
    trunk = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8)).double()
    heads = [nn.Linear(8, 1).double() for _ in range(4)]
    x = torch.randn(32, 6, dtype=torch.float64)
    ys = torch.randn(32, 4, dtype=torch.float64)
    grads = {}
    for backend in ("jacobian", "gramian"):
        for p in trunk.parameters():
            p.grad = None
        z = trunk(x)
        losses = [nn.functional.mse_loss(h(z).squeeze(1), ys[:, i]) for i, h in enumerate(heads)]
        options = {"seed": 0} if name == "random" else {}
        result = mtlkit.backward(losses, trunk, mtlkit.get_aggregator(name, **options), backend=backend)
        assert result.weights is not None
        grads[backend] = torch.cat([p.grad.reshape(-1) for p in trunk.parameters()])
    torch.testing.assert_close(grads["gramian"], grads["jacobian"], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["trimmed_mean", "graddrop"])
def test_jacobian_methods_refuse_the_gramian_backend(name):
    trunk = nn.Linear(3, 2).double()
    z = trunk(torch.randn(5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="needs the Jacobian"):
        mtlkit.backward([z[:, 0].sum(), z[:, 1].sum(), z.sum()], trunk, name, backend="gramian")
    z = trunk(torch.randn(5, 3, dtype=torch.float64))
    result = mtlkit.backward([z[:, 0].sum(), z[:, 1].sum(), z.sum()], trunk, name, backend="auto")
    assert result.backend == "jacobian"
    assert result.weights is None
