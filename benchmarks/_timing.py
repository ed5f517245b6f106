"""Shared helpers for the benchmark scripts: interleaved rounds (median per variant), and the correlated task
Jacobians the aggregator benchmarks time."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int = 20, warmup: int = 3) -> dict[str, float]:
    """Median wall time (seconds) of each function over ``repeats`` rounds that call every function in turn, after
    ``warmup`` untimed rounds: drift in the machine's state (load, clocks) hits every variant alike. Each function
    runs twice in a row and the second call is timed, so none pays for memory its predecessor freed."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            fn()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def print_ratios(medians: dict[str, float], baseline: str, header: str) -> None:
    """One row per variant: milliseconds and the ratio to ``baseline`` (a key of ``medians``)."""
    base = medians[baseline]
    print(f"{header:<28}{'ms':>10}{'ratio':>9}")
    for name, t in medians.items():
        print(f"{name:<28}{t * 1e3:>10.2f}{t / base:>9.2f}")


def interleaved_times(fns: dict[str, Callable[[Tensor], object]], inputs: Sequence[Tensor], repeats: int,
                      clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Times (s, by ``clock``) per round of each function, all called in turn on the same input each round (cycling
    through ``inputs``), after one warm-up pass over the inputs. Each function runs twice in a row and the second
    call is timed, so that every timed call finds its input equally warm in the caches."""
    for x in inputs:
        for fn in fns.values():
            fn(x)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(repeats):
        x = inputs[i % len(inputs)]
        for name, fn in fns.items():
            fn(x)
            t0 = clock()
            fn(x)
            times[name].append(clock() - t0)
    return times


def correlated_jacobians(R: Tensor, scales: Tensor, P: int, count: int, seed: int = 0) -> list[Tensor]:
    """``count`` float32 (K, P) Jacobians whose rows have norms ≈ ``scales`` and correlations ≈ ``R`` (K×K), the
    off-diagonal correlations perturbed per Jacobian."""
    K = R.shape[0]
    gen = torch.Generator().manual_seed(seed)
    Z = torch.randn(K, P, generator=gen, dtype=torch.float32) / P**0.5
    out = []
    for _ in range(count):
        noise = 0.05 * torch.randn(K, K, generator=gen, dtype=torch.float64)
        Rt = R + 0.5 * (noise + noise.T) * (1 - torch.eye(K, dtype=torch.float64))
        A = scales[:, None] * torch.linalg.cholesky(Rt)
        out.append((A.float() @ Z).contiguous())
    return out
