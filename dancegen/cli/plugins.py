"""``dancegen plugins``: every registered music encoder (with the weights it needs), genre controller, exporter and
mtlkit aggregator."""

from __future__ import annotations

from typing import Any

import typer

from . import app


def _encoder_rows() -> list[dict[str, Any]]:
    from ..features.registry import MUSIC_ENCODERS

    return [{"name": i.name, "origin": i.origin, "dim": getattr(i.cls, "nominal_dim", None),
             "needs_weights": bool(getattr(i.cls, "needs_weights", False)),
             "weights": str(getattr(i.cls, "weights", "") or ""),
             "download_size": str(getattr(i.cls, "download_size", "") or ""),
             "offline": bool(getattr(i.cls, "offline", True)), "summary": i.summary}
            for i in MUSIC_ENCODERS.items()]


def _exporter_rows() -> list[dict[str, Any]]:
    from ..export import registered_exporters

    return [{"name": i.name, "aliases": list(i.cls.aliases), "file": i.cls.filename, "needs": list(i.cls.needs),
             "uses_audio": bool(i.cls.uses_audio), "opens_with": i.cls.opens_with, "origin": i.origin,
             "summary": i.cls.summary()}
            for i in registered_exporters()]


def _controller_rows() -> list[dict[str, Any]]:
    from ..genre.registry import GENRE_CONTROLLERS

    rows = []
    for i in GENRE_CONTROLLERS.items():
        row: dict[str, Any] = {"name": i.name, "origin": i.origin, "summary": i.summary}
        for attr in ("needs_weights", "offline"):  # facts a controller class may declare
            if isinstance(getattr(i.cls, attr, None), bool):
                row[attr] = getattr(i.cls, attr)
        rows.append(row)
    return rows


def _aggregator_rows() -> list[dict[str, Any]]:
    import mtlkit

    return [info.as_dict() for info in mtlkit.list_aggregators()]


def collect() -> dict[str, list[dict[str, Any]]]:
    """The ``--json`` document: four lists of plugin rows."""
    return {"music_encoders": _encoder_rows(), "genre_controllers": _controller_rows(),
            "exporters": _exporter_rows(), "aggregators": _aggregator_rows()}


def _yes(flag: object) -> str:
    return "" if flag is None else ("yes" if flag else "no")


@app.command()
def plugins(as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON.")) -> None:
    """List music encoders (with the weights each needs), genre controllers, exporters and mtlkit aggregators with
    the plugin each comes from."""
    data = collect()
    if as_json:
        import json

        typer.echo(json.dumps(data, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    enc = Table(title="Music encoders (dancegen)")
    for col in ("name", "dim", "weights", "download", "offline", "origin", "summary"):
        enc.add_column(col, no_wrap=col not in ("summary", "origin", "weights", "download"),
                       ratio=2 if col == "summary" else None)
    for r in data["music_encoders"]:
        dim = "" if r["dim"] is None else str(r["dim"])
        weights = r["weights"] or ("yes" if r["needs_weights"] else "none")
        enc.add_row(r["name"], dim, weights, r["download_size"], _yes(r["offline"]), r["origin"], r["summary"])
    ctl = Table(title="Genre controllers (dancegen)")
    for col in ("name", "weights", "origin", "summary"):
        ctl.add_column(col, no_wrap=col not in ("summary", "origin"), ratio=2 if col == "summary" else None)
    for r in data["genre_controllers"]:
        ctl.add_row(r["name"], _yes(r.get("needs_weights")), r["origin"], r["summary"])
    exp = Table(title="Exporters (dancegen)")
    for col in ("name", "aliases", "file", "needs", "origin", "summary"):
        exp.add_column(col, no_wrap=col not in ("summary", "origin"), ratio=2 if col == "summary" else None)
    for r in data["exporters"]:
        exp.add_row(r["name"], ",".join(r["aliases"]), r["file"], ",".join(r["needs"]), r["origin"], r["summary"])
    agg = Table(title="Aggregators (mtlkit)")
    for col in ("name", "needs", "non-conflicting", "origin", "summary"):
        agg.add_column(col, no_wrap=col not in ("summary", "origin"), ratio=2 if col == "summary" else None)
    for r in data["aggregators"]:
        props = r.get("properties", {})
        agg.add_row(r["name"], ",".join(props.get("needs", [])), _yes(props.get("non_conflicting")), r["origin"],
                    r["summary"])
    for table in (enc, ctl, exp, agg):
        console.print(table)
