"""Loss-based methods vs one plain backward, on the ~1.5M-parameter MLP of ``backends.py`` with 5 losses.

A loss-based method (DWA, uncertainty weighting) runs ONE backward of ``Σ w_i L_i``; the ratio to a plain
``sum(losses).backward()`` measured in the same run is the target (≤ 1.1×). For comparison, the same fixed
weights through per-task gradients (``linear`` on the jacobian backend: what a loss weighting cost before it
had its own path).

    python benchmarks/loss_weighting.py [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved_medians, print_ratios
from backends import K, build

import mtlkit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    trunk, heads, x, y = build()
    methods = {"dwa": mtlkit.DWA(), "uw": mtlkit.UncertaintyWeighting(num_tasks=K), "linear": mtlkit.Linear()}

    def losses() -> list[torch.Tensor]:
        z = trunk(x)
        return [nn.functional.mse_loss(h(z), y[i]) for i, h in enumerate(heads)]

    def plain() -> None:
        sum(losses()).backward()

    def with_method(name: str, backend: str = "auto"):
        def run() -> None:
            mtlkit.backward(losses(), trunk, methods[name], backend=backend, task_params=heads)
        return run

    fns = {"plain sum(losses).backward": plain, "mtlkit dwa": with_method("dwa"), "mtlkit uw": with_method("uw"),
           "linear via per-task grads": with_method("linear", "jacobian")}
    med = interleaved_medians(fns, args.repeats)
    n_params = sum(p.numel() for p in [*trunk.parameters(), *heads.parameters()])
    print(f"MLP with {n_params / 1e6:.2f}M parameters, K={K}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats} interleaved rounds (target: loss-based ≤ 1.1×)")
    print_ratios(med, "plain sum(losses).backward", "step (forward + backward)")


if __name__ == "__main__":
    main()
