"""Timings of the built-in Nash-MTL, Aligned-MTL and PCGrad aggregators.

1. Nash-MTL's weight solve from a K×K Gramian: cold start (``reset()`` before each call) and warm start (a
   slowly drifting sequence of Gramians, as in training), K = 5 and 16.
2. The full ``agg(J)`` for a (K, P) float32 Jacobian against the lower bound of any Gramian method, ``G = J Jᵀ``
   plus ``w @ J``, measured in the same process.

Run: ``.venv/bin/python benchmarks/bench_builtin_aggregators.py [--quick] [--threads N]``. Every call is timed
on its own; the median and the 10th percentile are printed (robust to other processes on a busy machine).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch

from mtlkit import AlignedMTL, NashMTL, PCGrad, gramian


def per_call(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """(median, 10th percentile) seconds of single calls: on a busy machine most short calls still run
    uninterrupted, so these stay close to the idle-machine time while means do not."""
    times = np.empty(calls)
    for k in range(calls):
        t0 = time.perf_counter()
        fn()
        times[k] = time.perf_counter() - t0
    return float(np.median(times)), float(np.percentile(times, 10))


def drifting_gramians(K: int, steps: int, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    J = torch.randn(K, 2000, generator=gen, dtype=torch.float64)
    J = J + 0.5 * torch.randn(2000, generator=gen, dtype=torch.float64)
    out = []
    for _ in range(steps):
        J = J + 0.02 * torch.randn(J.shape, generator=gen, dtype=torch.float64)
        out.append(gramian(J))
    return out


def bench_nash_solve(K: int, number: int) -> None:
    Gs = drifting_gramians(K, 256)
    nash = NashMTL()
    G0 = Gs[0]

    def cold() -> None:
        nash.reset()
        nash.weights(G0)

    med_c, p10_c = per_call(cold, number)
    cold()
    it_cold = nash.diagnostics["iterations"]
    nash.reset()
    i = [0]
    iters: list[int] = []

    def warm() -> None:
        i[0] = (i[0] + 1) % len(Gs)
        nash.weights(Gs[i[0]])

    for _ in range(len(Gs)):
        warm()
        iters.append(nash.diagnostics["iterations"])
    med_w, p10_w = per_call(warm, number)
    print(f"nash solve K={K:2d}: cold median {med_c * 1e6:6.1f} us (p10 {p10_c * 1e6:6.1f}, {it_cold} iterations); "
          f"warm median {med_w * 1e6:6.1f} us (p10 {p10_w * 1e6:6.1f}, mean {np.mean(iters[1:]):.1f} iterations)")


def bench_full(P: int, K: int, number: int) -> None:
    gen = torch.Generator().manual_seed(1)
    J = torch.randn(K, P, generator=gen) + 0.3 * torch.randn(P, generator=gen)
    w = torch.ones(K)

    def lower_bound() -> None:
        (J @ J.T).double()
        w @ J

    med, p10 = per_call(lower_bound, number)
    print(f"P={P:.0e} K={K}: lower bound (J Jᵀ + wᵀJ) median {med * 1e3:7.3f} ms (p10 {p10 * 1e3:7.3f})")
    for agg in (NashMTL(), AlignedMTL(), PCGrad(seed=0)):
        agg(J)
        med_a, p10_a = per_call(lambda agg=agg: agg(J), number)
        print(f"P={P:.0e} K={K}: {agg.name:8s} median {med_a * 1e3:7.3f} ms (p10 {p10_a * 1e3:7.3f}), "
              f"median {(med_a - med) * 1e3:+.3f} ms vs the bound")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_small, n_big = (500, 10) if args.quick else (5000, 60)
    print(f"torch {torch.__version__}, numpy {np.__version__}, threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    M = np.eye(5) + 0.1
    r = np.ones(5)
    med, p10 = per_call(lambda: np.linalg.solve(M, r), n_small)
    print(f"calibration: np.linalg.solve 5x5 median {med * 1e6:.2f} us (p10 {p10 * 1e6:.2f})")
    for K in (5, 16):
        bench_nash_solve(K, n_small)
    for P in (100_000, 1_000_000):
        bench_full(P, 5, n_big if P == 100_000 else max(5, n_big // 3))


if __name__ == "__main__":
    main()
