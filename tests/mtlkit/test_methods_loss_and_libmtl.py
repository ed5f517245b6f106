"""GradNorm, RLW, GLS, IMTL-L, DB-MTL, MoCo, STCH, PBI, UW-SO, IGB, GO4Align, CoV-Weighting and LDC-MTL: matched step
by step to the reference implementations (LibMTL 1.1.5 / main, the authors' code, pymoo: the scripts and their
outputs are in references/), checked against their defining equations, and run through mtlkit.backward."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import mtlkit
from mtlkit._cov import CoVWeighting
from mtlkit._dbmtl import DBMTL
from mtlkit._gls import GLS
from mtlkit._go4align import kmeans_1d
from mtlkit._gradnorm import GradNorm
from mtlkit._igb import IGB
from mtlkit._imtl_l import IMTLL
from mtlkit._ldc import LDCMTL
from mtlkit._moco import MoCo, project_simplex
from mtlkit._pbi import PBI
from mtlkit._rlw import RLW
from mtlkit._stch import STCH
from mtlkit._uw_so import UWSO

REFERENCES = Path(__file__).parents[2] / "references"
LOSS_BASED = ("rlw", "gls", "imtl_l", "stch", "pbi", "uw_so", "igb", "go4align", "cov", "ldc_mtl")
LEARNABLE = ("gradnorm", "imtl_l", "ldc_mtl")


def _ref(*parts: str) -> dict:
    return json.loads(REFERENCES.joinpath(*parts).read_text())


def _t(x) -> torch.Tensor:
    return x.detach().double() if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=torch.float64)


def _close(got: torch.Tensor, expected, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    torch.testing.assert_close(got.detach().double(), _t(expected), rtol=rtol, atol=atol)


# --- LibMTL 1.1.5 / main, several steps (references/libmtl/steps, run_methods.py) ----------------------------------


def _steps(name: str) -> tuple[dict, torch.Tensor, torch.Tensor]:
    ref = _ref("libmtl", "steps", f"{name}.json")
    return ref, _t(ref["jacobians"]), _t(ref["losses"])


def test_gradnorm_matches_libmtl_step_by_step():
    ref, Js, cs = _steps("gradnorm")
    method = GradNorm(num_tasks=ref["K"], warmup=ref["batches_per_epoch"]).double()  # LibMTL: one epoch
    for J, c, step in zip(Js, cs, ref["steps"]):
        method.loss_scale.grad = None
        _close(method(J, c), step["update"])
        _close(method.diagnostics["weights"], step["weights"])
        with torch.no_grad():
            if method.loss_scale.grad is not None:
                method.loss_scale -= ref["lr"] * method.loss_scale.grad
        _close(method.loss_scale, step["param"])
    assert not torch.equal(method.loss_scale.detach(), torch.ones(3, dtype=torch.float64))  # it did learn


def test_rlw_draws_libmtls_weights_from_its_generator():
    ref, Js, cs = _steps("rlw")
    method = RLW(seed=0)  # LibMTL: torch.manual_seed(0), then its draws from the global RNG
    for J, c, step in zip(Js, cs, ref["steps"]):
        _close(method(J, c), step["update"], rtol=1e-6)  # LibMTL softmaxes in float32
        _close(method.diagnostics["weights"], step["weights"], rtol=1e-6)


def test_imtl_hybrid_from_imtl_l_and_imtl_matches_libmtl_imtl():
    """LibMTL's IMTL = IMTL-L's scaled losses e^s L − s, IMTL-G on their gradients for the shared parameters, the
    scales trained on the unweighted sum: mtlkit.backward of the scaled losses with the imtl aggregator and the
    scales as task parameters (docs/mtlkit/loss-weighting.md)."""
    ref, Js, cs = _steps("imtl")
    scales = mtlkit.get_aggregator("imtl_l", num_tasks=ref["K"]).double()
    theta = nn.Parameter(torch.zeros(ref["P"], dtype=torch.float64))
    for J, c, step in zip(Js, cs, ref["steps"]):
        theta.grad = scales.loss_scale.grad = None
        s = scales.loss_scale
        losses = torch.exp(s) * (J @ theta + c) - s
        mtlkit.backward(losses, [theta], "imtl", backend="jacobian", task_params=[s])
        _close(theta.grad, step["update"], rtol=1e-8, atol=1e-10)
        _close(s.grad, torch.exp(s.detach()) * c - 1)  # the gradient of IMTL-L's objective
        with torch.no_grad():
            s -= ref["lr"] * s.grad
        _close(s, step["param"])


def test_imtl_l_trains_its_scales_like_libmtl():
    ref, _, cs = _steps("imtl")
    method = IMTLL(num_tasks=ref["K"]).double()
    for c, step in zip(cs, ref["steps"]):
        method.loss_scale.grad = None
        leaf = c.clone().requires_grad_(True)
        method.objective(leaf, method.loss_weights(c)).backward()
        _close(leaf.grad, torch.exp(method.loss_scale.detach()))  # weights e^s
        with torch.no_grad():
            method.loss_scale -= ref["lr"] * method.loss_scale.grad
        _close(method.loss_scale, step["param"])


@pytest.mark.parametrize(("name", "options"), [("dbmtl", {}), ("moco", {}), ("stch", {"period": 2})])
def test_libmtl_main_methods_match_step_by_step(name, options):
    ref, Js, cs = _steps(name)
    method = mtlkit.get_aggregator(name, **options)
    for t, (J, c, step) in enumerate(zip(Js, cs, ref["steps"])):
        _close(method(J, c), step["update"], rtol=1e-9, atol=1e-12)
        if name == "moco":
            _close(method.diagnostics["lambda"], step["weights"], rtol=1e-9)
        if name == "stch":  # 4 warm-up epochs + the nadir epoch, 2 calls each, then STCH proper
            assert method.diagnostics["warming_up"] == (t < 10)


# --- the authors' code (references/<method>/run_reference.py) -----------------------------------------------------


@pytest.mark.parametrize(("run", "options"), [("uw_so T=1", {}), ("uw_so T=2", {"temperature": 2.0}),
                                              ("uw_o", {"softmax": False})])
def test_uw_so_matches_the_authors(run, options):
    ref = _ref("uw_so", "reference.json")
    method = mtlkit.get_aggregator("uw_so", **options)
    for J, c, step in zip(_t(ref["jacobians"]), _t(ref["losses"]), ref["runs"][run]):
        _close(method(J, c), step["update"])
        _close(method.diagnostics["weights"], step["weights"])


def test_igb_matches_the_authors():
    ref = _ref("igb", "reference.json")
    method = mtlkit.get_aggregator("igb", base_epoch=ref["base_epoch"], period=ref["batches_per_epoch"])
    for t, (L, expected) in enumerate(zip(_t(ref["losses"]), ref["weights"])):
        _close(method.loss_weights(L), expected)
        assert method.diagnostics["base_set"] == (t >= 2 * ref["batches_per_epoch"])


@pytest.mark.parametrize(("groups", "same"), [("1", 12), ("2", 10), ("3", 3)])
def test_go4align_matches_the_authors(groups, same):
    """The authors' Lloyd iterations from random centres (kmeans_pytorch) sometimes stop in a local optimum: where
    they found the optimal partition the weights agree (to float32, their clustering's precision); elsewhere
    mtlkit's exact 1-D k-means has the smaller within-group sum of squares. ``same``: steps of 12 that agree."""
    ref = _ref("go4align", "reference.json")
    method = mtlkit.get_aggregator("go4align", num_groups=int(groups), step_size=ref["step_size"])
    agree = 0
    for L, step in zip(_t(ref["losses"]), ref["runs"][groups]):
        w, theirs = method.loss_weights(L), _t(step["weights"])
        x = method.diagnostics["indicators"]
        ours_sse, their_sse = float(((x - w) ** 2).sum()), float(((x - theirs) ** 2).sum())
        assert ours_sse <= their_sse * (1 + 1e-6)
        if their_sse <= ours_sse * (1 + 1e-6):  # the authors' k-means found the optimum too
            _close(w, theirs, rtol=1e-6)
            agree += 1
    assert agree == same


@pytest.mark.parametrize(("run", "options"), [("full", {}), ("decay", {"mean": "decay", "decay": 0.9})])
def test_cov_weighting_matches_the_authors(run, options):
    ref = _ref("cov", "reference.json")
    method = mtlkit.get_aggregator("cov", **options)
    for L, expected in zip(_t(ref["losses"]), ref["runs"][run]):
        _close(method.loss_weights(L), expected, rtol=2e-6, atol=1e-7)  # the authors' statistics are float32


def test_pbi_matches_pymoo():
    for case in _ref("pymoo", "pbi.json")["cases"]:
        method = PBI(theta=case["theta"], preference=case["preference"], ideal=case["ideal"])
        _close(method.loss_weights(_t(case["losses"])), case["gradient"], rtol=0, atol=1e-7)
        _close(method.diagnostics["value"], case["value"], rtol=1e-13)


# --- the defining equations -----------------------------------------------------------------------------------------


def _grad(f, L: torch.Tensor) -> torch.Tensor:
    leaf = L.clone().requires_grad_(True)
    return torch.autograd.grad(f(leaf), leaf)[0]


def test_gls_weights_are_the_gradient_of_the_geometric_mean():
    L = _t([0.3, 1.7, 2.5, 0.9])
    w = GLS().loss_weights(L)
    _close(w, _grad(lambda x: x.prod() ** (1 / 4), L))
    assert float((w * L).sum()) == pytest.approx(float(L.prod() ** 0.25), rel=1e-14)  # the objective's value
    with pytest.raises(ValueError, match="positive losses"):
        GLS()(torch.ones(2, 3), torch.tensor([1.0, 0.0]))


def test_stch_weights_are_the_gradient_of_its_objective():
    L, nadir, pref = _t([0.4, 1.2, 3.0]), [0.5, 1.0, 2.0], [1.0, 2.0, 0.5]
    for mu in (0.1, 1.0, 5.0):
        method = STCH(mu=mu, nadir=nadir, preference=pref)
        expected = _grad(lambda x, mu=mu: 3 * mu * torch.logsumexp(_t(pref) * torch.log(x / _t(nadir) + 1e-20) / mu, 0),
                         L)
        _close(method.loss_weights(L), expected)
    warm = STCH(warmup_epochs=1, period=2)
    for t in range(4):  # epoch 0: warm-up; epoch 1: the nadir epoch; then STCH on their mean
        w = warm.loss_weights(L * (t + 1))
        if t < 4:
            _close(w, 1 / (L * (t + 1)))
    nadir_point = (L * 3 + L * 4) / 2
    expected = _grad(lambda x: 3 * torch.logsumexp(torch.log(x / nadir_point + 1e-20), 0), L)
    _close(warm.loss_weights(L), expected)


def test_pbi_weights_are_the_gradient_of_moead_pbi():
    def pbi(x, lam, z, theta):
        d = lam / lam.norm()
        d1 = ((x - z) @ d).abs()
        return d1 + theta * (x - z - d1 * d).norm()

    lam, z = _t([0.2, 0.5, 0.3]), _t([0.1, 0.0, 0.2])
    for L in (_t([1.0, 2.0, 0.5]), _t([-1.0, -0.5, 0.1])):  # the second below the ideal point: d1 = |…|
        method = PBI(theta=4.0, preference=lam.tolist(), ideal=z.tolist())
        _close(method.loss_weights(L), _grad(lambda x: pbi(x, lam, z, 4.0), L))
    on_line = PBI().loss_weights(_t([2.0, 2.0]))  # d2 = 0: the penalty's subgradient 0
    _close(on_line, [2**-0.5, 2**-0.5])


def test_ldc_mtl_weights_and_router_gradient_follow_its_objective():
    L0, L = _t([2.0, 0.5, 1.0, 4.0]), _t([1.5, 0.6, 0.7, 3.0])

    def f(x, router, normalization):
        sigma = torch.softmax(router, 0)
        ratio = L0 / L0.min()
        l = {"ratio": x / ratio, "log": torch.log(x / L0), "none": x}[normalization]
        wl = sigma * l
        return wl.sum() + 0.05 * sum((wl[i] - wl[i + 1]).abs() for i in range(3))

    for normalization in ("ratio", "log", "none"):
        method = LDCMTL(num_tasks=4, normalization=normalization).double()
        method.loss_weights(L0)  # the first call sets L^0
        with torch.no_grad():
            method.router.copy_(_t([0.3, -0.2, 0.5, 0.0]))
        fixed = method.router.detach().clone()
        router = fixed.clone().requires_grad_(True)
        _close(method.loss_weights(L), _grad(lambda x, r=fixed, n=normalization: f(x, r, n), L))
        leaf = L.clone().requires_grad_(True)
        method.router.grad = None
        method.objective(leaf, method.loss_weights(L)).backward()
        expected = torch.autograd.grad(f(L, router, normalization), router)[0]
        _close(method.router.grad, expected)
        _close(leaf.grad, method.diagnostics["weights"])


def test_gradnorm_parameter_gradient_is_eq2():
    G = _t([[4.0, 1.0, -0.5], [1.0, 1.0, 0.2], [-0.5, 0.2, 9.0]])
    L0, L = _t([1.0, 2.0, 0.5]), _t([0.5, 1.8, 0.45])
    method = GradNorm(num_tasks=3, alpha=1.5, warmup=0).double()
    with torch.no_grad():
        method.loss_scale.copy_(_t([0.2, -0.1, 0.4]))
    p = method.loss_scale.detach().clone().requires_grad_(True)
    method.weights(G, L0)  # L(0); r = 1 here
    method.loss_scale.grad = None
    w = method.weights(G, L)
    ws = 3 * torch.softmax(p, 0)
    Gi = ws * G.diagonal().sqrt()
    ratio = L / L0
    target = (Gi.mean() * (ratio / ratio.mean()) ** 1.5).detach()
    _close(w, ws.detach())
    _close(method.loss_scale.grad, torch.autograd.grad((Gi - target).abs().sum(), p)[0])


def test_moco_simplex_projection_and_paper_variant():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        v = torch.randn(6, generator=gen, dtype=torch.float64) * 3
        x = project_simplex(v)
        assert float(x.sum()) == pytest.approx(1.0, abs=1e-14)
        assert bool((x >= 0).all())
        tau = (v - x)[x > 0]  # KKT: v − x is the same constant on the support and at least v elsewhere
        assert float(tau.max() - tau.min()) < 1e-12
        assert bool((v[x == 0] <= tau.mean() + 1e-12).all())
    J, L = torch.randn(3, 7, generator=gen, dtype=torch.float64), _t([0.5, 1.0, 2.0])
    method = MoCo(normalize=False, projection="simplex")
    y = 0.5 * J  # β_1 = 0.5 from Y = 0
    lam = project_simplex(torch.full((3,), 1 / 3, dtype=torch.float64) - 0.1 * (y @ y.T) @ torch.full(
        (3,), 1 / 3, dtype=torch.float64))
    _close(method(J, L), lam @ y)


def test_dbmtl_first_step_is_eq():
    J, L = torch.randn(3, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64), _t([0.5, 1.0, 2.0])
    m = 0.1 * J / (L + 1e-8)[:, None]  # (1 − β) ĝ from a zero buffer
    n = m.norm(dim=1)
    _close(DBMTL()(J, L), (n.max() / (n + 1e-8)) @ m)


def test_go4align_kmeans_is_the_optimal_1d_partition():
    gen = torch.Generator().manual_seed(2)
    for K in (2, 5, 7):
        for groups in (1, 2, 3, 4):
            x = torch.rand(K, generator=gen, dtype=torch.float64) * torch.logspace(0, 2, K, dtype=torch.float64)
            labels = kmeans_1d(x, groups)
            best = math.inf
            for assignment in torch.cartesian_prod(*[torch.arange(min(groups, K))] * K).reshape(-1, K):
                cost = sum(float(((x[assignment == g] - x[assignment == g].mean()) ** 2).sum())
                           for g in range(min(groups, K)) if bool((assignment == g).any()))
                best = min(best, cost)
            got = sum(float(((x[labels == g] - x[labels == g].mean()) ** 2).sum()) for g in labels.unique())
            assert got == pytest.approx(best, rel=1e-12, abs=1e-15)


def test_uw_so_and_igb_and_cov_equations():
    L = _t([0.5, 1.0, 4.0])
    _close(UWSO(temperature=0.5).loss_weights(L), torch.softmax(2 / (L + 1e-8), 0))
    igb = IGB(base_losses=[1.0, 2.0, 1.0])
    _close(igb.loss_weights(L), _grad(lambda x: (3 * torch.softmax(L / _t([1.0, 2.0, 1.0]), 0) * x.log()).sum(), L))
    cov = CoVWeighting()
    seq = [L, L * 0.9, L * _t([0.5, 1.0, 1.0])]
    ws = [cov.loss_weights(x) for x in seq]
    _close(ws[0], [1 / 3] * 3)
    _close(ws[1], [1 / 3] * 3)
    ratios = torch.stack([seq[0] / seq[0], seq[1] / seq[0]])  # l_t = L_t / mean(L_0 … L_{t−1})
    cv = ratios.std(0, unbiased=False).pow(2).add(1e-8).sqrt() / ratios.mean(0)
    _close(ws[2], cv / cv.sum())


# --- through mtlkit.backward ------------------------------------------------------------------------------------------


def _model(K: int = 3, seed: int = 0) -> tuple[nn.Module, nn.ModuleList, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    trunk = nn.Sequential(nn.Linear(4, 8), nn.Tanh()).double()
    heads = nn.ModuleList(nn.Linear(8, 1) for _ in range(K)).double()
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randn(16, K, dtype=torch.float64)
    return trunk, heads, x, y


def _losses(trunk, heads, x, y) -> list[torch.Tensor]:
    z = trunk(x)
    return [nn.functional.mse_loss(h(z).squeeze(1), y[:, i]) for i, h in enumerate(heads)]


def _build(name: str) -> mtlkit.Aggregator:
    options = {"num_tasks": 3} if name in LEARNABLE else {"seed": 0} if name == "rlw" else {}
    return mtlkit.get_aggregator(name, **options).double()


@pytest.mark.parametrize("name", LOSS_BASED)
def test_loss_based_methods_take_one_backward(name):
    method = _build(name)
    trunk, heads, x, y = _model()
    for _ in range(3):  # past the first calls of the stateful ones
        for p in [*trunk.parameters(), *heads.parameters(), *method.parameters()]:
            p.grad = None
        result = mtlkit.backward(_losses(trunk, heads, x, y), trunk, method, task_params=heads)
    assert result.backend == "losses"
    assert result.gramian is None
    ref_trunk, ref_heads, _, _ = _model()
    ref_trunk.load_state_dict(trunk.state_dict())
    ref_heads.load_state_dict(heads.state_dict())
    (result.weights * torch.stack(_losses(ref_trunk, ref_heads, x, y))).sum().backward()
    for p, q in zip([*trunk.parameters(), *heads.parameters()], [*ref_trunk.parameters(), *ref_heads.parameters()]):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-13)
    for p in method.parameters():  # learnable weights got their gradient from the same backward
        assert p.grad is not None
        assert bool(p.grad.abs().sum() > 0)
    assert json.dumps(result.as_dict())


@pytest.mark.parametrize("backend", ["jacobian", "gramian"])
def test_gradnorm_trains_its_weights_through_backward(backend):
    trunk, heads, x, y = _model()
    method = mtlkit.get_aggregator("gradnorm", num_tasks=3, warmup=0)
    opt = torch.optim.SGD([*trunk.parameters(), *heads.parameters(), *method.parameters()], lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        result = mtlkit.backward(_losses(trunk, heads, x, y), trunk, method, backend=backend, task_params=heads)
        assert method.loss_scale.grad is not None
        opt.step()
    assert result.backend == backend
    assert float(result.weights.sum()) == pytest.approx(3.0, rel=1e-6)  # K softmax(p)
    assert not torch.allclose(result.weights, torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("name", ["dbmtl", "moco"])
def test_jacobian_methods_refuse_the_gramian_backend(name):
    trunk, heads, x, y = _model()
    with pytest.raises(ValueError, match="needs the Jacobian"):
        mtlkit.backward(_losses(trunk, heads, x, y), trunk, name, backend="gramian")
    result = mtlkit.backward(_losses(trunk, heads, x, y), trunk, name, task_params=heads)
    assert result.backend == "jacobian"
    assert result.weights is None


def test_imtl_l_scales_converge_to_minus_log_loss():
    L = _t([0.2, 1.0, 5.0])
    method = IMTLL(num_tasks=3).double()
    opt = torch.optim.SGD(method.parameters(), lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        method.objective(L, method.loss_weights(L)).backward()
        opt.step()
    _close(method.loss_scale, -L.log(), rtol=0, atol=1e-6)  # e^s L = 1: every scaled loss equal


@pytest.mark.parametrize("name", ["gradnorm", "dbmtl", "moco", "stch", "igb", "go4align", "cov", "ldc_mtl", "imtl_l"])
def test_state_survives_a_checkpoint(name, tmp_path):
    gen = torch.Generator().manual_seed(3)
    method, twin = _build(name), _build(name)
    seq = [(torch.randn(3, 6, generator=gen, dtype=torch.float64), torch.rand(3, generator=gen, dtype=torch.float64)
            + 0.5) for _ in range(8)]
    for J, L in seq[:6]:
        method(J, L)
    torch.save(method.state_dict(), tmp_path / "state.pt")
    twin(seq[0][0], seq[0][1])  # a used instance is overwritten too
    twin.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    for J, L in seq[6:]:
        torch.testing.assert_close(twin(J, L), method(J, L), rtol=0, atol=0)


def test_bad_options_are_rejected():
    for name, options in [("rlw", {"dist": "cauchy"}), ("moco", {"projection": "l1"}), ("stch", {"mu": 0.0}),
                          ("stch", {"nadir": [1.0, -1.0]}), ("pbi", {"preference": [0.0, 1.0]}),
                          ("go4align", {"num_groups": 0}), ("cov", {"mean": "median"}),
                          ("ldc_mtl", {"normalization": "z"}), ("gradnorm", {"warmup": -1}), ("dbmtl", {"beta": -1}),
                          ("uw_so", {"temperature": 0.0}), ("igb", {"period": 0}), ("imtl_l", {"num_tasks": 0})]:
        with pytest.raises(ValueError, match="must"):
            mtlkit.get_aggregator(name, **options)
    with pytest.raises(ValueError, match="2 entries but got 3"):
        STCH(nadir=[1.0, 2.0])(torch.ones(3, 2), torch.ones(3))
    with pytest.raises(ValueError, match="pass losses"):
        mtlkit.get_aggregator("dbmtl")(torch.ones(2, 3))
