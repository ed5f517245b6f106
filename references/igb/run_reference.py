"""Reference outputs of the authors' IGBv1 (Dai, Fei and Lu, UAI 2023; ``ImprovableGapBalancing_v1`` in
``methods/loss_weight_methods.py`` of github.com/YanqiDai/IGB4MTL) for mtlkit's test.

Run with the authors' repository checked out (this script imports its files; nothing of it is copied here) in an
environment with torch, numpy and scipy and without mtlkit::

    git clone https://github.com/YanqiDai/IGB4MTL /tmp/IGB4MTL
    python -I references/igb/run_reference.py /tmp/IGB4MTL > references/igb/reference.json

``methods`` is entered in ``sys.modules`` as a bare package (its ``__init__`` imports every method) with a stub
``cvxpy`` (imported by ``weight_method.py`` for other methods, unused by IGB); ``loss_weight_methods`` is imported
from the file unchanged. The run follows the authors' trainers: ``EPOCHS`` epochs of ``BATCHES`` steps, the
weighted loss from ``get_weighted_loss``, and at the end of epoch ``base_epoch`` (1, their default) ``base_losses``
set to that epoch's mean losses. Per step: the gradient of the weighted loss w.r.t. the losses (the loss weights).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import torch

K, BATCHES, EPOCHS, BASE_EPOCH = 4, 3, 5, 1


def main() -> None:
    repo = Path(sys.argv[1])
    assert "mtlkit" not in sys.modules
    sys.modules["cvxpy"] = types.ModuleType("cvxpy")
    pkg = types.ModuleType("methods")
    pkg.__path__ = [str(repo / "methods")]
    sys.modules["methods"] = pkg
    module = importlib.import_module("methods.loss_weight_methods")
    g = torch.Generator().manual_seed(4)
    decay = torch.linspace(1.0, 0.3, EPOCHS * BATCHES, dtype=torch.float64)[:, None]
    losses = (torch.rand(EPOCHS * BATCHES, K, generator=g, dtype=torch.float64) * 0.5 + 0.5) * decay
    losses = losses * torch.tensor([2.0, 0.2, 1.0, 5.0], dtype=torch.float64)
    method = module.ImprovableGapBalancing_v1(n_tasks=K, device=torch.device("cpu"))
    method.weights = method.weights.double()
    weights = []
    for epoch in range(EPOCHS):
        mean = torch.zeros(K, dtype=torch.float64)
        for b in range(BATCHES):
            leaf = losses[epoch * BATCHES + b].clone().requires_grad_(True)
            loss, _ = method.get_weighted_loss(leaf)
            weights.append(torch.autograd.grad(loss, leaf)[0].tolist())
            mean += leaf.detach() / BATCHES
        if epoch == BASE_EPOCH:
            method.base_losses = mean
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    json.dump({"source": "https://github.com/YanqiDai/IGB4MTL methods/loss_weight_methods.py ImprovableGapBalancing_v1",
               "commit": commit.strip(), "torch": torch.__version__, "batches_per_epoch": BATCHES,
               "base_epoch": BASE_EPOCH, "losses": losses.tolist(), "weights": weights}, sys.stdout)


if __name__ == "__main__":
    main()
