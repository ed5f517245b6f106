"""Aggregator benchmark: every registered aggregator against the lower bound, and against torchjd when installed.

K = 5 tasks, P ∈ {1e5, 1e6, 1e7} parameters, float32 Jacobians. For each P it times, in the same run, the lower
bound of any Gramian method (forming ``G = J Jᵀ`` plus one ``Jᵀw``) and each aggregator's ``agg(J)`` (median over
repeats, after a warm-up pass), and prints the ratio to the lower bound. The weight solve alone
(``agg.weights(G)``) is timed on the K×K Gramians. With ``torchjd`` importable (``pip install "torchjd[full]"``,
the ``bench`` extra) it also times torchjd's NashMTL / AlignedMTL / PCGrad / IMTLG and prints the speed-up and
the max relative difference of the outputs (``max|u − u_torchjd| / max|u_torchjd|``; nash with torchjd's
max_norm = 1.0, aligned with reduction="mean").

The Jacobians have correlated rows (task correlations ≈ R below, norms 0.5…3) and change from call to call,
so stateful methods cannot coast on a warm start; only tasks 0 and 1 conflict, which makes PCGrad's result
independent of the random visiting order and hence comparable across libraries.

    python benchmarks/aggregators.py [--skip-1e7] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from collections.abc import Callable, Sequence

import torch
from _timing import correlated_jacobians, interleaved_times
from torch import Tensor

import mtlkit

K = 5
SCALES = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.5], dtype=torch.float64)
R = torch.tensor(
    [
        [1.0, -0.3, 0.2, 0.2, 0.2],
        [-0.3, 1.0, 0.2, 0.2, 0.2],
        [0.2, 0.2, 1.0, 0.3, 0.3],
        [0.2, 0.2, 0.3, 1.0, 0.3],
        [0.2, 0.2, 0.3, 0.3, 1.0],
    ],
    dtype=torch.float64,
)
OPTIONS = {"nash": {"max_norm": 1.0}, "aligned": {"reduction": "mean"}, "pcgrad": {"seed": 0}}


def jacobians(P: int, count: int, seed: int = 0) -> list[Tensor]:
    """``count`` float32 (K, P) Jacobians with row correlations near R (perturbed per Jacobian)."""
    return correlated_jacobians(R, SCALES, P, count, seed)


def median_ms(fn: Callable[[Tensor], object], inputs: Sequence[Tensor], repeats: int) -> float:
    """Median wall time (ms) of ``fn(x)`` cycling through ``inputs``, after one warm-up pass."""
    return 1e3 * statistics.median(interleaved_times({"fn": fn}, inputs, repeats)["fn"])


def lower_bound(J: Tensor, w: Tensor) -> Tensor:
    """What every Gramian method must do: form G (then a K×K cast) and one ``Jᵀw``."""
    (J @ J.T).double()
    return w @ J


def torchjd_aggregators() -> dict[str, Callable[[], Callable[[Tensor], Tensor]]]:
    try:
        from torchjd import aggregation as tjd
    except ImportError:
        return {}
    return {"nash": lambda: tjd.NashMTL(n_tasks=K), "aligned": tjd.AlignedMTL, "pcgrad": tjd.PCGrad,
            "imtl": tjd.IMTLG}


def torchjd_weight_solver(name: str, agg: object) -> Callable[[Tensor], Tensor]:
    """torchjd's weighting alone on a K×K input: the Gramian, or for NashMTL (which takes the matrix) its
    Cholesky factor L (L Lᵀ = G, so the same problem with no pass over a long J)."""
    if name == "nash":
        return lambda G: agg.weighting(torch.linalg.cholesky(G))
    return agg.gramian_weighting


def rel_diff(u: Tensor, ref: Tensor) -> float:
    return float((u.double() - ref.double()).abs().max() / ref.double().abs().max())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads value (default 1)")
    parser.add_argument("--skip-1e7", action="store_true", help="skip P = 1e7 (200 MB per Jacobian)")
    parser.add_argument("--repeats", type=int, default=0, help="timed calls per measurement (default: by P)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*not DPP")  # cvxpy, inside torchjd's NashMTL
    # agg(J) alone: the methods that need no losses
    names = [i.name for i in mtlkit.list_aggregators()
             if i.properties.kind != "losses" and "losses" not in i.properties.needs]
    theirs = torchjd_aggregators()
    print(f"torch {torch.__version__}, threads = {torch.get_num_threads()}, K = {K}, float32 J; "
          f"aggregators: {', '.join(names)}; torchjd: {'yes' if theirs else 'not installed'}")

    # --- the weight solve alone --------------------------------------------------------------------------------
    Gs = [mtlkit.gramian(J) for J in jacobians(100_000, 16, seed=1)]
    print("\nweight solve alone, agg.weights(G) on changing 5×5 Gramians (median µs)")
    print(f"{'aggregator':<10} {'mtlkit µs':>10} {'torchjd µs':>11} {'speed-up':>9}")
    solve: dict[str, float] = {}
    for name in names:
        agg = mtlkit.get_aggregator(name, **OPTIONS.get(name, {}))
        if not isinstance(agg, mtlkit.Weighting):
            continue
        ours = 1e3 * median_ms(agg.weights, Gs, 400)
        line = f"{name:<10} {ours:>10.1f}"
        if name in theirs:
            fn = torchjd_weight_solver(name, theirs[name]())
            ref = 1e3 * median_ms(fn, Gs, 40 if name == "nash" else 200)
            solve[name] = ref / ours
            line += f" {ref:>11.1f} {ref / ours:>8.0f}×"
        print(line)

    # --- whole aggregation ---------------------------------------------------------------------------------------
    sizes = [100_000, 1_000_000] + ([] if args.skip_1e7 else [10_000_000])
    print("\nwhole aggregation agg(J) (median ms; × LB = median ratio to forming G + one Jᵀw timed in the same round)")
    print("(speed-up = median over rounds of torchjd's time / mtlkit's time, both timed in the same round)")
    print(f"{'P':>9} {'aggregator':<10} {'ms':>9} {'× LB':>6} {'torchjd ms':>11} {'speed-up':>9} {'max rel diff':>13}")
    results: dict[tuple[int, str], dict[str, float]] = {}
    for P in sizes:
        Js = jacobians(P, 2 if P >= 10_000_000 else 6, seed=P)
        repeats = args.repeats or (40 if P <= 100_000 else 20 if P <= 1_000_000 else 5)
        w = torch.ones(K)
        ours = {name: mtlkit.get_aggregator(name, **OPTIONS.get(name, {})) for name in names}
        # torchjd's fast methods run in the same rounds; its NashMTL (tens of ms a call) in fewer rounds of its own
        refs = {f"torchjd {name}": make() for name, make in theirs.items() if name != "nash"}
        timed = interleaved_times({"(LB)": lambda J, w=w: lower_bound(J, w), **ours, **refs}, Js, repeats)
        if "nash" in theirs:
            pair = interleaved_times({"nash": ours["nash"], "torchjd nash": theirs["nash"]()}, Js, max(3, repeats // 3))
            timed["torchjd nash"] = pair["torchjd nash"]
            timed["nash (paired)"] = pair["nash"]
        lb_times = timed["(LB)"]
        print(f"{P:>9.0e} {'(LB)':<10} {1e3 * statistics.median(lb_times):>9.3f} {1.0:>6.2f}")
        for name in names:
            ms = 1e3 * statistics.median(timed[name])
            ratio = statistics.median(t / lb for t, lb in zip(timed[name], lb_times))  # paired: same round
            row = {"ms": ms, "lb": ratio}
            line = f"{P:>9.0e} {name:<10} {ms:>9.3f} {ratio:>6.2f}"
            if name in theirs:
                mine = timed.get(f"{name} (paired)", timed[name])
                ref_times = timed[f"torchjd {name}"]
                speedup = statistics.median(r / t for r, t in zip(ref_times, mine))
                u = mtlkit.get_aggregator(name, **OPTIONS.get(name, {}))(Js[0])
                diff = rel_diff(u, theirs[name]()(Js[0]))
                row.update(speedup=speedup, diff=diff)
                line += f" {1e3 * statistics.median(ref_times):>11.3f} {speedup:>8.1f}× {diff:>13.2e}"
            results[P, name] = row
            print(line)
        del Js

    # --- targets -------------------------------------------------------------------------------------------------
    print("\ntargets")

    def target(label: str, ok: bool | None) -> None:
        print(f"  [{'n/a' if ok is None else 'PASS' if ok else 'FAIL'}] {label}")

    target(f"nash weight solve ≥ 200× faster than torchjd NashMTL ({solve.get('nash', float('nan')):.0f}×)",
           solve["nash"] >= 200 if "nash" in solve else None)
    nash = results.get((100_000, "nash"))
    if nash is not None:
        if "speedup" in nash:
            target(f"nash at P=1e5 ≥ 50× faster than torchjd ({nash['speedup']:.1f}×)", nash["speedup"] >= 50)
            target(f"nash vs torchjd max rel diff ≤ 1e-3 ({nash['diff']:.2e})", nash["diff"] <= 1e-3)
        target(f"nash at P=1e5 ≤ 1.5× LB ({nash['lb']:.2f}×)", nash["lb"] <= 1.5)
    builtins = [i.name for i in mtlkit.list_aggregators() if i.origin == "built-in"]
    for name in builtins:
        r = results.get((1_000_000, name))
        if r is not None:
            target(f"{name} at P=1e6 ≤ 1.2× LB ({r['lb']:.2f}×)", r["lb"] <= 1.2)


if __name__ == "__main__":
    main()
