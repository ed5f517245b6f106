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

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from toy_diffusion import SHAPE, T, cosine_betas, our_timesteps, start, toy_x0

STEPS = (10, 20)
OUT = Path(__file__).with_name("dpmpp_2m_reference.npz")


def main() -> None:
    from diffusers import DPMSolverMultistepScheduler

    betas = cosine_betas()
    x_T, phase, g = start()
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
