"""mtlkit's methods against torchjd's on the same Jacobians: per-call time, speed-up, time over the lower bound.

For K ∈ {5, 20} tasks and P ∈ {1e5, 1e6} parameters (float32 Jacobians with correlated rows that change from
call to call), every row of :data:`ROWS` is timed in the same process, interleaved round by round with the lower
bound of any Gramian method (forming ``G = J Jᵀ`` plus one ``Jᵀw``) and with torchjd's aggregator when torchjd
is importable (``pip install "torchjd[full]==0.18"``, the repository's ``bench`` extra; otherwise it prints
"torchjd not installed" and times mtlkit alone). Columns:

- ``ms``: median time of ``method(J)``; ``× LB``: median over rounds of its time / the lower bound's (same
  round); ``tjd ms``: torchjd's median; ``speed-up``: median over rounds of torchjd's time / mtlkit's;
- ``diff f32``: ``max|u − u_torchjd| / max|u_torchjd|`` on the first Jacobian; ``diff f64``: the same against
  torchjd applied to that Jacobian in float64 (the exact answer for the same input: float32 arithmetic
  separates both libraries from it); randomised methods: n/a.

Adding a method: append a :class:`Row` (mtlkit name, its options, and a factory building torchjd's equivalent
from ``torchjd.aggregation`` and K, or None when torchjd has none).

    PYTHONPATH=. python benchmarks/methods_vs_torchjd.py [--threads 1] [--repeats N] [--only upgrad,mgda]
        [--clock wall|cpu] [--no-checks]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from _timing import correlated_jacobians, interleaved_times
from torch import Tensor

import mtlkit


@dataclass(frozen=True)
class Row:
    """One method: mtlkit's registered name and options, torchjd's factory ``(torchjd.aggregation, K) → agg``."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    torchjd: Callable[[Any, int], Callable[[Tensor], Tensor]] | None = None
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name


ROWS: list[Row] = [
    Row("mean", {}, lambda tjd, K: tjd.Mean()),
    Row("upgrad", {}, lambda tjd, K: tjd.UPGrad()),
    Row("dualproj", {}, lambda tjd, K: tjd.DualProj()),
    Row("mgda", {}, lambda tjd, K: tjd.MGDA()),
    Row("krum", {"n_byzantine": 1, "n_selected": 2}, lambda tjd, K: tjd.Krum(n_byzantine=1, n_selected=2)),
    Row("trimmed_mean", {"trim_number": 1}, lambda tjd, K: tjd.TrimmedMean(trim_number=1)),
    Row("random", {"seed": 0}, lambda tjd, K: tjd.Random()),
    Row("graddrop", {"seed": 0}, lambda tjd, K: tjd.GradDrop()),
    Row("config", {}, lambda tjd, K: tjd.ConFIG()),
    Row("pcd", {}, lambda tjd, K: tjd.PCD()),
    # the CAGrad family (docs/mtlkit/methods-cagrad-family.md); stateful rows keep their state across rounds
    Row("cagrad", {}, lambda tjd, K: tjd.CAGrad(c=0.5)),
    Row("gradvac", {"seed": 0}, lambda tjd, K: tjd.GradVac()),
    Row("fairgrad", {}, lambda tjd, K: tjd.FairGrad(alpha=1.0)),
    Row("excess_mtl", {}, lambda tjd, K: tjd.ExcessMTL()),
    Row("modo", {}, lambda tjd, K: tjd.GramianWeightedAggregator(tjd.MoDoWeighting())),
    Row("sdmgrad", {}, lambda tjd, K: tjd.GramianWeightedAggregator(tjd.SDMGradWeighting())),
    Row("cr_mogm", {}, lambda tjd, K: tjd.GramianWeightedAggregator(tjd.CRMOGMWeighting(tjd.MGDAWeighting()))),
    Row("imtl", {}, lambda tjd, K: tjd.IMTLG()),
]

SIZES = (100_000, 1_000_000)
TASKS = (5, 20)


def jacobians(K: int, P: int, count: int, seed: int = 0) -> list[Tensor]:
    """``count`` float32 (K, P) Jacobians: norms 0.5…3, pairwise correlations ≈ 0.2, tasks 0 and 1 conflicting
    (≈ −0.3), perturbed per Jacobian."""
    R = torch.full((K, K), 0.2, dtype=torch.float64)
    R[0, 1] = R[1, 0] = -0.3
    R.fill_diagonal_(1.0)
    return correlated_jacobians(R, torch.linspace(0.5, 3.0, K, dtype=torch.float64), P, count, seed)


