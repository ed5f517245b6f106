"""``dancegen export-checkpoint``: a checkpoint as a folder ready to upload to the Hugging Face Hub (weights as
safetensors, a config without machine paths, a model card); ``--checkpoint hf://ORG/NAME`` loads it back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from . import app

Opt = typer.Option
Arg = typer.Argument


@app.command("export-checkpoint")
def export_checkpoint(
    checkpoint: Annotated[str, Arg(help="Run or checkpoint folder from `dancegen train` (or hf://ORG/NAME).",
                                   show_default=False)],
    out: Annotated[Path, Arg(help="Folder to write (new or empty): upload it with `hf upload ORG/NAME OUT`.",
                             show_default=False)],
    repo_id: Annotated[str, Opt("--repo-id", help="The Hub repository ORG/NAME it will be uploaded to (named in the "
                                "model card's usage lines).")] = "ORG/NAME",
    license_id: Annotated[str, Opt("--license", help="License id for the model card (mit, apache-2.0, "
                                   "cc-by-nc-4.0, …; other: see the training data's terms).")] = "other",
    report: Annotated[Path | None, Opt("--report", help="Evaluation report (`dancegen evaluate --out`) for the "
                                       "card's metrics (default: an evaluation*.json in the checkpoint or run "
                                       "folder).")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print what was written as JSON.")] = False,
) -> None:
    """Write CHECKPOINT as OUT: its safetensors weights (no training state), config.json without machine paths and
    a model card README.md, ready to upload to the Hugging Face Hub."""
    from ..hub_export import export_checkpoint as export

    result = export(checkpoint, out, repo_id=repo_id, license_id=license_id, report=report)
    if as_json:
        typer.echo(json.dumps(result, indent=1))
        return
    typer.echo(f"wrote {result['out']}: {', '.join(result['files'])}")
    if result["dropped"]:
        typer.echo(f"machine paths left out of config.json: {', '.join(result['dropped'])}")
    typer.echo(f"metrics: {result['report'] or 'none (no evaluation report found; see --report)'}")
    typer.echo(f"upload: hf upload {repo_id} {result['out']}   then: dancegen generate song.wav --checkpoint "
               f"hf://{repo_id} --genre Jazz")
