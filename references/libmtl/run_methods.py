"""Reference outputs of LibMTL's weightings for mtlkit's tests: 1.1.5 (GradNorm, RLW, GLS, IMTL) and the main branch
(DB_MTL, MoCo, STCH: not in 1.1.5).

Run in an environment with torch, numpy and LibMTL (``pip install --no-deps LibMTL==1.1.5``) and without mtlkit::

    python -I references/libmtl/run_methods.py                        # 1.1.5 as installed
    git clone https://github.com/median-research-group/LibMTL /tmp/LibMTL-main
    python -I references/libmtl/run_methods.py --main /tmp/LibMTL-main  # the main branch's methods

As in ``run_reference.py``, ``LibMTL`` and ``LibMTL.weighting`` are entered in ``sys.modules`` as bare packages (their
``__init__`` imports the model zoo) and the weighting modules are imported from the files unchanged. Each weighting
is given the attributes LibMTL's trainer sets (``task_num``, ``device``, ``epoch``, ``rep_grad=False``,
``train_loss_buffer``, ``get_share_params`` / ``zero_grad_share_params``) and computes on a chosen Jacobian J and
chosen loss values c: one shared parameter θ = 0 (P,) with losses ``L_i = J_i·θ + c_i``, so ``∇L_i = J_i`` and
``L_i = c_i``; ``backward(losses, **kwargs)`` leaves the aggregated update in ``θ.grad``. Its per-task gradients are
formed in ``torch.zeros(...)`` buffers, float32 by default: the gradient-based methods run with float64 as the
default dtype (``torch.set_default_dtype``, recorded as ``default_dtype``) so that they compute in float64; RLW
draws its weights in float32 as LibMTL does.

Writes

- ``methods/<mtlkit name>.json``: the update of a fresh weighting for every case of ``references/cases.py``
  (losses ``linspace(0.5, 2.0, K)``), the format ``tests/mtlkit/test_references.py`` reads;
- ``steps/<mtlkit name>.json``: a run of several steps (random J and losses per step, epochs of ``BATCHES``
  steps, the trainer's epoch-mean loss buffer, plain SGD with ``LR`` on the weighting's own parameter): per step
  the update, the returned weights and the parameter after the step, read by
  ``tests/mtlkit/test_methods_loss_and_libmtl.py``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from cases import cases  # noqa: E402

K, P, BATCHES, EPOCHS, LR = 3, 6, 2, 8, 0.1

# mtlkit name: (LibMTL module, kwargs of backward, mtlkit options for the cases, float64 default dtype)
V115: dict[str, tuple[str, dict[str, Any], dict[str, Any], bool]] = {
    "gradnorm": ("GradNorm", {"alpha": 1.5}, {"warmup": 0}, True),
    "rlw": ("RLW", {"dist": "Normal"}, {"seed": 0}, False),
    "gls": ("GLS", {}, {}, True),
    "imtl": ("IMTL", {}, {}, True),
}
MAIN: dict[str, tuple[str, dict[str, Any], dict[str, Any], bool]] = {
    "dbmtl": ("DB_MTL", {"DB_beta": 0.9, "DB_beta_sigma": 0.0}, {}, True),
    "moco": ("MoCo", {"MoCo_beta": 0.5, "MoCo_beta_sigma": 0.5, "MoCo_gamma": 0.1, "MoCo_gamma_sigma": 0.5,
                      "MoCo_rho": 0.0}, {}, True),
    "stch": ("STCH", {"STCH_mu": 1.0, "STCH_warmup_epoch": 4}, {}, True),
}


def _load(root: str, module: str) -> type:
    for name, path in (("LibMTL", root), ("LibMTL.weighting", f"{root}/weighting")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [path]
        sys.modules[name] = pkg
    mod = importlib.import_module(f"LibMTL.weighting.{module}")
    return getattr(mod, module)


class _Task:
    """One LibMTL weighting on a shared parameter θ, with the trainer's attributes."""

    def __init__(self, cls: type, K: int, P: int, epochs: int) -> None:
        self.theta = torch.nn.Parameter(torch.zeros(P, dtype=torch.float64))
        w = cls()
        w.task_num, w.device, w.rep_grad, w.epoch = K, torch.device("cpu"), False, 0
        w.task_name = [str(i) for i in range(K)]
        w.train_loss_buffer = np.zeros([K, epochs])
        w.epochs = epochs
        w.get_share_params = lambda: [self.theta]
        w.zero_grad_share_params = lambda: self.theta.grad.zero_() if self.theta.grad is not None else None
        w.init_param()
        self.w = w

    def step(self, J: torch.Tensor, c: torch.Tensor, **kwargs: Any) -> tuple[torch.Tensor, Any]:
        self.theta.grad = None
        losses = J @ self.theta + c
        weights = self.w.backward(losses, **kwargs)
        update = torch.zeros_like(self.theta) if self.theta.grad is None else self.theta.grad.detach().clone()
        return update, weights


