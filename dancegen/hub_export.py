"""``dancegen export-checkpoint``: a checkpoint folder made ready to upload to the Hugging Face Hub — the weights
and config (no machine path, no training state, no pickle), and a model card (``README.md`` with the Hub's YAML
front matter: the model, its training data, its evaluation metrics when a report is found, how to use it).

Downloading (``hf://ORG/NAME``) is :mod:`dancegen.hub`; this module also reads evaluation reports, so it sits in
the evaluation layer (``docs/architecture.md``).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from pathlib import Path
from typing import Any

from .errors import DancegenError
from .hub import HUB_SPEC, SCHEME, allowed_file, resolve_checkpoint

#: Training state a checkpoint folder holds beside the weights: not needed to generate, not exported.
TRAINING_STATE = ("optimizer", "aggregator", "rng")
#: Evaluation reports looked for beside a checkpoint (in it, and in its run folder) to fill the card's metrics.
REPORT_PATTERNS = ("evaluation*.json", "eval*.json", "report*.json")
TAGS = ["dancegen", "gcdance", "dance-generation", "music-to-dance", "motion-generation", "diffusion", "smpl-x",
        "safetensors"]


def _looks_absolute(text: str) -> bool:
    from pathlib import PurePosixPath, PureWindowsPath

    return text.startswith("~") or PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute()


def portable_config(config: Any, folder: Path) -> tuple[Any, list[str]]:
    """``config`` with no machine path left: an absolute (or ``~``) path inside ``folder`` becomes relative to it,
    any other becomes null (the training data, run and cache folders). Returns it and the dotted names of the
    fields emptied."""
    root = folder.resolve()
    dropped: list[str] = []

    def walk(value: object, where: str) -> object:
        if isinstance(value, dict):
            return {k: walk(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, str) and _looks_absolute(value):
            real = Path(value).expanduser().resolve()
            if real == root or root in real.parents:
                return real.relative_to(root).as_posix() or "."
            dropped.append(where)
            return None
        return value

    return walk(config, ""), dropped


def find_report(folder: Path) -> Path | None:
    """An evaluation report (``dancegen evaluate --out``) in the checkpoint folder or its run folder, else None."""
    import json

    places = [folder]
    if folder.parent.name == "checkpoints":
        places.append(folder.parent.parent)
    for place in places:
        for pattern in REPORT_PATTERNS:
            for path in sorted(place.glob(pattern)):
                try:
                    data = json.loads(path.read_text())
                except (OSError, ValueError):
                    continue
                if isinstance(data, dict) and {"protocol", "generated"} <= set(data):
                    return path
    return None


def _parameters(path: Path) -> int:
    """Parameter count of a safetensors file, from its header (no tensor is read)."""
    from safetensors import safe_open

    total = 0
    with safe_open(str(path), "pt") as f:
        for key in f.keys():  # noqa: SIM118 -- safe_open is not a mapping
            n = 1
            for d in f.get_slice(key).get_shape():
                n *= int(d)
            total += n
    return total


def _metrics_section(report: dict) -> list[str]:
    """The card's metrics table from an evaluation report; empty if the report has another layout."""
    from .evaluation.protocols import METRICS
    from .evaluation.report import ARROWS, fmt

    try:
        proto, gen, gt = report["protocol"], report["generated"], report["gt_row"]
        lines = [f"Protocol `{proto['name']}` ({gen['repeats']} repeat(s), {report['gt_set']['clips']} "
                 f"{'songs' if proto.get('whole_song') else 'clips'} of the {proto['gt_split']} split):", "",
                 "| metric | ground truth | generated |", "|---|---|---|"]
        for key in proto["metrics"]:
            name, better = METRICS[key]
            lines.append(f"| {name} {ARROWS[better]} | {fmt(gt['metrics'].get(key))} | "
                         f"{fmt(gen['metrics'][key]['mean'], gen['metrics'][key]['std'])} |")
    except (KeyError, TypeError, ValueError):
        return []
    return lines


