"""Summary tables of a sweep, like the paper's Tables III/IV: one row per configuration (seeds averaged), the best
value of every metric column marked. Written as Markdown (best in bold), CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_text_atomic
from ..errors import DancegenError
from ..evaluation.protocols import METRICS
from ..evaluation.report import ARROWS, fmt

DIV_CONVENTIONS = ("higher", "closest")
CONFIG_KEYS = ("aggregator", "music_encoders", "genre_controller")


def summary_rows(results: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows (one per configuration, seeds averaged) and the metric columns.

    ``results``: ``{"combo": {aggregator, music_encoders, genre_controller, seed}, "report": evaluation report}``.
    A row's value is the mean over its seeds of each run's mean over repeats; its std is the std over seeds (ddof 1)
    when there are several seeds, else the run's std over repeats.
    """
    if not results:
        return [], []
    metrics = list(results[0]["report"]["protocol"]["metrics"])
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault(tuple(str(r["combo"][k]) for k in CONFIG_KEYS), []).append(r)
    rows = []
    for key, runs in groups.items():
        row: dict[str, Any] = dict(zip(CONFIG_KEYS, key))
        row["seeds"] = sorted(int(r["combo"]["seed"]) for r in runs)
        for m in metrics:
            vals = [r["report"]["generated"]["metrics"][m]["mean"] for r in runs]
            vals = [v for v in vals if v is not None]
            if not vals:
                row[m], row[f"{m}_std"] = None, None
            elif len(vals) > 1:
                row[m], row[f"{m}_std"] = float(np.mean(vals)), float(np.std(vals, ddof=1))
            else:
                row[m], row[f"{m}_std"] = vals[0], runs[0]["report"]["generated"]["metrics"][m]["std"]
        rows.append(row)
    return rows, metrics


def best_per_column(rows: Sequence[dict[str, Any]], metrics: Sequence[str], gt: dict[str, Any] | None = None,
                    div: str = "higher") -> dict[str, list[int]]:
    """Indices of the best row(s) per metric: lower is better for FID/PFC/PBC/FSR, higher for BAS and genre
    accuracy, closest to the GT row for PBC; Div: ``higher`` is better (default, the paper's bold) or ``closest``
    to the GT row's Div. Without a GT value, "closest" falls back to lower is better."""
    if div not in DIV_CONVENTIONS:
        raise DancegenError(f"unknown Div convention {div!r}; choose one of {', '.join(DIV_CONVENTIONS)}")
    best: dict[str, list[int]] = {}
    for m in metrics:
        vals = [(i, r[m]) for i, r in enumerate(rows) if r.get(m) is not None]
        if not vals:
            best[m] = []
            continue
        closest = METRICS[m][1] == "closest" or (m.startswith("div") and div == "closest")
        if closest and gt and gt.get(m) is not None:
            scores = [(i, -abs(v - gt[m])) for i, v in vals]
        elif METRICS[m][1] in ("lower", "closest"):
            scores = [(i, -v) for i, v in vals]
        else:
            scores = list(vals)
        top = max(s for _, s in scores)
        best[m] = [i for i, s in scores if np.isclose(s, top, rtol=1e-9, atol=1e-12)]
    return best


def render_markdown(rows: Sequence[dict[str, Any]], metrics: Sequence[str], best: dict[str, list[int]],
                    gt: dict[str, Any] | None, title: str) -> str:
    head = ["aggregator", "music encoders", "genre controller", "seeds"]
    cols = [f"{METRICS[m][0]} {ARROWS[METRICS[m][1]]}" for m in metrics]
    lines = [f"# {title}", "", "| " + " | ".join(head + cols) + " |", "|" + "---|" * (len(head) + len(cols))]
    if gt:
        lines.append("| GT | | | | " + " | ".join(fmt(gt.get(m)) for m in metrics) + " |")
    for i, r in enumerate(rows):
        cells = []
        for m in metrics:
            text = fmt(r[m], r.get(f"{m}_std"))
            cells.append(f"**{text}**" if i in best[m] else text)
        seeds = ",".join(str(s) for s in r["seeds"])
        lines.append(f"| {r['aggregator']} | {r['music_encoders']} | {r['genre_controller']} | {seeds} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(out: Path, results: Sequence[dict[str, Any]], div: str = "higher") -> dict[str, Any]:
    """Write ``summary.md``, ``summary.csv`` and ``summary.json`` into ``out``; returns the JSON content."""
    rows, metrics = summary_rows(results)
    if not rows:
        raise DancegenError(f"no finished runs in {out} to summarise")
    gt = results[0]["report"]["gt_row"]["metrics"]
    best = best_per_column(rows, metrics, gt, div)
    proto = results[0]["report"]["protocol"]["name"]
    title = f"Ablation summary (protocol {proto}; best per column in bold; Div: {div})"
    write_text_atomic(out / "summary.md", render_markdown(rows, metrics, best, gt, title))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([*CONFIG_KEYS, "seeds", *[c for m in metrics for c in (m, f"{m}_std")], "best"])
    for i, r in enumerate(rows):
        writer.writerow([*[r[k] for k in CONFIG_KEYS], " ".join(map(str, r["seeds"])),
                         *[("" if r[c] is None else r[c]) for m in metrics for c in (m, f"{m}_std")],
                         " ".join(m for m in metrics if i in best[m])])
    write_text_atomic(out / "summary.csv", buf.getvalue())
    content = {"protocol": proto, "metrics": metrics,
               "better": {m: METRICS[m][1] for m in metrics}, "div_convention": div, "gt_row": gt,
               "rows": rows, "best": {m: [rows[i]["aggregator"] + "/" + rows[i]["music_encoders"] + "/"
                                          + rows[i]["genre_controller"] for i in idx] for m, idx in best.items()}}
    write_text_atomic(out / "summary.json", json.dumps(content, indent=2))
    return content