def _plain(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        return x.detach().double().tolist()
    return np.asarray(x, dtype=np.float64).tolist()


def run_cases(name: str, cls: type, kwargs: dict[str, Any], options: dict[str, Any], source: str) -> dict:
    out: dict = {"reference": f"{source} {cls.__name__}({kwargs})", "torch": torch.__version__,
                 "default_dtype": str(torch.get_default_dtype()), "mtlkit": {"name": name, "options": options},
                 "cases": {}, "errors": {}}
    for case, J in cases():
        torch.manual_seed(0)  # RLW draws from the global RNG
        k = J.shape[0]
        try:
            task = _Task(cls, k, J.shape[1], 2)
            if name == "gradnorm":  # past its plain-sum epoch, L(0) = these losses (mtlkit: warmup=0)
                task.w.epoch = 1
                task.w.train_loss_buffer[:, 0] = np.linspace(0.5, 2.0, k)
            update, _ = task.step(J, torch.linspace(0.5, 2.0, k, dtype=torch.float64), **kwargs)
            out["cases"][case] = update.double().tolist()
        except Exception as exc:  # recorded: the docs say where the reference fails
            out["errors"][case] = f"{type(exc).__name__}: {exc}"[:300]
    return out


def _sgd(param: torch.nn.Parameter | None) -> list[float] | None:
    if param is None:
        return None
    with torch.no_grad():
        if param.grad is not None:
            param -= LR * param.grad
            param.grad = None
    return param.detach().double().tolist()


def run_steps(name: str, cls: type, kwargs: dict[str, Any], source: str) -> dict:
    g = torch.Generator().manual_seed(1)
    T = BATCHES * EPOCHS
    Js = torch.randn(T, K, P, generator=g, dtype=torch.float64)
    cs = torch.rand(T, K, generator=g, dtype=torch.float64) * torch.linspace(2.0, 0.5, T, dtype=torch.float64)[:, None]
    cs = cs + 0.2
    torch.manual_seed(0)
    task = _Task(cls, K, P, EPOCHS)
    param = getattr(task.w, "loss_scale", None)
    steps = []
    for t in range(T):
        epoch = t // BATCHES
        task.w.epoch = epoch
        if param is not None:
            param.grad = None
        update, weights = task.step(Js[t], cs[t], **kwargs)
        steps.append({"update": update.double().tolist(), "weights": _plain(weights), "param": _sgd(param)})
        if (t + 1) % BATCHES == 0:  # the trainer's epoch-mean losses
            task.w.train_loss_buffer[:, epoch] = cs[t + 1 - BATCHES : t + 1].mean(0).numpy()
    return {"reference": f"{source} {cls.__name__}({kwargs})", "torch": torch.__version__,
            "default_dtype": str(torch.get_default_dtype()), "K": K, "P": P, "batches_per_epoch": BATCHES,
            "lr": LR, "jacobians": Js.tolist(), "losses": cs.tolist(), "steps": steps}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--main", help="a checkout of LibMTL's main branch: run its DB_MTL, MoCo and STCH")
    args = parser.parse_args()
    if args.main:
        root = str(Path(args.main) / "LibMTL")
        commit = subprocess.run(["git", "-C", args.main, "rev-parse", "HEAD"], capture_output=True, text=True)
        source, methods = f"LibMTL main {commit.stdout.strip()[:12]}", MAIN
    else:
        root = importlib.util.find_spec("LibMTL").submodule_search_locations[0]
        source, methods = "LibMTL " + importlib.metadata.version("LibMTL"), V115
    assert "mtlkit" not in sys.modules
    for folder in ("methods", "steps"):
        (HERE / folder).mkdir(exist_ok=True)
    for name, (module, kwargs, options, float64) in methods.items():
        torch.set_default_dtype(torch.float64 if float64 else torch.float32)
        cls = _load(root, module)
        (HERE / "methods" / f"{name}.json").write_text(json.dumps(run_cases(name, cls, kwargs, options, source)))
        print(f"wrote methods/{name}.json")
        if name != "gls":  # stateless: its cases say everything
            (HERE / "steps" / f"{name}.json").write_text(json.dumps(run_steps(name, cls, kwargs, source)))
            print(f"wrote steps/{name}.json")


if __name__ == "__main__":
    main()
