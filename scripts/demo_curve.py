"""Print the training curve of a bundled/retrained demo model as a Markdown table and plot it.

    python scripts/demo_curve.py [MODEL_DIR] [--png docs/dancegen/demo_curve.png]

MODEL_DIR (default: the bundled ``dancegen/assets/default_model``) holds the run's ``metrics.jsonl``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dancegen.demo import BUNDLED_DIR


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", type=Path, default=BUNDLED_DIR)
    ap.add_argument("--png", type=Path, default=None)
    args = ap.parse_args()
    rows = [json.loads(line) for line in (args.model / "metrics.jsonl").read_text().splitlines() if line.strip()]
    tasks = list(rows[0]["losses_avg"])
    print("| step | " + " | ".join(f"L_{t}" for t in tasks) + " | " + " | ".join(f"w_{t}" for t in tasks) + " |")
    print("|---" * (1 + 2 * len(tasks)) + "|")
    for r in rows:
        weights = r.get("weights") or {}
        print(f"| {r['step']} | " + " | ".join(f"{r['losses_avg'][t]:.4f}" for t in tasks) + " | "
              + " | ".join(f"{weights.get(t, float('nan')):.3g}" for t in tasks) + " |")
    if args.png is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
        steps = [r["step"] for r in rows]
        for t in tasks:
            ax.plot(steps, [r["losses_avg"][t] for r in rows], label=f"L_{t}")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (running mean)")
        ax.set_title("bundled demo model: task losses (Nash-MTL)")
        ax.legend(ncol=5, fontsize=8)
        fig.tight_layout()
        fig.savefig(args.png)
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
