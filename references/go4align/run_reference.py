"""Reference outputs of the authors' GO4Align (Shen et al., NeurIPS 2024; ``GO4ALIGN`` in ``methods/cluster_methods.py``
of github.com/autumn9999/GO4Align) for mtlkit's test.

Run with the authors' repository checked out (this script imports its files; nothing of it is copied here) in an
environment with torch, numpy, scipy and ``kmeans-pytorch==0.3`` and without mtlkit::

    git clone https://github.com/autumn9999/GO4Align /tmp/GO4Align
    pip install --no-deps kmeans-pytorch==0.3 tqdm scipy
    python -I references/go4align/run_reference.py /tmp/GO4Align > references/go4align/reference.json

``methods`` is entered in ``sys.modules`` as a bare package with stub ``cvxpy`` and ``sklearn.cluster`` modules
(imported by ``cluster_methods.py`` for the other grouping methods, unused by ``GO4ALIGN``). ``GO4ALIGN`` calls
``kmeans`` for two groups or more, whose import the authors' file leaves commented out (``from kmeans_pytorch import
kmeans # training on gpus``); this script provides that function to the module. ``kmeans_pytorch`` starts from random
centres (``np.random``, seeded here). Per step: the gradient of the weighted loss w.r.t. the losses (the loss weights)
and the weights ``get_weighted_loss`` reports, for one, two and three groups.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import torch

K, STEPS = 6, 12


def _module(repo: Path) -> types.ModuleType:
    sys.modules["cvxpy"] = types.ModuleType("cvxpy")
    cluster = types.ModuleType("sklearn.cluster")
    cluster.KMeans = cluster.SpectralClustering = None
    sys.modules["sklearn"] = types.ModuleType("sklearn")
    sys.modules["sklearn.cluster"] = cluster
    pkg = types.ModuleType("methods")
    pkg.__path__ = [str(repo / "methods")]
    sys.modules["methods"] = pkg
    module = importlib.import_module("methods.cluster_methods")
    from kmeans_pytorch import kmeans

    module.kmeans = kmeans  # the authors' (commented-out) import
    return module


def main() -> None:
    repo = Path(sys.argv[1])
    assert "mtlkit" not in sys.modules
    module = _module(repo)
    g = torch.Generator().manual_seed(5)
    scales = torch.tensor([0.05, 0.1, 1.0, 1.2, 4.0, 10.0], dtype=torch.float64)
    losses = (torch.rand(STEPS, K, generator=g, dtype=torch.float64) * 0.4 + 0.8) * scales
    runs = {}
    for groups in (1, 2, 3):
        np.random.seed(0)
        method = module.GO4ALIGN(n_tasks=K, device=torch.device("cpu"), num_groups=groups, robust_step_size=1e-4)
        steps = []
        for L in losses:
            leaf = L.clone().requires_grad_(True)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                loss, extra = method.get_weighted_loss(leaf)
            steps.append({"weights": torch.autograd.grad(loss, leaf)[0].tolist(),
                          "reported": extra["weights"].double().tolist()})
        runs[str(groups)] = steps
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    source = "https://github.com/autumn9999/GO4Align methods/cluster_methods.py GO4ALIGN with kmeans_pytorch"
    json.dump({"source": source, "commit": commit.strip(), "torch": torch.__version__, "step_size": 1e-4,
               "losses": losses.tolist(), "runs": runs}, sys.stdout)


if __name__ == "__main__":
    main()
