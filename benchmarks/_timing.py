"""Shared timing helper for the benchmark scripts: interleaved rounds, median per variant."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


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
