"""Summary tables of a sweep: one row per configuration (seeds averaged), the best value of every metric column
marked, written as Markdown (best in bold), CSV and JSON; and the paper's Tables III/IV (:func:`table_summary`):
rows labelled as in the paper, the paper's columns, what each row ran with and the published values next to ours."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_text_atomic
from ..errors import DancegenError
from ..evaluation.protocols import METRICS
from ..evaluation.report import ARROWS, fmt
from .tables import PaperTable, TableRow

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
            row[m], row[f"{m}_std"] = mean_std([r["report"] for r in runs], m)
        rows.append(row)
    return rows, metrics


def mean_std(reports: Sequence[dict[str, Any]], metric: str) -> tuple[float | None, float | None]:
    """A metric over runs: the mean over runs of each report's ``generated.metrics[metric].mean`` ± the std over runs
    (ddof 1); with one run, that report's own ``std`` (over its evaluation sets or repeats; None when it has none)."""
    entries = [(r["generated"]["metrics"].get(metric) or {}) for r in reports]
    found = [e for e in entries if e.get("mean") is not None]
    if not found:
        return None, None
    if len(found) > 1:
        vals = [float(e["mean"]) for e in found]
        return float(np.mean(vals)), float(np.std(vals, ddof=1))
    std = found[0].get("std")
    return float(found[0]["mean"]), (None if std is None else float(std))


def _meta(metric: str) -> tuple[str, str]:
    """(display name, which is better) of a metric; a key this version does not know is shown as is, lower better."""
    return METRICS.get(metric, (metric, "lower"))


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
        closest = _meta(m)[1] == "closest" or (m.startswith("div") and div == "closest")
        if closest and gt and gt.get(m) is not None:
            scores = [(i, -abs(v - gt[m])) for i, v in vals]
        elif _meta(m)[1] in ("lower", "closest"):
            scores = [(i, -v) for i, v in vals]
        else:
            scores = list(vals)
        top = max(s for _, s in scores)
        best[m] = [i for i, s in scores if np.isclose(s, top, rtol=1e-9, atol=1e-12)]
    return best


def _header(metric: str) -> str:
    name, better = _meta(metric)
    return f"{name} {ARROWS[better]}"


def render_markdown(rows: Sequence[dict[str, Any]], metrics: Sequence[str], best: dict[str, list[int]],
                    gt: dict[str, Any] | None, title: str) -> str:
    head = ["aggregator", "music encoders", "genre controller", "seeds"]
    cols = [_header(m) for m in metrics]
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
               "better": {m: _meta(m)[1] for m in metrics}, "div_convention": div, "gt_row": gt,
               "rows": rows, "best": {m: [rows[i]["aggregator"] + "/" + rows[i]["music_encoders"] + "/"
                                          + rows[i]["genre_controller"] for i in idx] for m, idx in best.items()}}
    write_text_atomic(out / "summary.json", json.dumps(content, indent=2))
    return content


# -- paper tables --------------------------------------------------------------------------------------------------

def table_summary(table: PaperTable, rows: Sequence[TableRow], runs: Mapping[str, Sequence[str]],
                  reports: Mapping[str, dict[str, Any]], random_weights: Mapping[str, Sequence[str] | None],
                  div: str = "higher") -> dict[str, Any]:
    """A paper table's content: one entry per row (label as in the paper) with the mean ± std over its finished runs
    (see :func:`mean_std`), what it ran with (substitutes, random weights, runs shared with another row, seeds not
    finished) and the published values known for it; columns = the paper's metrics the reports have, in the paper's
    order, then the others the reports have.

    ``runs``: row key → its run folder names; ``reports``: run name → report of the finished runs;
    ``random_weights``: run name → components built with random weights (None: unknown)."""
    done = [reports[n] for r in rows for n in runs[r.key] if n in reports]
    if not done:
        raise DancegenError(f"no finished runs to summarise for table {table.name}")
    have = list(done[0]["protocol"]["metrics"])
    metrics = [m for m in table.columns if m in have] + [m for m in have if m not in table.columns]
    gt = done[0]["gt_row"]["metrics"]
    out_rows: list[dict[str, Any]] = []
    first_with: dict[tuple[str, ...], str] = {}
    for r in rows:
        names = list(runs[r.key])
        finished = [n for n in names if n in reports]
        row: dict[str, Any] = {"key": r.key, "label": r.label, "music_encoders": r.music_encoders,
                               "aggregator": r.aggregator, "genre_controller": r.genre_controller,
                               "aggregator_options": list(r.aggregator_options), "train_args": list(r.train_args),
                               "runs": names, "seeds": [int(n.rsplit("__s", 1)[1]) for n in finished]}
        for m in metrics:
            row[m], row[f"{m}_std"] = mean_std([reports[n] for n in finished], m)
        notes = [f"substitute {s}" for s in r.substituted]
        rand = sorted({c for n in finished for c in (random_weights.get(n) or [])})
        if rand:
            notes.append("RANDOM weights: " + ", ".join(rand))
        if any(random_weights.get(n) is None for n in finished):
            notes.append("weights unknown (no checkpoint)")
        if tuple(names) in first_with:
            notes.append(f"same runs as {first_with[tuple(names)]}")
        first_with.setdefault(tuple(names), r.label)
        missing = [n.rsplit("__s", 1)[1] for n in names if n not in reports]
        if missing:
            notes.append("not run" if len(missing) == len(names) else "seeds not finished: " + ",".join(missing))
        row["ran_with"] = notes
        row["published"] = [{"source": p.source, "values": dict(p.values)} for p in r.published]
        out_rows.append(row)
    best = best_per_column(out_rows, metrics, gt, div)
    used = list(dict.fromkeys(p["source"] for row in out_rows for p in row["published"]))
    return {"table": table.name, "title": table.title, "rows_from": table.rows_from,
            "protocol": done[0]["protocol"]["name"], "metrics": metrics, "paper_columns": list(table.columns),
            "better": {m: _meta(m)[1] for m in metrics}, "div_convention": div, "gt_row": gt, "rows": out_rows,
            "best": {m: [out_rows[i]["label"] for i in idx] for m, idx in best.items()},
            "sources": {k: dict(table.sources[k]) for k in used}}


