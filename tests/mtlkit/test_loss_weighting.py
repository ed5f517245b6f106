"""Loss-based methods (DWA, uncertainty weighting): weights from the losses alone, one backward of Σ w_i L_i,
learnable parameters trained by the user's optimiser, state in state_dict()."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import mtlkit


def _model(seed: int = 0, K: int = 3) -> tuple[nn.Module, nn.ModuleList]:
    torch.manual_seed(seed)
    trunk = nn.Sequential(nn.Linear(4, 16), nn.Tanh()).double()
    heads = nn.ModuleList(nn.Linear(16, 1) for _ in range(K)).double()
    return trunk, heads


def _losses(trunk: nn.Module, heads: nn.ModuleList, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    z = trunk(x)
    return [nn.functional.mse_loss(h(z).squeeze(1), y[:, i]) for i, h in enumerate(heads)]


def test_dwa_follows_eq7_per_step_and_per_period():
    rng = torch.Generator().manual_seed(0)
    seq = torch.rand(9, 3, generator=rng, dtype=torch.float64) + 0.1
    dwa = mtlkit.DWA(temperature=2.0)
    for t, L in enumerate(seq):
        w = dwa.loss_weights(L)
        if t < 2:
            assert torch.equal(w, torch.ones(3, dtype=torch.float64))
        else:
            r = seq[t - 1] / seq[t - 2]
            expected = 3 * torch.exp(r / 2) / torch.exp(r / 2).sum()
            torch.testing.assert_close(w, expected, rtol=1e-14, atol=0)
    # period=3 (LibMTL's epochs): constant weights within a period, from the two previous periods' means
    dwa = mtlkit.DWA(period=3)
    got = torch.stack([dwa.loss_weights(L) for L in seq])
    means = seq.reshape(3, 3, 3).mean(dim=1)
    r = means[1] / means[0]
    assert torch.equal(got[:6], torch.ones(6, 3, dtype=torch.float64))
    torch.testing.assert_close(got[6:], (3 * torch.softmax(r / 2, 0)).expand(3, 3), rtol=1e-14, atol=0)


def test_uw_objective_and_gradient_of_the_log_variances():
    uw = mtlkit.UncertaintyWeighting(num_tasks=2)
    L = torch.tensor([2.0, 0.5], dtype=torch.float64, requires_grad=True)
    w = uw.loss_weights(L.detach())
    obj = uw.objective(L, w)
    s = torch.full((2,), -0.5)
    assert float(obj.detach()) == pytest.approx(float((0.5 * torch.exp(-s) * L.detach() + 0.5 * s).sum()), rel=1e-6)
    obj.backward()
    torch.testing.assert_close(L.grad, 0.5 * torch.exp(-s).double())
    torch.testing.assert_close(uw.log_var.grad, (0.5 - 0.5 * torch.exp(-s) * L.detach().float()))


@pytest.mark.parametrize("name", ["dwa", "uw"])
def test_backward_is_one_backward_of_the_weighted_sum(name):
    x, y = torch.randn(32, 4, dtype=torch.float64), torch.randn(32, 3, dtype=torch.float64)
    method = mtlkit.get_aggregator(name, **({"num_tasks": 3} if name == "uw" else {}))
    trunk, heads = _model()
    for _ in range(3):  # DWA needs two periods of history before its weights move
        for p in [*trunk.parameters(), *heads.parameters(), *method.parameters()]:
            p.grad = None
        result = mtlkit.backward(_losses(trunk, heads, x, y), trunk, method, task_params=heads)
    assert result.backend == "losses"
    assert result.gramian is None
    assert result.gradient_norms is None
    ref_trunk, ref_heads = _model()
    ref_trunk.load_state_dict(trunk.state_dict())
    ref_heads.load_state_dict(heads.state_dict())
    L = torch.stack(_losses(ref_trunk, ref_heads, x, y))
    (result.weights * L).sum().backward()  # the same weights, all parameters weighted (the default for losses)
    for p, q in zip([*trunk.parameters(), *heads.parameters()], [*ref_trunk.parameters(), *ref_heads.parameters()]):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-12, atol=1e-14)
    assert json_safe(result.as_dict())


def json_safe(d: dict) -> bool:
    import json

    return bool(json.dumps(d))


def test_unweighted_heads_get_the_plain_sum():
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randn(16, 3, dtype=torch.float64)
    trunk, heads = _model()
    uw = mtlkit.UncertaintyWeighting(num_tasks=3, init=1.0)
    mtlkit.backward(_losses(trunk, heads, x, y), trunk, uw, task_params=heads, task_weighting="unweighted")
    ref_trunk, ref_heads = _model()
    sum(_losses(ref_trunk, ref_heads, x, y)).backward()
    for p, q in zip(heads.parameters(), ref_heads.parameters()):
        torch.testing.assert_close(p.grad, q.grad)


def test_uw_learns_the_task_noise_levels():
    """Two regression tasks with noise variances 0.01 and 1: the log-variances converge to log(MSE) (Eq. 7's
    optimum, s = log L) and the noisy task ends with the smaller weight."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 4, generator=g, dtype=torch.float64)
    clean = torch.stack([x[:, 0] - x[:, 1], x[:, 2] * 0.5], dim=1)
    y = clean + torch.randn(512, 2, generator=g, dtype=torch.float64) * torch.tensor([0.1, 1.0], dtype=torch.float64)
    trunk, heads = _model(K=2)
    uw = mtlkit.get_aggregator("uw", num_tasks=2)
    opt = torch.optim.Adam([*trunk.parameters(), *heads.parameters(), *uw.parameters()], lr=0.02)
    for _ in range(600):
        opt.zero_grad()
        losses = _losses(trunk, heads, x, y)
        mtlkit.backward(losses, trunk, uw, task_params=heads)
        opt.step()
    final = torch.stack(_losses(trunk, heads, x, y)).detach()
    torch.testing.assert_close(uw.log_var.detach().double(), final.log(), atol=0.05, rtol=0)
    assert 0.005 < float(final[0]) < 0.03
    assert 0.7 < float(final[1]) < 1.3
    w = uw.diagnostics["weights"]
    assert float(w[0]) > 20 * float(w[1])


