"""Compare ``dancegen evaluate`` reports of one model under several sampling settings against a baseline report.

For every metric of the ``generated`` row: each report's mean over its seeded sets, and whether it lies inside the
baseline's set-to-set range [min, max] (the bar for "as good as the baseline"). Prints a table, or with ``--json``
one JSON object (the numbers committed in ``benchmarks/results/``).

    python benchmarks/summarise_reports.py OUT/reports --baseline ddim_50 [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def summarise(folder: Path, baseline: str) -> dict[str, Any]:
    reports = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
    if baseline not in reports:
        raise SystemExit(f"error: no {baseline}.json in {folder}")
    base = reports[baseline]["generated"]["metrics"]
    rows: dict[str, Any] = {}
    for name, rep in reports.items():
        metrics = rep["generated"]["metrics"]
        source = rep["generated"]["source"]
        row: dict[str, Any] = {"sampler": source["sampler"], "steps": source["steps"],
                               "seconds": rep.get("timing", {}).get("total_seconds"), "metrics": {}}
        for key, m in metrics.items():
            lo, hi = min(base[key]["values"]), max(base[key]["values"])
            row["metrics"][key] = {"mean": m["mean"], "values": m["values"], "inside_baseline_range":
                                   lo <= m["mean"] <= hi}
        rows[name] = row
    ranges = {k: [min(v["values"]), max(v["values"])] for k, v in base.items()}
    gt = reports[baseline].get("gt_row", {}).get("metrics", {})
    return {"baseline": baseline, "baseline_range": ranges, "ground_truth": gt, "runs": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--baseline", default="ddim_50")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = summarise(args.folder, args.baseline)
    if args.json:
        print(json.dumps(out, indent=1))
        return
    keys = list(out["baseline_range"])
    print(f"{'run':<14}" + "".join(f"{k:>13}" for k in keys))
    lo_hi = "".join(f"{f'{lo:.3g}–{hi:.3g}':>13}" for lo, hi in out["baseline_range"].values())
    print(f"{'range ' + args.baseline:<14}{lo_hi}")
    for name, row in out["runs"].items():
        marks = {k: " " if row["metrics"][k]["inside_baseline_range"] else "*" for k in keys}
        cells = "".join(f"{row['metrics'][k]['mean']:>12.3g}{marks[k]}" for k in keys)
        print(f"{name:<14}{cells}")
    print("* outside the baseline's set-to-set range")


if __name__ == "__main__":
    main()