def data_set_name(config: dict) -> str | None:
    """The training data set's folder name (the last part of ``data.dir`` / ``train.data``), without its path."""
    data_dir = (config.get("data") or {}).get("dir") or (config.get("train") or {}).get("data")
    if not data_dir:
        return None
    return Path(str(data_dir).replace("\\", "/")).name or None


def model_card(config: dict, folder: Path, repo_id: str, license_id: str, report: dict | None = None,
               data_name: str | None = None) -> str:
    """The ``README.md`` of an exported checkpoint: Hugging Face YAML front matter, then the model, its training
    data (``data_name``: default :func:`data_set_name`), its metrics (when ``report`` is given) and how to use it."""
    train = config.get("train") or {}
    model = config.get("model") or {}
    enc = config.get("music_encoder") or {}
    ctrl = config.get("genre_controller") or {}
    agg = config.get("aggregator") or {}
    data = config.get("data") or {}
    text_encoder = ((ctrl.get("config") or {}).get("text_encoder") or {}).get("name")
    weights = folder / "ema.safetensors"
    params = _parameters(weights if weights.is_file() else folder / "model.safetensors")
    data_name = data_name or data_set_name(config)
    front = ["---", "library_name: dancegen", f"license: {license_id}", "tags:", *[f"- {t}" for t in TAGS], "---"]
    lines = [*front, "", f"# {repo_id.split('/')[-1]}", "",
             "A [GCDance](https://github.com/gcdance/gcdance) (`dancegen`) checkpoint: a diffusion model that "
             "generates 52-joint full-body 3D dance (body and fingers, SMPL-H/SMPL-X) from music and a text prompt "
             "or genre label.", "",
             "## Model", "",
             "| | |", "|---|---|",
             f"| parameters | {params / 1e6:.2f} M ({params:,}) |",
             f"| denoiser | width {model.get('width')}, {model.get('layers')} layers, {model.get('heads')} heads, "
             f"feed-forward {model.get('ff')}, {model.get('seq_len')}-frame windows |",
             f"| preset | {train.get('preset', '–')} |",
             f"| music encoders | `{enc.get('spec', '–')}` ({enc.get('dim', '–')}-D) |",
             f"| genre controller | `{ctrl.get('name', '–')}`" + (f" (text encoder `{text_encoder}`)"
                                                                   if text_encoder else "") + " |",
             f"| loss aggregator | `{agg.get('name', train.get('aggregator', '–'))}` (mtlkit, backend "
             f"`{agg.get('backend', train.get('backend', '–'))}`) over tasks "
             f"{', '.join(config.get('tasks') or train.get('tasks') or [])} |",
             f"| training | {config.get('step', '–')} steps, batch {train.get('batch_size', '–')}, lr "
             f"{train.get('lr', '–')}, EMA {train.get('ema_decay', '–')} |",
             f"| code | dancegen {(config.get('code_version') or {}).get('dancegen', '–')} |", "",
             "## Training data", "",
             f"- name: {data_name or 'not recorded'}",
             f"- fingerprint (sha256 of the data set's file list): `{data.get('fingerprint') or 'not recorded'}`",
             f"- split `{data.get('split', train.get('split', '–'))}`, protocol "
             f"`{data.get('protocol', train.get('protocol', '–'))}`"]
    windows = data.get("windows") or {}
    if windows:
        lines.append(f"- {windows.get('sequences', '–')} sequences, {windows.get('kept', '–')} training windows")
    lines += ["", "## Metrics", ""]
    metrics = _metrics_section(report) if report else []
    lines += metrics or ["No evaluation report was exported with this checkpoint (run `dancegen evaluate "
                         "--checkpoint DIR --out DIR/evaluation.json`, then export again)."]
    lines += ["", "## How to use", "", "```bash", "pip install 'gcdance[hub]'",
              f"dancegen generate song.wav --checkpoint hf://{repo_id} --text \"fluid Dai folk\"",
              f"dancegen generate songs/ --checkpoint hf://{repo_id} --genre Jazz --out dances   # every song in a "
              "folder", "```", "", "```python", "from dancegen.pipeline import DancePipeline",
              "from dancegen.features.audio import load_audio", "",
              f"pipe = DancePipeline.from_pretrained(\"hf://{repo_id}\")",
              "audio, sr = load_audio(\"song.wav\")",
              "result = pipe(audio, sr, text=\"fluid Dai folk\")   # result.motion: (1, frames, 319)",
              "```", "",
              "Only `config.json`, `*.safetensors` and text files are downloaded (never a pickle).", ""]
    return "\n".join(lines)


