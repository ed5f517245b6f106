"""Reference trajectories of UniPC from diffusers, for tests/dancegen/test_unipc.py.

Runs ``diffusers.UniPCMultistepScheduler(prediction_type="sample", predict_x0=True, solver_type=<bh2 or bh1>,
solver_order=<1, 2 or 3>, lower_order_final=True, final_sigmas_type="zero", timestep_spacing="trailing",
trained_betas=<dancegen's cosine betas>)`` on the fixed deterministic toy x0-predictor of
``references/dpm_solver/make_reference.py`` (:func:`toy_x0`, re-implemented in the test) from a fixed x_T, over
dancegen's timesteps (``DiffusionScheduler.set_timesteps(N)``: 999, 899, …, 99 for N = 10; diffusers' ``"trailing"``
spacing gives the same for N dividing T, asserted here), and saves in ``unipc_reference.npz``, per configuration
``{variant}_o{order}_{N}``:

* ``x_<cfg>``: every sample the model is evaluated at, then the result: x_T, the predictor's outputs, x_0 (N + 1);
* ``xc_<cfg>``: the corrected sample each step's predictor starts from (``scheduler.last_sample``, N of them;
  the first is x_T, uncorrected).

(Each step's x̂0 input is ``toy_x0`` of ``x_<cfg>[k]``; the test recomputes it.) With ``solver_type="bh1"`` diffusers'
last step (to σ = 0) gives NaN (B(h) = −h = −∞ times a zero sum); the test compares bh1 up to the step before.

It needs only torch, numpy and diffusers (not dancegen): run it in a separate environment, e.g.::

    python3 -m venv /tmp/venv-diffusers && /tmp/venv-diffusers/bin/pip install torch diffusers
    /tmp/venv-diffusers/bin/python references/unipc/make_reference.py

The betas are recomputed here with dancegen's formula (the test checks they equal ``DiffusionScheduler().betas``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from toy_diffusion import T, cosine_betas, our_timesteps, start, toy_x0

STEPS = (10, 20)
#: (solver_type, solver_order): the pipeline's ``unipc`` is bh2 / 2; the others check the general step
CONFIGS = (("bh2", 2), ("bh2", 3), ("bh2", 1), ("bh1", 2))
OUT = Path(__file__).with_name("unipc_reference.npz")


def main() -> None:
    import diffusers
    from diffusers import UniPCMultistepScheduler

    betas = cosine_betas()
    x_T, phase, _ = start()
    arrays: dict[str, np.ndarray] = {"betas": betas, "x_T": x_T.numpy(), "phase": phase.numpy()}
    for n in STEPS:
        arrays[f"timesteps_{n}"] = np.array(our_timesteps(n))
        for variant, order in CONFIGS:
            sched = UniPCMultistepScheduler(num_train_timesteps=T, trained_betas=betas.tolist(),
                                            prediction_type="sample", predict_x0=True, solver_type=variant,
                                            solver_order=order, lower_order_final=True, final_sigmas_type="zero",
                                            timestep_spacing="trailing")
            sched.set_timesteps(n)
            assert sched.timesteps.tolist() == our_timesteps(n), sched.timesteps.tolist()
            x = x_T.clone()
            xs, xcs = [x.numpy().copy()], []
            for t in sched.timesteps.tolist():
                x0 = toy_x0(x, t, phase)
                x = sched.step(x0, t, x).prev_sample
                xs.append(x.numpy().copy())
                xcs.append(sched.last_sample.numpy().copy())
            key = f"{variant}_o{order}_{n}"
            arrays[f"x_{key}"] = np.stack(xs)
            arrays[f"xc_{key}"] = np.stack(xcs)
    arrays["diffusers_version"] = np.array(diffusers.__version__)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} (diffusers {diffusers.__version__}, steps {STEPS}, configs {CONFIGS})")


if __name__ == "__main__":
    main()
