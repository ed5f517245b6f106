"""Render an evaluation report (the dict from :func:`dancegen.evaluation.evaluate`) as a rich table."""

from __future__ import annotations

import sys
from typing import Any

from .protocols import METRICS

ARROWS = {"lower": "↓", "higher": "↑", "closest": "→GT"}


def fmt(value: float | None, std: float | None = None) -> str:
    """``12.34 ± 0.56`` (``12.34`` without a std, ``–`` for a missing value); 4 decimals below 1."""
    if value is None:
        return "–"
    digits = 4 if abs(value) < 1 else 2
    text = f"{value:.{digits}f}"
    return f"{text} ± {std:.{digits}f}" if std is not None else text


def report_table(report: dict[str, Any]) -> Any:
    """A :class:`rich.table.Table` with the GT row and the generated row (mean ± std over sets and repeats)."""
    from rich.table import Table

    proto = report["protocol"]
    keys = proto["metrics"]
    gen = report["generated"]
    unit = "songs" if proto.get("whole_song") else "clips"
    gt_set = ("the sampled clips' GT" if proto["gt_split"] == "sampled"
              else f"{proto['gt_split']} split ({report['gt_set']['clips']} {unit})")
    title = f"protocol {proto['name']} · skeleton: {report['skeleton']['kind']} · GT set: {gt_set}"
    table = Table(title=title)
    table.add_column("")
    for k in keys:
        name, better = METRICS[k]
        table.add_column(f"{name} {ARROWS[better]}", justify="right")
    gt_std = report["gt_row"].get("std") or {}
    table.add_row("GT", *[fmt(report["gt_row"]["metrics"].get(k), gt_std.get(k)) for k in keys])
    sets = gen.get("sets", 1)
    label = (f"generated ({sets} sets" + (f" × {gen['repeats']} repeats" if gen["repeats"] != 1 else "") + ")"
             if sets > 1 else f"generated ({gen['repeats']} repeat{'s' if gen['repeats'] != 1 else ''})")
    table.add_row(label, *[fmt(gen["metrics"][k]["mean"], gen["metrics"][k]["std"]) for k in keys])
    return table


def print_report(report: dict[str, Any], console: Any = None) -> None:
    """Print the table and the report's conventions and notes."""
    from rich.console import Console

    console = console or Console(width=None if sys.stdout.isatty() else 160)
    console.print(report_table(report))
    clf = report.get("genre_classifier")
    lines = [f"skeleton source: {report['skeleton']['source']}", f"music beats: {report['beats_source']}",
             f"GT row: {report['gt_row']['definition']}"]
    sampling = report.get("sampling")
    if sampling:
        lines.append(f"sampling: {sampling['sets']} sets of {sampling['clips_per_song']} consecutive 4-s slices per "
                     f"song (seed {sampling['seed']}); mean ± std over the sets")
    device = report.get("device")
    if device:
        lines.append(f"device: {device['used']} (requested {device['requested']})")
    source = report["generated"]["source"]
    if source.get("kind") == "checkpoint" and "cleanup" in source:
        lines.append(f"generation: {source['steps']} steps, guidance {source['guidance']}, windows joined by "
                     f"{source['longform'] or '– (one window per clip)'}, clean-up {source['cleanup']}, "
                     f"{source.get('weights', 'ema')} weights")
    if clf:
        acc = clf.get("held_out_accuracy")
        lines.append(f"genre classifier: held-out accuracy {fmt(acc)} on real motion ({clf['note']})")
    for convention in report.get("conventions", []):
        lines.append(f"convention: {convention}")
    for deviation in report.get("deviations", []):
        lines.append(f"deviation: {deviation.removeprefix('differs: ')}")
    for note in [*report["generated"]["notes"], *report["gt_row"]["notes"], *report["notes"]]:
        lines.append(f"note: {note}")
    for line in lines:
        console.print(line, highlight=False, markup=False)
