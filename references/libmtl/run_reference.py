"""Reference outputs of LibMTL 1.1.5's DWA and UW weightings for mtlkit's tests.

Run in an environment with torch, numpy and LibMTL (``pip install --no-deps LibMTL==1.1.5``) and without
mtlkit::

    python -I references/libmtl/run_reference.py > references/libmtl/reference.json

``LibMTL/__init__.py`` imports its model zoo, which needs an old torchvision; the weighting modules do not, so
the packages ``LibMTL`` and ``LibMTL.weighting`` are entered in ``sys.modules`` as bare packages (their
``__init__`` not run) and ``LibMTL.weighting.DWA`` / ``UW`` / ``abstract_weighting`` are imported from the
installed files unchanged. The attributes LibMTL's trainer sets (``task_num``, ``device``, ``epoch``,
``train_loss_buffer``) are set the way its trainer does.

- DWA: 5 epochs × 3 batches of losses; the trainer's buffer holds each epoch's mean batch loss; the weights
  returned by ``backward`` per batch.
- UW: 12 steps of plain SGD (lr 0.1) on ``loss_scale`` alone from the same losses; per step the weights
  returned and ``loss_scale`` after the step.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
import types

import numpy as np
import torch

K, EPOCHS, BATCHES = 3, 5, 3


def _libmtl() -> tuple[type, type]:
    spec = importlib.util.find_spec("LibMTL")
    root = spec.submodule_search_locations[0]
    for name, path in (("LibMTL", root), ("LibMTL.weighting", f"{root}/weighting")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [path]
        sys.modules[name] = pkg
    from LibMTL.weighting.DWA import DWA
    from LibMTL.weighting.UW import UW

    return DWA, UW


def main() -> None:
    DWA, UW = _libmtl()
    assert "mtlkit" not in sys.modules
    g = torch.Generator().manual_seed(0)
    losses = torch.rand(EPOCHS, BATCHES, K, generator=g, dtype=torch.float64) * torch.linspace(
        2.0, 0.5, EPOCHS, dtype=torch.float64)[:, None, None] + 0.1

    dwa = DWA()
    dwa.task_num, dwa.device = K, torch.device("cpu")
    dwa.train_loss_buffer = np.zeros([K, EPOCHS])
    dwa_weights = []
    for epoch in range(EPOCHS):
        dwa.epoch = epoch
        for batch in range(BATCHES):
            L = losses[epoch, batch].clone().requires_grad_(True)
            dwa_weights.append(dwa.backward(L, T=2.0).tolist())
        dwa.train_loss_buffer[:, epoch] = losses[epoch].mean(0).numpy()

    uw = UW()
    uw.task_num, uw.device = K, torch.device("cpu")
    uw.init_param()
    uw_steps = []
    for L in losses.reshape(-1, K)[:12]:
        uw.loss_scale.grad = None
        w = uw.backward(L.float().clone().requires_grad_(True))
        with torch.no_grad():
            uw.loss_scale -= 0.1 * uw.loss_scale.grad
        uw_steps.append({"weights": w.tolist(), "loss_scale": uw.loss_scale.tolist()})

    json.dump({"source": "LibMTL " + importlib.metadata.version("LibMTL"), "torch": torch.__version__,
               "losses": losses.tolist(), "T": 2.0, "batches_per_epoch": BATCHES, "dwa_weights": dwa_weights,
               "uw_lr": 0.1, "uw_steps": uw_steps}, sys.stdout)


if __name__ == "__main__":
    main()