def export_checkpoint(checkpoint: str | Path, out: str | Path, repo_id: str = "ORG/NAME", license_id: str = "other",
                      report: str | Path | None = None) -> dict:
    """Write ``out``: the checkpoint's weights (``*.safetensors``, no training state), its ``config.json`` without
    machine paths (:func:`portable_config`) and a model card ``README.md`` (:func:`model_card`), ready for
    ``hf upload ORG/NAME OUT``. ``out`` must be absent or empty; it is built beside and renamed into place.
    Returns ``{"out", "files", "dropped", "report"}``."""
    import json

    from .atomic import make_temp_dir, publish_modes
    from .checkpoint import check_checkpoint
    from .locking import output_lock
    from .path_checks import check_output_dir

    if "@" in repo_id or HUB_SPEC.match(f"{SCHEME}{repo_id}") is None:
        raise DancegenError(f"--repo-id {repo_id!r}: expected ORG/NAME, the Hub repository it will be uploaded to")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", license_id):
        raise DancegenError(f"--license {license_id!r}: expected a Hugging Face license id such as mit, apache-2.0, "
                            "cc-by-nc-4.0 or other")
    folder = check_checkpoint(resolve_checkpoint(checkpoint))
    out = check_output_dir(out)
    if out.exists() and any(out.iterdir()):
        raise DancegenError(f"{out} is not empty; export into a new or empty folder")
    report_path = Path(report).expanduser() if report is not None else find_report(folder)
    report_data = None
    if report_path is not None:
        try:
            report_data = json.loads(report_path.read_text())
        except (OSError, ValueError) as exc:
            raise DancegenError(f"cannot read the evaluation report {report_path}: {exc}".splitlines()[0]) from None
    config = json.loads((folder / "config.json").read_text())
    portable, dropped = portable_config(config, folder)
    root = folder.resolve()
    with output_lock(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = make_temp_dir(out.resolve().parent, prefix=f".{out.name}.export-")
        try:
            written = []
            for path in sorted(folder.rglob("*")):
                relative = path.relative_to(folder).as_posix()
                if (not path.is_file() or relative in ("config.json", "README.md") or not allowed_file(relative)
                        or relative.split(".")[0] in TRAINING_STATE
                        or ("/" not in relative and any(fnmatch.fnmatch(relative, p) for p in REPORT_PATTERNS))):
                    continue  # the card shows the report's numbers; the report itself names machine paths
                real = path.resolve()
                if root not in real.parents:
                    continue  # a link leading out of the checkpoint: never exported
                dest = tmp / relative
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.suffix == ".json":  # e.g. a tokenizer's config naming the folder it was saved from
                    try:
                        data = json.loads(real.read_text())
                    except (OSError, ValueError):
                        data = None
                    if isinstance(data, (dict, list)):
                        clean, emptied = portable_config(data, folder)
                        dropped += [f"{relative}:{name}" for name in emptied]
                        dest.write_text(json.dumps(clean, indent=1) + "\n")
                        written.append(relative)
                        continue
                shutil.copyfile(real, dest)
                written.append(relative)
            (tmp / "config.json").write_text(json.dumps(portable, indent=1) + "\n")
            card = model_card(portable, folder, repo_id, license_id, report_data, data_set_name(config))
            (tmp / "README.md").write_text(card)
            publish_modes(tmp)
            if out.exists():
                out.rmdir()
            os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"out": str(out), "files": ["README.md", "config.json", *written], "dropped": dropped,
            "report": None if report_path is None else str(report_path)}
