"""The measurement behind Nash-MTL's ``min_norm_ratio`` default (the floor on gradient norms).

Nash-MTL is invariant to a task's gradient scale, so a task whose gradient is ~0 gets a weight ~1/‖g_i‖ and a
full share of the update along its (noise) direction. The floor raises norms below ``r·max`` to ``r·max`` on the
Gramian's diagonal. Three tables, for floors r = 1e-4, 1e-3, 1e-2 against r = 0 (the bargaining solution itself):

1. The default model's training (``dancegen/assets/default_model/metrics.jsonl``: norms and cosines of the five
   task gradients at 100 logged steps, i.e. their Gramians): how often a floor touches a task, and how much the
   update direction moves (1 − cos between the updates).
2. The same Gramians with the foot-contact gradient (F) scaled by s (s = 0: the loss is 0): the largest weight
   ``α_F · max_j ‖g_j‖`` over the steps, the floored solutions rejected because they conflicted with F, and the
   distance of the update from the four-task update without F (1 − cos, worst step).
3. Random 5-task Gramians with one task scaled by s: the same.

Run: ``.venv/bin/python benchmarks/nash_floor.py`` (a few seconds; numpy solver).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from mtlkit import NashMTL

RATIOS = (0.0, 1e-4, 1e-3, 1e-2)
SCALES = (1e-2, 1e-3, 1e-4, 1e-6, 1e-8, 0.0)
METRICS = Path(__file__).resolve().parents[1] / "dancegen" / "assets" / "default_model" / "metrics.jsonl"


def dancegen_gramians() -> tuple[list[str], list[np.ndarray]]:
    """Task names and the Gramians ``n_i n_j cos_ij`` of the logged steps."""
    rows = [json.loads(line) for line in METRICS.read_text().splitlines() if line.strip()]
    tasks = rows[0]["cosine_tasks"]
    out = []
    for row in rows:
        n = np.array([row["gradient_norms"][t] for t in tasks])
        out.append(n[:, None] * np.array(row["cosine"]) * n[None, :])
    return tasks, out


def random_gramians(count: int = 100, K: int = 5) -> list[np.ndarray]:
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(count):
        J = torch.randn(K, 64, generator=gen, dtype=torch.float64) + 0.3 * torch.randn(64, generator=gen,
                                                                                       dtype=torch.float64)
        J = J * torch.exp(torch.randn(K, 1, generator=gen, dtype=torch.float64))  # norms spread e^±1
        out.append((J @ J.T).numpy())
    return out


def solve(G: np.ndarray, ratio: float) -> tuple[np.ndarray, NashMTL]:
    nash = NashMTL(max_norm=None, min_norm_ratio=ratio, solver="numpy")
    return nash.weights(torch.from_numpy(G)).numpy(), nash


def one_minus_cos(G: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """1 − cos between the updates Jᵀa and Jᵀb, from the Gramian."""
    return float(1.0 - (a @ G @ b) / np.sqrt((a @ G @ a) * (b @ G @ b)))


def normal_training(Gs: list[np.ndarray]) -> None:
    ratios = [float(np.sqrt(G.diagonal().min() / G.diagonal().max())) for G in Gs]
    print(f"1. default model, {len(Gs)} logged steps: min ‖g_i‖/max ‖g_j‖ = {min(ratios):.2e} "
          f"(median {np.median(ratios):.2e})")
    print("   r        steps floored   max 1 − cos(update, r=0 update)")
    for r in RATIOS[1:]:
        touched, moved = 0, 0.0
        for G in Gs:
            a0, _ = solve(G, 0.0)
            a, nash = solve(G, r)
            touched += nash.diagnostics["floored"] > 0
            moved = max(moved, one_minus_cos(G, a, a0))
        print(f"   {r:<8g} {touched:>5d}/{len(Gs):<8d} {moved:.1e}")


def tiny_task(title: str, Gs: list[np.ndarray], i: int) -> None:
    """Largest α_i·max‖g‖ and 1 − cos(update, update without task i) over the steps where the floor was kept,
    and how many floored solutions were rejected (they conflicted with task i: the r = 0 weights are used)."""
    print(title)
    print("   s        r          rejected   max α_i·max‖g‖   max 1 − cos(update, update without task i)")
    keep = [j for j in range(Gs[0].shape[0]) if j != i]
    for s in SCALES:
        for r in RATIOS:
            worst, rejected, moved = 0.0, 0, 0.0
            for G in Gs:
                d = np.ones(G.shape[0])
                d[i] = s
                Gs_ = d[:, None] * G * d[None, :]
                a, nash = solve(Gs_, r)
                if nash.diagnostics["floor_rejected"]:
                    rejected += 1
                    continue
                worst = max(worst, float(a[i] * np.sqrt(Gs_.diagonal().max())))
                b = np.zeros_like(a)
                b[keep], _ = solve(Gs_[np.ix_(keep, keep)], 0.0)
                moved = max(moved, one_minus_cos(Gs_, a, b))
            print(f"   {s:<8g} {r:<8g} {rejected:>6d}/{len(Gs):<4d} {worst:>14.3g}   {moved:.1e}")


def main() -> None:
    tasks, Gs = dancegen_gramians()
    normal_training(Gs)
    tiny_task(f"2. default model, the foot-contact gradient (F) scaled by s, {len(Gs)} steps", Gs, tasks.index("F"))
    tiny_task("3. random 5-task Gramians (norms spread e^±1), task 0 scaled by s, 100 draws", random_gramians(), 0)


if __name__ == "__main__":
    main()