def test_state_dict_round_trips_through_safetensors(tmp_path):
    from safetensors.torch import load_file, save_file

    uw = mtlkit.UncertaintyWeighting()  # materialised on the first call
    uw.loss_weights(torch.ones(4, dtype=torch.float64))
    with torch.no_grad():
        uw.log_var.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4]))
    save_file(uw.state_dict(), tmp_path / "uw.safetensors")
    twin = mtlkit.UncertaintyWeighting()
    twin.load_state_dict(load_file(tmp_path / "uw.safetensors"))
    assert torch.equal(twin.log_var, uw.log_var)

    dwa = mtlkit.DWA(period=2)
    seq = torch.rand(7, 3, dtype=torch.float64) + 0.5
    for L in seq[:5]:
        dwa.loss_weights(L)
    twin = mtlkit.DWA(period=2)
    twin.load_state_dict(torch.load(_saved(dwa.state_dict(), tmp_path), weights_only=True))
    for L in seq[5:]:
        assert torch.equal(twin.loss_weights(L), dwa.loss_weights(L))


def _saved(state: dict, folder) -> str:
    path = folder / "state.pt"
    torch.save(state, path)
    return str(path)


def test_listing_shows_both_kinds_with_what_they_need():
    infos = {i.name: i for i in mtlkit.list_aggregators()}
    assert infos["dwa"].properties.kind == "losses"
    assert infos["nash"].properties.kind == "gramian"
    assert infos["uw"].as_dict()["properties"]["learnable"] is True
    assert {i.name for i in mtlkit.list_aggregators(kind="losses")} >= {"dwa", "uw"}
    assert "nash" not in {i.name for i in mtlkit.list_aggregators(kind="losses")}
    with pytest.raises(ValueError, match="kind"):
        mtlkit.list_aggregators(kind="weights")


def test_loss_based_errors_are_clear():
    uw = mtlkit.UncertaintyWeighting(num_tasks=2)
    with pytest.raises(ValueError, match="2 log-variances but got 3"):
        uw(torch.ones(3, 4), torch.ones(3))
    with pytest.raises(ValueError, match="pass losses"):
        mtlkit.DWA()(torch.ones(3, 4))
    with pytest.raises(ValueError, match="NaN or Inf"):
        mtlkit.DWA()(torch.ones(2, 4), torch.tensor([1.0, math.inf]))
    trunk, heads = _model()
    x, y = torch.randn(8, 4, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="groups do not apply"):
        mtlkit.backward(_losses(trunk, heads, x, y), None, "dwa", groups=[trunk[0]])


def test_after_step_hook_exists_on_every_method():
    for info in mtlkit.list_aggregators():
        method = info.cls(**({"num_tasks": 2} if info.name == "uw" else {}))
        assert isinstance(method, nn.Module)
        method(torch.eye(2, 3), torch.ones(2))
        assert method.after_step(torch.ones(2)) is None


# --- matched to LibMTL 1.1.5 (references/libmtl: the script that ran LibMTL and its outputs) ---------------------

LIBMTL = json.loads((Path(__file__).parents[2] / "references" / "libmtl" / "reference.json").read_text())


def test_dwa_matches_libmtl_per_epoch():
    losses = torch.tensor(LIBMTL["losses"], dtype=torch.float64)
    K = losses.shape[-1]
    dwa = mtlkit.DWA(temperature=LIBMTL["T"], period=LIBMTL["batches_per_epoch"])
    got = torch.stack([dwa.loss_weights(L) for L in losses.reshape(-1, K)])
    # LibMTL forms the loss ratios in float32 (torch.Tensor(...)): agreement to float32 rounding
    torch.testing.assert_close(got, torch.tensor(LIBMTL["dwa_weights"], dtype=torch.float64), rtol=1e-6, atol=0)


def test_uw_matches_libmtl_step_by_step():
    losses = torch.tensor(LIBMTL["losses"], dtype=torch.float32).reshape(-1, 3)
    uw = mtlkit.UncertaintyWeighting(num_tasks=3)
    for L, step in zip(losses, LIBMTL["uw_steps"]):
        uw.log_var.grad = None
        w = uw.loss_weights(L.double())
        uw.objective(L, w).backward()
        with torch.no_grad():
            uw.log_var -= LIBMTL["uw_lr"] * uw.log_var.grad
        torch.testing.assert_close(w.detach(), torch.tensor(step["weights"]), rtol=1e-6, atol=0)
        torch.testing.assert_close(uw.log_var.detach(), torch.tensor(step["loss_scale"]), rtol=1e-6, atol=1e-7)
