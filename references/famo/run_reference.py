"""Reference outputs of the authors' FAMO (github.com/Cranial-XIX/FAMO, ``famo.py``) for mtlkit's test.

Run with the authors' repository checked out (this script imports its ``famo.py``; nothing of it is copied
here) in an environment with torch and without mtlkit::

    git clone https://github.com/Cranial-XIX/FAMO /tmp/FAMO
    python -I references/famo/run_reference.py /tmp/FAMO > references/famo/reference.json

Scenario (the authors' own example, smaller): a linear model ``R^dim → R^K`` fitted to random targets with
Adam, each task's loss the mean squared error of one output. Per step: the weighted loss's gradient w.r.t. the
K losses (FAMO's effective weights), the logits after ``update(new_losses)``, and the model after the step.
The inputs and the initial model are written too, so the test rebuilds the same run.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import torch

N, DIM, K, STEPS, LR = 64, 5, 4, 25, 1e-2


def main() -> None:
    repo = Path(sys.argv[1])
    spec = importlib.util.spec_from_file_location("famo_reference", repo / "famo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "mtlkit" not in sys.modules
    g = torch.Generator().manual_seed(0)
    X = torch.randn(N, DIM, generator=g, dtype=torch.float64)
    Y = torch.randn(N, K, generator=g, dtype=torch.float64) * torch.tensor([0.1, 1.0, 3.0, 10.0], dtype=torch.float64)
    model = torch.nn.Linear(DIM, K).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(K, DIM, generator=g, dtype=torch.float64) * 0.3)
        model.bias.zero_()
    initial = {"weight": model.weight.tolist(), "bias": model.bias.tolist()}
    famo = module.FAMO(n_tasks=K, device="cpu")
    famo.w = torch.zeros(K, dtype=torch.float64, requires_grad=True)  # float64 throughout (same defaults)
    famo.w_opt = torch.optim.Adam([famo.w], lr=0.025, weight_decay=0.01)
    famo.min_losses = torch.zeros(K, dtype=torch.float64)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    steps = []
    for _ in range(STEPS):
        losses = (Y - model(X)).pow(2).mean(0)
        leaf = losses.detach().requires_grad_(True)
        weights = torch.autograd.grad(famo.get_weighted_loss(leaf), leaf)[0]
        opt.zero_grad()
        famo.backward(losses)
        opt.step()
        with torch.no_grad():
            new_losses = (Y - model(X)).pow(2).mean(0)
        famo.update(new_losses)
        steps.append({"losses": losses.tolist(), "weights": weights.tolist(), "logits": famo.w.tolist(),
                      "weight": model.weight.tolist(), "bias": model.bias.tolist()})
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    json.dump({"source": "https://github.com/Cranial-XIX/FAMO famo.py", "commit": commit.strip(),
               "torch": torch.__version__, "X": X.tolist(), "Y": Y.tolist(), "initial": initial, "lr": LR,
               "steps": steps}, sys.stdout)


if __name__ == "__main__":
    main()
