"""DPM-Solver++(2M): the scheduler step against diffusers' reference trajectories, and the CLI's ``--sampler`` check
(the sampler through the denoising loop — long-form windows, edits, batched clips — is in test_pipeline.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dancegen.diffusion import DiffusionScheduler
from dancegen.errors import DancegenError

REFERENCE = Path(__file__).resolve().parents[2] / "references" / "dpm_solver" / "dpmpp_2m_reference.npz"
SR = 15360


def toy_x0(x: torch.Tensor, t: int, phase: torch.Tensor) -> torch.Tensor:
    """The toy x0-predictor of references/dpm_solver/make_reference.py."""
    u = t / 1000
    return torch.tanh(0.8 * x / math.sqrt(1.0 + 3.0 * u) + 0.3 * torch.cos(phase + 4.0 * u))


def run_2m(sched: DiffusionScheduler, x: torch.Tensor, steps: int, phase: torch.Tensor) -> list[torch.Tensor]:
    xs, prev = [x], None
    for t, t_prev in sched.step_pairs(steps):
        x0 = toy_x0(x, t, phase)
        x = sched.dpmpp_2m_step(x0, t, t_prev, x, *(prev or (None, None)))
        prev = (x0, t)
        xs.append(x)
    return xs


# --------------------------------------------------------------------------- the scheduler step
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("steps", [10, 20])
def test_matches_diffusers_reference_trajectory(steps: int, dtype: torch.dtype) -> None:
    ref = np.load(REFERENCE)
    sched = DiffusionScheduler()
    np.testing.assert_allclose(ref["betas"], sched.betas.numpy(), rtol=0, atol=1e-15)
    assert sched.set_timesteps(steps).tolist() == ref[f"timesteps_{steps}"].tolist()  # the same spacing
    xs = run_2m(sched, torch.from_numpy(ref["x_T"]).to(dtype), steps, torch.from_numpy(ref["phase"]).to(dtype))
    got = np.stack([x.double().numpy() for x in xs])
    assert got.shape == ref[f"x_{steps}"].shape
    # diffusers keeps its sigmas in float32: agreement to ~1e-6 over the whole trajectory
    np.testing.assert_allclose(got, ref[f"x_{steps}"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("steps", [10, 20])
def test_sde_variant_matches_diffusers_reference_trajectory(steps: int, dtype: torch.dtype) -> None:
    """The stochastic DPM-Solver++(2M) step with diffusers' per-step noise (``variance_noise``) passed in."""
    ref = np.load(REFERENCE)
    sched = DiffusionScheduler()
    x, phase = torch.from_numpy(ref["x_T"]).to(dtype), torch.from_numpy(ref["phase"]).to(dtype)
    noise = torch.from_numpy(ref[f"sde_noise_{steps}"]).to(dtype)
    xs, prev = [x], None
    for k, (t, t_prev) in enumerate(sched.step_pairs(steps)):
        x0 = toy_x0(x, t, phase)
        x = sched.dpmpp_2m_sde_step(x0, t, t_prev, x, *(prev or (None, None)), noise=noise[k])
        prev = (x0, t)
        xs.append(x)
    np.testing.assert_allclose(np.stack([v.double().numpy() for v in xs]), ref[f"sde_x_{steps}"], rtol=0, atol=1e-5)


def test_sde_variant_draws_from_the_generator_and_keeps_q_for_a_perfect_x0() -> None:
    sched = DiffusionScheduler()
    x = torch.randn(2, 30, 8, generator=torch.Generator().manual_seed(1))
    a = sched.dpmpp_2m_sde_step(x * 0.1, 999, 899, x, generator=torch.Generator().manual_seed(5))
    b = sched.dpmpp_2m_sde_step(x * 0.1, 999, 899, x, generator=torch.Generator().manual_seed(5))
    c = sched.dpmpp_2m_sde_step(x * 0.1, 999, 899, x, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(a, b)
    assert (a - c).abs().max() > 1e-3
    with pytest.raises(DancegenError, match="draws noise"):
        sched.dpmpp_2m_sde_step(x, 999, 899, x)
    # a constant x̂0 = x0: every step's marginal stays q(x_t | x0) — mean √ᾱ x0 and variance 1 − ᾱ (many samples)
    x0 = torch.full((20000, 1, 1), 0.4, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    x, prev = sched.add_noise(x0, torch.randn(x0.shape, generator=g, dtype=torch.float64), 999), None
    for t, t_prev in sched.step_pairs(10):
        x = sched.dpmpp_2m_sde_step(x0, t, t_prev, x, *(prev or (None, None)), generator=g)
        prev = (x0, t)
        if t_prev >= 0:
            a_bar = float(sched.alphas_cumprod[t_prev])
            assert abs(float(x.mean()) - math.sqrt(a_bar) * 0.4) < 0.02
            assert abs(float(x.var()) - (1 - a_bar)) < 0.03
    torch.testing.assert_close(x, x0)


def test_first_step_is_ddim_eta_zero_and_perfect_x0_is_exact() -> None:
    sched = DiffusionScheduler()
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 30, 8, generator=g) * 2 - 1
    eps = torch.randn(2, 30, 8, generator=g)
    x = sched.add_noise(x0, eps, 999)
    torch.testing.assert_close(sched.dpmpp_2m_step(x0 * 0.5, 999, 899, x), sched.ddim_step(x0 * 0.5, 999, 899, x,
                                                                                          eta=0.0))
    prev = None
    for t, t_prev in sched.step_pairs(10):  # a constant x̂0 = x0: the solver stays on q(x_t | x0) with the same ε
        x = sched.dpmpp_2m_step(x0, t, t_prev, x, *(prev or (None, None)))
        prev = (x0, t)
        target = x0 if t_prev < 0 else sched.add_noise(x0, eps, t_prev)
        torch.testing.assert_close(x, target, atol=1e-5, rtol=1e-5)


def test_bad_calls() -> None:
    sched = DiffusionScheduler()
    x = torch.zeros(1, 4, 3)
    with pytest.raises(DancegenError, match="t_prev < t"):
        sched.dpmpp_2m_step(x, 100, 100, x)
    with pytest.raises(DancegenError, match="prev_t"):
        sched.dpmpp_2m_step(x, 100, 50, x, prev_x0=x)
    with pytest.raises(DancegenError, match="prev_t > t"):
        sched.dpmpp_2m_step(x, 100, 50, x, prev_x0=x, prev_t=100)
    torch.testing.assert_close(sched.dpmpp_2m_step(x + 0.3, 19, -1, x), x + 0.3)  # the last step returns x̂0


# --------------------------------------------------------------------------- the CLI
@pytest.mark.parametrize("command", ["generate", "edit", "evaluate"])
def test_cli_rejects_bad_sampler_before_heavy_work(tmp_path: Path, command: str) -> None:
    import subprocess
    import sys

    wav = str(tmp_path / "song.wav")  # never read: the option check comes first
    np.save(tmp_path / "ref.npy", np.zeros((30, 319), np.float32))
    args = {"generate": [wav, "--genre", "Jazz"], "edit": [str(tmp_path / "ref.npy"), wav, "--keep", "body",
                                                             "--genre", "Jazz"],
            "evaluate": ["--data", str(tmp_path), "--checkpoint", str(tmp_path)]}[command]
    proc = subprocess.run([sys.executable, "-m", "dancegen", command, *args, "--sampler", "euler"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.endswith("--sampler 'euler': expected one of ddim, dpmpp_2m, dpmpp_2m_sde, unipc")
