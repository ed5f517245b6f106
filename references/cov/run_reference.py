"""Reference outputs of the authors' CoV-Weighting (Groenendijk et al., WACV 2021; ``CoVWeightingLoss`` in
``losses/covweighting_loss.py`` of github.com/rickgroen/cov-weighting) for mtlkit's test.

Run with the authors' repository checked out (this script imports its files; nothing of it is copied here) in an
environment with torch and without mtlkit::

    git clone https://github.com/rickgroen/cov-weighting /tmp/cov-weighting
    python -I references/cov/run_reference.py /tmp/cov-weighting > references/cov/reference.json

``losses`` is entered in ``sys.modules`` as a bare package and ``config`` as a module holding ``NUM_LOSSES`` (the
number of losses, 32 in the authors' depth-estimation setting, K here); ``covweighting_loss`` is imported from the
file unchanged. Its ``forward(pred, target)`` weighs the K losses that ``BaseLoss.forward`` computes from the
images; here ``BaseLoss.forward`` returns the chosen losses instead. Per step: the weights (``alphas``), for the
full running mean (``mean_sort='full'``, the default) and the decaying one (``mean_sort='decay'``, 0.9).
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import torch

K, STEPS = 4, 15


def main() -> None:
    repo = Path(sys.argv[1])
    assert "mtlkit" not in sys.modules
    config = types.ModuleType("config")
    config.NUM_LOSSES = K
    sys.modules["config"] = config
    pkg = types.ModuleType("losses")
    pkg.__path__ = [str(repo / "losses")]
    sys.modules["losses"] = pkg
    module = importlib.import_module("losses.covweighting_loss")
    module.BaseLoss.forward = lambda self, pred, target: pred  # the chosen losses instead of the image losses
    g = torch.Generator().manual_seed(6)
    decay = torch.linspace(1.0, 0.2, STEPS, dtype=torch.float64)[:, None]
    losses = (torch.rand(STEPS, K, generator=g, dtype=torch.float64) * 0.6 + 0.7) * decay
    losses = losses * torch.tensor([1.0, 0.1, 3.0, 0.5], dtype=torch.float64)
    runs = {}
    for mean_sort, param in (("full", 1.0), ("decay", 0.9)):
        args = argparse.Namespace(device="cpu", mean_sort=mean_sort, mean_decay_param=param)
        method = module.CoVWeightingLoss(args)
        method.train = True
        weights = []
        for L in losses:
            method.forward(list(L.float()), None)
            weights.append(method.alphas.double().tolist())
        runs[mean_sort] = weights
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    json.dump({"source": "https://github.com/rickgroen/cov-weighting losses/covweighting_loss.py CoVWeightingLoss",
               "commit": commit.strip(), "torch": torch.__version__, "decay": 0.9, "losses": losses.tolist(),
               "runs": runs}, sys.stdout)


if __name__ == "__main__":
    main()
