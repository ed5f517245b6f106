"""``benchmarks/representation_vs_parameter.py`` (docs/dancegen/mtl-spaces.md): the update-cosine formula against an
explicit Jacobian, and 3 real training steps with the parameter-space Gramian hooked in (valid weights, the
parameter Gramian equal to J Jᵀ of explicit per-task gradients, training untouched by the measurement)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import mtlkit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rvp():
    spec = importlib.util.spec_from_file_location("representation_vs_parameter",
                                                  ROOT / "benchmarks" / "representation_vs_parameter.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_update_cosine_matches_explicit_jacobian(rvp):
    gen = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    x = torch.randn(10, 6, generator=gen, dtype=torch.float64)
    out = net(x)
    losses = [out[:, 0].pow(2).mean(), (out[:, 1] - 1).abs().mean(), out.sum(1).sin().mean()]
    params = list(net.parameters())
    J = torch.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params, retain_graph=True)])
                     for loss in losses])
    G = (J @ J.T).numpy()
    a, b = np.array([0.2, 0.5, 0.3]), np.array([0.6, 0.1, 0.3])
    ua, ub = (torch.from_numpy(a) @ J), (torch.from_numpy(b) @ J)
    assert rvp.update_cosine(G, a, b) == pytest.approx(float(ua @ ub / (ua.norm() * ub.norm())), rel=1e-12)
    task_cos = [float(J[i] @ ua / (J[i].norm() * ua.norm())) for i in range(3)]
    np.testing.assert_allclose(rvp.task_cosines(G, a), task_cos, rtol=1e-12)
    res = mtlkit.backward(losses, params, "nash", backend="jacobian", retain_graph=True)  # what the hook reads
    np.testing.assert_allclose(res.gramian.numpy(), G, rtol=1e-10)


def test_three_training_steps(rvp, tmp_path):
    data = rvp.make_data(tmp_path / "data", songs_per_genre=1, seconds=5.0, genres=["Breaking", "Jazz", "Dai"])
    cfg = rvp.config(data, tmp_path / "run", 3, preset="tiny", music_encoders="stft", batch_size=2, warmup=0)
    result = rvp.run_measurement(cfg, every=1, log=lambda _: None)
    tasks = result["tasks"]
    assert tasks == ["S", "J", "V", "F", "C"]
    assert [r["step"] for r in result["records"]] == [0, 1, 2]
    for rec in result["records"]:
        assert rec["w_train_vs_fresh"] < 1e-6  # the trainer's warm-started weights = a fresh solve
        assert set(rec["variants"]) == {"min_norm_ratio=0.001", "min_norm_ratio=0.01", "min_norm_ratio=0.05"}
        for v in rec["variants"].values():
            for w in (v["w_rep"], v["w_par"]):
                assert len(w) == len(tasks)
                assert all(x > 0 and np.isfinite(x) for x in w)
                assert sum(w) == pytest.approx(1.0)
            assert -1 - 1e-9 <= v["update_cosine"] <= 1 + 1e-9
            assert v["ratio"] == pytest.approx([r / p for r, p in zip(v["w_rep"], v["w_par"])])
        # Nash in parameter space (when its floor is not active) serves every task equally
        v = rec["variants"][result["training_variant"]]
        if not v["solver"]["par"]["floored"]:
            n = np.asarray(rec["norms"]["parameters"])
            assert np.all(np.asarray(v["task_cosine_par"]) > 0)
            share = np.asarray(v["w_par"]) * np.asarray(v["task_cosine_par"]) * n
            np.testing.assert_allclose(share / share.mean(), 1.0, rtol=1e-5)
    summary = rvp.summarise(result, 3, count=1)
    assert summary["0-3"]["measurements"] == 3
    assert "| 0-3 |" in rvp.markdown(summary, tasks, None, {}, result["variants"], result["training_variant"])
    assert mtlkit.backward.__name__ == "backward"  # the hook is removed afterwards


def test_hook_leaves_training_unchanged(rvp, tmp_path):
    """The same 2 steps with and without the parameter-space measurement give identical parameters."""
    from dancegen.train import Trainer

    data = rvp.make_data(tmp_path / "data", songs_per_genre=1, seconds=5.0, genres=["Breaking", "Jazz"])
    finals = []
    for k, every in enumerate((1, 1000)):
        cfg = rvp.config(data, tmp_path / f"run{k}", 2, preset="tiny", music_encoders="stft", batch_size=2)
        trainer = Trainer(cfg)
        with rvp.measure_parameter_space(trainer, lambda s, e=every: s % e == 0 and e == 1, [], {}):
            for _ in range(2):
                trainer.train_step()
        finals.append(torch.cat([p.detach().reshape(-1) for p in trainer.run.params]))
    assert torch.equal(finals[0], finals[1])
