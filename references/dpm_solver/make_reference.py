"""Reference trajectories of DPM-Solver++(2M) from diffusers, for tests/dancegen/test_dpm_solver.py.

Runs ``diffusers.DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2,
prediction_type="sample", trained_betas=<dancegen's cosine betas>)`` on a fixed deterministic toy x0-predictor
(:func:`toy_x0`, also re-implemented in the test) from a fixed x_T, over dancegen's timesteps
(``DiffusionScheduler.set_timesteps(N)``: 999, 899, …, 99 for N = 10, passed to diffusers as ``timesteps=``), and
saves every intermediate x and every step's x̂0 input in ``dpmpp_2m_reference.npz``. The stochastic variant
(``algorithm_type="sde-dpmsolver++"``, midpoint) is run the same way with a fixed noise tensor per step passed as
``variance_noise`` (saved too): keys ``sde_x_N``, ``sde_x0_N``, ``sde_noise_N``.

It needs only torch, numpy and diffusers (not dancegen): run it in a separate environment, e.g.::

    python3 -m venv /tmp/venv-diffusers && /tmp/venv-diffusers/bin/pip install torch==2.13.0 diffusers
    /tmp/venv-diffusers/bin/python references/dpm_solver/make_reference.py

The betas are recomputed here with dancegen's formula (the test checks they equal ``DiffusionScheduler().betas``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

T = 1000
STEPS = (10, 20)
SHAPE = (2, 6, 5)
OUT = Path(__file__).with_name("dpmpp_2m_reference.npz")


def cosine_betas(T: int = T, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """dancegen.diffusion.DiffusionScheduler's betas (float64)."""
    u = np.arange(T + 1, dtype=np.float64) / T
    f = np.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    f = f / f[0]
    return np.minimum(1 - f[1:] / f[:-1], max_beta)


def our_timesteps(n: int, T: int = T) -> list[int]:
    """DiffusionScheduler.set_timesteps(n): round(k·T/n) − 1 for k = n … 1."""
    return [round(k * T / n) - 1 for k in range(n, 0, -1)]


def toy_x0(x: torch.Tensor, t: int, phase: torch.Tensor) -> torch.Tensor:
    """A fixed, smooth, non-trivial x0-predictor in (−1, 1) (so clamping to [−1, 1] never acts)."""
    u = t / T
    return torch.tanh(0.8 * x / math.sqrt(1.0 + 3.0 * u) + 0.3 * torch.cos(phase + 4.0 * u))


def main() -> None:
    from diffusers import DPMSolverMultistepScheduler

    betas = cosine_betas()
    g = torch.Generator().manual_seed(0)
    x_T = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    phase = torch.rand(SHAPE[1:], generator=g, dtype=torch.float64) * 2 * math.pi
    arrays: dict[str, np.ndarray] = {"betas": betas, "x_T": x_T.numpy(), "phase": phase.numpy()}
    for n in STEPS:
        sched = DPMSolverMultistepScheduler(num_train_timesteps=T, trained_betas=betas.tolist(),
                                            algorithm_type="dpmsolver++", solver_order=2, prediction_type="sample",
                                            final_sigmas_type="zero", lower_order_final=True)
        sched.set_timesteps(timesteps=our_timesteps(n))
        assert sched.timesteps.tolist() == our_timesteps(n)
        trailing = DPMSolverMultistepScheduler(num_train_timesteps=T, trained_betas=betas.tolist(),
                                               timestep_spacing="trailing")
        trailing.set_timesteps(n)  # diffusers' own "trailing" spacing is the same for N dividing T
        assert trailing.timesteps.tolist() == our_timesteps(n), trailing.timesteps.tolist()
        x = x_T.clone()
        xs, x0s = [x.numpy().copy()], []
        for t in sched.timesteps.tolist():
            x0 = toy_x0(x, t, phase)
            x = sched.step(x0, t, x).prev_sample
            xs.append(x.numpy().copy())
            x0s.append(x0.numpy().copy())
        arrays[f"timesteps_{n}"] = np.array(our_timesteps(n))
        arrays[f"x_{n}"] = np.stack(xs)
        arrays[f"x0_{n}"] = np.stack(x0s)
        sde = DPMSolverMultistepScheduler(num_train_timesteps=T, trained_betas=betas.tolist(),
                                          algorithm_type="sde-dpmsolver++", solver_order=2, solver_type="midpoint",
                                          prediction_type="sample", final_sigmas_type="zero", lower_order_final=True)
        sde.set_timesteps(timesteps=our_timesteps(n))
        x = x_T.clone()
        xs, x0s, zs = [x.numpy().copy()], [], []
        for t in sde.timesteps.tolist():
            x0 = toy_x0(x, t, phase)
            z = torch.randn(SHAPE, generator=g, dtype=torch.float64)
            x = sde.step(x0, t, x, variance_noise=z).prev_sample
            xs.append(x.numpy().copy())
            x0s.append(x0.numpy().copy())
            zs.append(z.numpy().copy())
        arrays[f"sde_x_{n}"] = np.stack(xs)
        arrays[f"sde_x0_{n}"] = np.stack(x0s)
        arrays[f"sde_noise_{n}"] = np.stack(zs)
    import diffusers

    arrays["diffusers_version"] = np.array(diffusers.__version__)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} (diffusers {diffusers.__version__}, steps {STEPS})")


if __name__ == "__main__":
    main()
