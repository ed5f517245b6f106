"""mtlkit backends vs one plain backward, on a ~1.5M-parameter MLP with 5 losses.

Prints each backend's time as a ratio to a plain ``sum(losses).backward()`` measured in the same run.
Target: the representation backend ≤ 1.25× the plain backward.

    python benchmarks/backends.py [--aggregator nash] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved_medians, print_ratios

import mtlkit

K, BATCH, WIDTH, DEPTH = 5, 256, 512, 6


def build() -> tuple[nn.Module, nn.ModuleList, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Linear(64, WIDTH), nn.GELU()]
    for _ in range(DEPTH - 1):
        layers += [nn.Linear(WIDTH, WIDTH), nn.GELU()]
    trunk = nn.Sequential(*layers)
    heads = nn.ModuleList([nn.Linear(WIDTH, 8) for _ in range(K)])
    return trunk, heads, torch.randn(BATCH, 64), torch.randn(K, BATCH, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--aggregator", default="nash")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    trunk, heads, x, y = build()
    n_params = sum(p.numel() for p in trunk.parameters()) + sum(p.numel() for p in heads.parameters())
    agg = mtlkit.get_aggregator(args.aggregator)

    def losses() -> tuple[torch.Tensor, list[torch.Tensor]]:
        z = trunk(x)
        return z, [nn.functional.mse_loss(h(z), y[i]) for i, h in enumerate(heads)]

    def plain() -> None:
        _, ls = losses()
        sum(ls).backward()

    def with_backend(backend: str):
        def run() -> None:
            z, ls = losses()
            mtlkit.backward(ls, trunk, agg, backend=backend, representation=z, task_params=heads)
        return run

    fns = {"plain sum(losses).backward": plain}
    fns.update({f"mtlkit {b}": with_backend(b) for b in ("representation", "gramian", "jacobian")})
    med = interleaved_medians(fns, args.repeats)
    print(f"MLP with {n_params / 1e6:.2f}M parameters, K={K}, batch {BATCH}, aggregator {args.aggregator}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats} interleaved rounds")
    print_ratios(med, "plain sum(losses).backward", "step (forward + backward)")


if __name__ == "__main__":
    main()