def render_table_markdown(content: dict[str, Any]) -> str:
    """The table as Markdown: our rows (best in bold), each followed by its published values (``↳ published [n]``)."""
    metrics, rows = content["metrics"], content["rows"]
    notes = {k: i + 1 for i, k in enumerate(content["sources"])}
    best = {m: set(labels) for m, labels in content["best"].items()}
    seeds = sorted({s for r in rows for s in r["seeds"]})
    lines = [f"# {content['title']}", "",
             f"GCDance ablation (arXiv 2502.18309) run by `dancegen ablate --table {content['table']}`; rows: "
             f"{content['rows_from']}. Protocol {content['protocol']}; seeds {','.join(map(str, seeds))}; value = "
             "mean over seeds of each run's mean, ± std over seeds (one seed: the evaluation's own std over its "
             f"sets/repeats); best of our rows in bold (Div: {content['div_convention']}). Published values are "
             "the papers' numbers, not ours.", "",
             "| row | music encoders | aggregator | genre controller | seeds | "
             + " | ".join(_header(m) for m in metrics) + " | ran with |",
             "|" + "---|" * (len(metrics) + 6),
             "| GT | | | | | " + " | ".join(fmt(content["gt_row"].get(m)) for m in metrics) + " | |"]
    for r in rows:
        cells = []
        for m in metrics:
            text = fmt(r[m], r.get(f"{m}_std"))
            cells.append(f"**{text}**" if r[m] is not None and r["label"] in best.get(m, ()) else text)
        extra = " ".join(r["train_args"] + [f"--aggregator-opt {o}" for o in r["aggregator_options"]])
        enc = r["music_encoders"].replace(",", "+")
        lines.append(f"| {r['label']} | {enc} | {r['aggregator']} | {r['genre_controller']}"
                     f"{' ' + extra if extra else ''} | {','.join(map(str, r['seeds'])) or '–'} | "
                     + " | ".join(cells) + f" | {'; '.join(r['ran_with']) or 'as specified'} |")
        for p in r["published"]:
            lines.append(f"| ↳ published [{notes[p['source']]}] | | | | | "
                         + " | ".join(fmt(p["values"].get(m)) if m in content["paper_columns"] else ""
                                      for m in metrics) + " | |")
    if notes:
        lines += ["", "Sources:", ""]
        lines += [f"[{i}] {content['sources'][k]['cite']} — {content['sources'][k]['note']}." for k, i in notes.items()]
    return "\n".join(lines) + "\n"


def write_table_summary(out: Path, content: dict[str, Any]) -> list[Path]:
    """Write ``table_<name>.md``, ``.csv`` and ``.json`` into ``out``; returns their paths."""
    stem = out / f"table_{content['table']}"
    metrics = content["metrics"]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["kind", "row", "key", "music_encoders", "aggregator", "genre_controller", "seeds",
                     *[c for m in metrics for c in (m, f"{m}_std")], "ran_with", "source", "best"])
    gt = content["gt_row"]
    writer.writerow(["gt", "GT", "", "", "", "", "", *[x for m in metrics for x in (gt.get(m, ""), "")], "", "", ""])
    for r in content["rows"]:
        writer.writerow(["ours", r["label"], r["key"], r["music_encoders"], r["aggregator"], r["genre_controller"],
                         " ".join(map(str, r["seeds"])),
                         *[("" if r[c] is None else r[c]) for m in metrics for c in (m, f"{m}_std")],
                         "; ".join(r["ran_with"]), "",
                         " ".join(m for m in metrics if r["label"] in content["best"].get(m, ()))])
        for p in r["published"]:
            writer.writerow(["published", r["label"], r["key"], "", "", "", "",
                             *[x for m in metrics for x in (p["values"].get(m, ""), "")], "", p["source"], ""])
    paths = [stem.with_suffix(".md"), stem.with_suffix(".csv"), stem.with_suffix(".json")]
    write_text_atomic(paths[0], render_table_markdown(content))
    write_text_atomic(paths[1], buf.getvalue())
    write_text_atomic(paths[2], json.dumps(content, indent=2, ensure_ascii=False))
    return paths
