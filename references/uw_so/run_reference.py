"""Reference outputs of the authors' UW-SO and UW-O (Kirchdorfer et al., GCPR 2024; ``src/weighting/UW_SO.py`` and
``UW_O.py`` of github.com/lukaskirchdorfer/MTL4PPM) for mtlkit's test.

Run with the authors' repository checked out (this script imports its files; nothing of it is copied here) in an
environment with torch and numpy and without mtlkit::

    git clone https://github.com/lukaskirchdorfer/MTL4PPM /tmp/MTL4PPM
    python -I references/uw_so/run_reference.py /tmp/MTL4PPM > references/uw_so/reference.json

``src`` and ``src.weighting`` are entered in ``sys.modules`` as bare packages and the two modules imported from the
files unchanged. Each weighting computes on a chosen Jacobian and chosen losses (a shared parameter θ = 0 with
``L_i = J_i·θ + c_i``, the attributes LibMTL-style trainers set): per step the weights it returns and the update it
leaves in ``θ.grad``, for UW-SO with T = 1 and T = 2 and for UW-O.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import torch

K, P, STEPS = 4, 5, 6


def _load(repo: Path, module: str) -> type:
    for name, path in (("src", repo / "src"), ("src.weighting", repo / "src" / "weighting")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(path)]
        sys.modules[name] = pkg
    return getattr(importlib.import_module(f"src.weighting.{module}"), module)


def _run(cls: type, kwargs: dict, Js: torch.Tensor, cs: torch.Tensor) -> list[dict]:
    theta = torch.nn.Parameter(torch.zeros(P, dtype=torch.float64))
    w = cls()
    w.task_num, w.device, w.rep_grad = K, torch.device("cpu"), False
    w.get_share_params = lambda: [theta]
    w.zero_grad_share_params = lambda: theta.grad.zero_() if theta.grad is not None else None
    out = []
    for J, c in zip(Js, cs):
        theta.grad = None
        weights, _ = w.backward(J @ theta + c, **kwargs)
        out.append({"weights": [float(x) for x in weights], "update": theta.grad.tolist()})
    return out


def main() -> None:
    repo = Path(sys.argv[1])
    assert "mtlkit" not in sys.modules
    torch.set_default_dtype(torch.float64)  # the gradient buffers of its AbsWeighting (float64 like the inputs)
    g = torch.Generator().manual_seed(3)
    Js = torch.randn(STEPS, K, P, generator=g, dtype=torch.float64)
    cs = torch.rand(STEPS, K, generator=g, dtype=torch.float64) * torch.tensor([0.1, 1.0, 3.0, 0.5]) + 0.05
    uw_so, uw_o = _load(repo, "UW_SO"), _load(repo, "UW_O")
    runs = {
        "uw_so T=1": _run(uw_so, {"T": 1.0, "use_softmax": True}, Js, cs),
        "uw_so T=2": _run(uw_so, {"T": 2.0, "use_softmax": True}, Js, cs),
        "uw_o": _run(uw_o, {}, Js, cs),
    }
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    json.dump({"source": "https://github.com/lukaskirchdorfer/MTL4PPM src/weighting/UW_SO.py, UW_O.py",
               "commit": commit.strip(), "torch": torch.__version__, "jacobians": Js.tolist(), "losses": cs.tolist(),
               "runs": runs}, sys.stdout)


if __name__ == "__main__":
    main()
