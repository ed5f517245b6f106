"""Weight solvers: the numpy path against the sync-free torch path (``solver="torch"``), K = 2, 5, 10, 20.

For every Gramian method, the time per ``weights(G)`` call on a slowly drifting sequence of Gramians (Nash-MTL's
warm start as in training), the two paths interleaved in the same process and their ratio printed:

- CPU: both paths on a CPU Gramian (``"auto"`` picks numpy there);
- CUDA, when a device is present: the numpy path on a CUDA Gramian (it copies G to the host: a sync, and the
  weights back) against the torch path (``"auto"`` there), each call followed by ``torch.cuda.synchronize()``;
  plus the torch path's host time alone (the call returns before the GPU has run it: what the training loop
  waits for when nothing else synchronises).

Input checks are off (``mtlkit.set_input_checks(False)``): their one sync per call would hide the solvers'.
Run: ``.venv/bin/python benchmarks/on_device.py [--repeats N] [--threads N]``. Not a test.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from _timing import interleaved_medians

import mtlkit
from mtlkit import AlignedMTL, Linear, NashMTL, PCGrad, Weighting

KS = (2, 5, 10, 20)


def methods(solver: str, device: str) -> dict[str, Weighting]:
    out: dict[str, Weighting] = {
        "nash": NashMTL(solver=solver),
        "aligned": AlignedMTL(solver=solver),
        "pcgrad": PCGrad(generator=torch.Generator(device=device).manual_seed(0), solver=solver),
    }
    try:  # built in, or from the mtlkit-imtl plugin that first provided it
        from mtlkit._imtl import IMTLG
    except ImportError:  # pragma: no cover
        from mtlkit_imtl import IMTLG
    out["imtl"] = IMTLG(solver=solver)
    out["linear"] = Linear()  # torch only: no solver to choose
    return out


def drifting_gramians(K: int, device: str, steps: int = 32) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(K)
    J = torch.randn(K, 512, generator=gen, dtype=torch.float64) + 0.5 * torch.randn(512, generator=gen,
                                                                                    dtype=torch.float64)
    out = []
    for _ in range(steps):
        J = J + 0.02 * torch.randn(J.shape, generator=gen, dtype=torch.float64)
        out.append(mtlkit.gramian(J).to(device))
    return out


def caller(method: Weighting, Gs: list[torch.Tensor], sync: bool) -> Callable[[], None]:
    step = [0]

    def call() -> None:
        step[0] = (step[0] + 1) % len(Gs)
        method.weights(Gs[step[0]])
        if sync:
            torch.cuda.synchronize()

    return call


def host_time(method: Weighting, Gs: list[torch.Tensor], calls: int = 20) -> float:
    """Median time for the torch path's ``weights`` to return on CUDA (GPU work left queued)."""
    times = []
    for i in range(calls):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        method.weights(Gs[i % len(Gs)])
        times.append(time.perf_counter() - t0)
    torch.cuda.synchronize()
    return sorted(times)[len(times) // 2]


def table(device: str, repeats: int) -> None:
    sync = device == "cuda"
    extra = f"{'torch host µs':>15}" if sync else ""
    print(f"{'method':<9}{'K':>4}{'numpy µs':>11}{'torch µs':>11}{'torch/numpy':>13}{extra}")
    for K in KS:
        Gs = drifting_gramians(K, device)
        numpy_path, torch_path = methods("numpy", device), methods("torch", device)
        for name in torch_path:
            fns = {"torch": caller(torch_path[name], Gs, sync)}
            if name != "linear":
                fns["numpy"] = caller(numpy_path[name], Gs, sync)
            t = interleaved_medians(fns, repeats=repeats)
            base = t.get("numpy")
            cols = f"{base * 1e6:>11.1f}" if base else f"{'—':>11}"
            cols += f"{t['torch'] * 1e6:>11.1f}" + (f"{t['torch'] / base:>13.2f}" if base else f"{'—':>13}")
            if sync:
                cols += f"{host_time(torch_path[name], Gs) * 1e6:>15.1f}"
            print(f"{name:<9}{K:>4}{cols}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: no pool overhead on K×K)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    previous = mtlkit.set_input_checks(False)
    try:
        print(f"CPU ({args.threads} thread{'s' if args.threads > 1 else ''}): time per weights() call")
        table("cpu", args.repeats)
        if torch.cuda.is_available():
            print(f"\nCUDA ({torch.cuda.get_device_name()}): time per weights() call, synchronised")
            table("cuda", args.repeats)
        else:
            print("\nno CUDA device: GPU timings not measured")
    finally:
        mtlkit.set_input_checks(previous)


if __name__ == "__main__":
    main()
