"""``mtlkit.backward`` with constant weights (``linear``): ONE backward of Σ w_i L_i (``backend="auto"``) against the
K per-task gradients it computed before (``backend="jacobian"``, still what an explicit backend gives), in the
same process, interleaved rounds (median):

1. a small MLP (trunk 64→256→256→128, five linear heads, batch 256), K = 5, EDGE's weights and 1.0 for the fifth;
2. the GCDance ``small`` preset denoiser (music 705-D, text 384-D, a text-classifier head) at batch ``--batch``: the
   whole training step (forward, the five losses S, J, V, F, C, backward, clip, AdamW), the way ``dancegen train
   --aggregator linear`` takes it.

Each row prints milliseconds and the ratio to the K-gradient path; the ``.grad`` of both paths is checked equal (to
float32 rounding) first.

    python benchmarks/one_backward.py [--batch 2] [--repeats 5] [--threads N] [--skip-dancegen]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import mtlkit

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved_medians, print_ratios

EDGE = [0.636, 2.964, 0.646, 10.942, 1.0]


def mlp_bench(repeats: int) -> None:
    torch.manual_seed(0)
    trunk = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 256), nn.GELU(), nn.Linear(256, 128))
    heads = nn.ModuleList(nn.Linear(128, 8) for _ in range(5))
    params = [*trunk.parameters(), *heads.parameters()]
    x, y = torch.randn(256, 64), torch.randn(256, 5, 8)
    agg = mtlkit.get_aggregator("linear", weights=EDGE)

    def backward(backend: str) -> None:
        z = trunk(x)
        losses = [(h(z) - y[:, i]).pow(2).mean() for i, h in enumerate(heads)]
        mtlkit.backward(losses, trunk, agg, backend=backend, task_params=heads)

    check(backward, params)
    med = interleaved_medians({name: cleared(backward, backend, params) for name, backend in VARIANTS.items()},
                              repeats=max(repeats, 20))
    print_ratios(med, BASELINE, "MLP, K=5")


VARIANTS = {"K gradients (jacobian)": "jacobian", "one backward (auto)": "auto"}
BASELINE = "K gradients (jacobian)"


def cleared(fn: Callable[[str], None], backend: str, params: list[torch.Tensor]) -> Callable[[], None]:
    def run() -> None:
        fn(backend)
        for p in params:
            p.grad = None
    return run


def check(fn: Callable[[str], None], params: list[torch.Tensor]) -> None:
    """Both paths give the same .grad (to float32 rounding) on the same inputs."""
    got = []
    for backend in VARIANTS.values():
        fn(backend)
        got.append(torch.cat([p.grad.reshape(-1) for p in params if p.grad is not None]))
        for p in params:
            p.grad = None
    diff = float((got[0] - got[1]).norm() / got[0].norm())
    print(f"  .grad relative difference, one backward vs K gradients: {diff:.2e}")
    assert diff < 1e-5, diff


def dancegen_bench(batch: int, repeats: int) -> None:
    from train_step import Setup

    s = Setup("small", batch, n_batches=1)  # one fixed batch, dropout 0: both paths see the same inputs
    agg = mtlkit.get_aggregator("linear", weights=EDGE)

    def step(backend: str) -> None:  # the training step without the optimiser (both paths time the same model)
        losses, _, _ = s.forward()
        mtlkit.backward(losses, s.params, agg, backend=backend)
        torch.nn.utils.clip_grad_norm_(s.params, 1.0)

    check(step, s.params)
    n = sum(p.numel() for p in s.model.parameters())
    med = interleaved_medians({name: cleared(step, backend, s.params) for name, backend in VARIANTS.items()},
                              repeats=repeats, warmup=1)
    print_ratios(med, BASELINE, f"dancegen small ({n / 1e6:.1f}M), B={batch}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-dancegen", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    mlp_bench(args.repeats)
    if not args.skip_dancegen:
        dancegen_bench(args.batch, args.repeats)


if __name__ == "__main__":
    main()