def lower_bound(J: Tensor) -> Tensor:
    """What every Gramian method must do: form G (then the K×K cast to float64) and one ``Jᵀw``."""
    (J @ J.T).double()
    return torch.ones(J.shape[0], dtype=J.dtype) @ J


def rel_diff(u: Tensor, ref: Tensor) -> float:
    return float((u.double() - ref.double()).abs().max() / ref.double().abs().max())


def load_torchjd() -> Any:
    try:
        from torchjd import aggregation
    except ImportError:
        return None
    return aggregation


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads value (default 1)")
    parser.add_argument("--repeats", type=int, default=0, help="timed rounds per (K, P) (default: by P)")
    parser.add_argument("--only", default="", help="comma-separated mtlkit names (default: every row)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time (default) or this process's CPU time (steadier on a loaded machine)")
    parser.add_argument("--no-checks", action="store_true",
                        help="mtlkit.set_input_checks(False): no finiteness check (torchjd makes none)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.no_checks:
        mtlkit.set_input_checks(False)
    warnings.filterwarnings("ignore", message=".*not DPP")
    rows = [r for r in ROWS if not args.only or r.name in args.only.split(",")]
    tjd = load_torchjd()
    import importlib.metadata as md

    version = md.version("torchjd") if tjd is not None else None
    print(f"torch {torch.__version__}, threads = {torch.get_num_threads()}, float32 J, {args.clock} clock, mtlkit "
          f"input checks {'off' if args.no_checks else 'on'}; torchjd: {version or 'torchjd not installed'}")
    print("(× LB and speed-up are medians over rounds of paired ratios; the lower bound forms G = JJᵀ and one Jᵀw)")
    print(f"\n{'K':>3} {'P':>7} {'method':<14} {'ms':>9} {'× LB':>6} {'tjd ms':>9} {'speed-up':>9} "
          f"{'diff f32':>9} {'diff f64':>9}")
    results: dict[tuple[int, int, str], dict[str, float]] = {}
    for K in TASKS:
        for P in SIZES:
            Js = jacobians(K, P, 4, seed=K * 7 + P)
            repeats = args.repeats or (41 if P <= 100_000 else 21)
            ours = {r.title: mtlkit.get_aggregator(r.name, **r.options) for r in rows}
            theirs = {}
            if tjd is not None:
                theirs = {f"tjd {r.title}": r.torchjd(tjd, K) for r in rows if r.torchjd is not None}
            timed = interleaved_times({"(LB)": lower_bound, **ours, **theirs}, Js, repeats, clock)
            lb = timed["(LB)"]
            print(f"{K:>3} {P:>7.0e} {'(LB)':<14} {1e3 * statistics.median(lb):>9.2f} {1.0:>6.2f}")
            for r in rows:
                mine = timed[r.title]
                row = {"ms": 1e3 * statistics.median(mine), "lb": statistics.median(t / b for t, b in zip(mine, lb))}
                line = f"{K:>3} {P:>7.0e} {r.title:<14} {row['ms']:>9.2f} {row['lb']:>6.2f}"
                key = f"tjd {r.title}"
                if key in timed:
                    ref = timed[key]
                    row["tjd_ms"] = 1e3 * statistics.median(ref)
                    row["speedup"] = statistics.median(a / b for a, b in zip(ref, mine))
                    diff = diff64 = "n/a"
                    if not mtlkit.get_aggregator(r.name, **r.options).properties.randomised:
                        u = mtlkit.get_aggregator(r.name, **r.options)(Js[0])
                        row["diff"] = rel_diff(u, r.torchjd(tjd, K)(Js[0]))
                        row["diff64"] = rel_diff(u, r.torchjd(tjd, K)(Js[0].double()))
                        diff, diff64 = f"{row['diff']:.1e}", f"{row['diff64']:.1e}"
                    line += f" {row['tjd_ms']:>9.2f} {row['speedup']:>8.2f}× {diff:>9} {diff64:>9}"
                results[K, P, r.title] = row
                print(line)
            del Js

    print("\ntargets")
    for r in rows:
        gramian_based = mtlkit.get_aggregator(r.name, **r.options).properties.gramian_based
        for K in TASKS:
            for P in SIZES:
                res = results[K, P, r.title]
                if "speedup" in res:
                    ok = res["speedup"] >= 1.0
                    print(f"  [{'PASS' if ok else 'FAIL'}] {r.title} K={K} P={P:.0e}: ≥ 1.0× torchjd "
                          f"({res['speedup']:.2f}×)")
                if gramian_based and P == 1_000_000:
                    ok = res["lb"] <= 1.2
                    print(f"  [{'PASS' if ok else 'FAIL'}] {r.title} K={K} P=1e6: ≤ 1.2× LB ({res['lb']:.2f}×)")


if __name__ == "__main__":
    main()
