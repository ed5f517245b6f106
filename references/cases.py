"""The inputs every reference comparison uses: 36 Jacobians (float64), K = 2…20 tasks, well- and ill-conditioned,
with conflicting and aligned rows and rows of very different scales. Pure torch, deterministic: the reference
scripts (run in environments with torchjd / LibMTL and without mtlkit) and mtlkit's tests build the same cases.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _with_condition(K: int, P: int, cond: float, seed: int) -> Tensor:
    """A (K, P) matrix whose singular values run geometrically from 1 to 1/cond (K ≤ P)."""
    g = _gen(seed)
    U, _ = torch.linalg.qr(torch.randn(K, K, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(P, K, generator=g, dtype=torch.float64))
    s = torch.logspace(0, -torch.log10(torch.tensor(cond)).item(), K, dtype=torch.float64)
    return (U * s) @ V.T


def cases() -> list[tuple[str, Tensor]]:
    """(name, J) pairs; names are stable keys of the reference files."""
    out: list[tuple[str, Tensor]] = []
    for i, K in enumerate((2, 3, 4, 5, 6, 8, 10, 12, 16, 20)):
        out.append((f"gaussian K={K}", torch.randn(K, 3 * K + 7, generator=_gen(100 + i), dtype=torch.float64)))
    for i, K in enumerate((2, 3, 5, 8, 12, 20)):
        mean = torch.randn(1, 40, generator=_gen(200 + i), dtype=torch.float64)
        noise = torch.randn(K, 40, generator=_gen(300 + i), dtype=torch.float64)
        out.append((f"aligned K={K}", mean + 0.3 * noise))  # mostly agreeing tasks
    for i, K in enumerate((2, 3, 4, 6, 10)):
        J = torch.randn(K, 30, generator=_gen(400 + i), dtype=torch.float64)
        J[1] = -0.8 * J[0] + 0.2 * J[1]  # a strongly conflicting pair
        out.append((f"conflicting K={K}", J))
    for i, (K, cond) in enumerate(((3, 1e2), (5, 1e4), (8, 1e6), (4, 1e8), (10, 1e3), (20, 1e5))):
        out.append((f"cond={cond:.0e} K={K}", _with_condition(K, 4 * K, cond, 500 + i)))
    for i, K in enumerate((3, 5, 8, 12)):
        scales = torch.logspace(-3, 3, K, dtype=torch.float64)[:, None]
        out.append((f"scaled 1e-3..1e3 K={K}", scales * torch.randn(K, 25, generator=_gen(600 + i),
                                                                      dtype=torch.float64)))
    for i, K in enumerate((4, 6, 12, 20)):
        J = torch.randn(K, 2 * K, generator=_gen(700 + i), dtype=torch.float64)
        J += torch.randn(1, 2 * K, generator=_gen(800 + i), dtype=torch.float64).abs() * 2  # positive bias
        out.append((f"biased K={K}", J))
    out.append(("more tasks than dims K=20 P=8", torch.randn(20, 8, generator=_gen(900), dtype=torch.float64)))
    return out
