"""The on-disk layout of a checkpoint: one folder of safetensors parts and a JSON config, loadable without pickle.

Layout of a checkpoint folder (``<run>/checkpoints/step_NNNNNNN/`` for ``dancegen train``, or any folder that
:func:`~dancegen.checkpoint.components.save_components` writes)::

    config.json            format, step, the components' configs (model, music encoder, genre controller,
                           skeleton, normaliser mode); training adds code versions, train settings, the data-set
                           fingerprint, aggregator and tasks
    model.safetensors      the denoiser's state_dict, plus ``controller.*`` (the genre controller's trainable state)
    ema.safetensors        the EMA copy of the same
    normalizer.safetensors shift / scale of the motion normaliser
    genre_head.safetensors the text controller's head file, when it was trained from one (copied here)
    optimizer.{json,safetensors}   (training) AdamW state: structure in JSON, tensors in safetensors
    aggregator.{json,safetensors}  (training) the aggregator's state_dict, same split
    rng.{json,safetensors}         (training) torch generator states, numpy generator state, data position

``<run>/latest`` names the newest folder (written with ``os.replace``). A folder is assembled under a temporary
name (``checkpoints/.step_NNNNNNN.*``, removed by the next run on the folder when a kill left it) and renamed into
place, so a crash never leaves a half-written checkpoint behind a valid ``latest``; a run killed between the
rename and the ``latest`` write of its first checkpoint is resumed from its newest ``step_*`` folder. Files and
folders get the user's umask modes (0644 / 0755 by default).

A checkpoint may come from someone else, so reading one follows no path as given: ``latest`` may only name
``checkpoints/<name>`` (or ``<name>``) inside the run folder, every part file and every file the config names is
resolved inside the checkpoint folder (absolute paths, ``~``, ``..`` and symlinks leading out are refused with
:class:`~dancegen.errors.UnsafeFileError`), and files the user supplies (music-encoder weights, precomputed
features) are never taken from the config (:mod:`.paths`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import Tensor

from ..atomic import make_temp_dir, publish_modes, write_text_atomic
from ..errors import DancegenError, UnsafeFileError
from .paths import inside_folder

FORMAT = "dancegen-train-checkpoint/1"
CHECKPOINTS = "checkpoints"
LATEST = "latest"
CONFIG_FILE = "config.json"
_LATEST = re.compile(rf"^(?:{CHECKPOINTS}/)?[A-Za-z0-9_][A-Za-z0-9_.-]*$")
STEP_DIR = re.compile(r"^step_\d{7,}$")
#: Flat tensor parts: part name → tensor name → tensor.
FlatParts = Mapping[str, Mapping[str, Tensor]]


# -- nested state <-> (JSON structure, flat tensors) ------------------------------------------------------------

def split_tree(tree: Any, prefix: str = "", tensors: dict[str, Tensor] | None = None) -> tuple[Any, dict[str, Tensor]]:
    """Replace every tensor in a nested dict/list/tuple by ``{"__tensor__": key}``; dicts with non-string keys and
    tuples are tagged so :func:`join_tree` restores them exactly."""
    tensors = {} if tensors is None else tensors
    if isinstance(tree, Tensor):
        key = prefix or "value"
        tensors[key] = tree.detach().to("cpu").clone().contiguous()
        return {"__tensor__": key}, tensors
    if isinstance(tree, Mapping):
        if all(isinstance(k, str) for k in tree):
            return {k: split_tree(v, f"{prefix}.{k}" if prefix else k, tensors)[0] for k, v in tree.items()}, tensors
        items = [[k, split_tree(v, f"{prefix}.{k}" if prefix else str(k), tensors)[0]] for k, v in tree.items()]
        return {"__items__": items}, tensors
    if isinstance(tree, (list, tuple)):
        out = [split_tree(v, f"{prefix}.{i}" if prefix else str(i), tensors)[0] for i, v in enumerate(tree)]
        return ({"__tuple__": out} if isinstance(tree, tuple) else out), tensors
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree, tensors
    raise DancegenError(f"cannot store a {type(tree).__name__} in a checkpoint (at {prefix or 'top level'})")


def join_tree(tree: Any, tensors: Mapping[str, Tensor]) -> Any:
    """Inverse of :func:`split_tree`."""
    if isinstance(tree, dict):
        if set(tree) == {"__tensor__"}:
            return tensors[tree["__tensor__"]]
        if set(tree) == {"__items__"}:
            return {k: join_tree(v, tensors) for k, v in tree["__items__"]}
        if set(tree) == {"__tuple__"}:
            return tuple(join_tree(v, tensors) for v in tree["__tuple__"])
        return {k: join_tree(v, tensors) for k, v in tree.items()}
    if isinstance(tree, list):
        return [join_tree(v, tensors) for v in tree]
    return tree


# -- files ------------------------------------------------------------------------------------------------------

def save_tensors(path: Path, tensors: Mapping[str, Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` (moved to the CPU, contiguous) to the safetensors file ``path``."""
    from safetensors.torch import save_file

    save_file({k: v.detach().to("cpu").clone().contiguous() for k, v in tensors.items()}, str(path),
              metadata=metadata)


def load_tensors(folder: Path, name: str) -> dict[str, Tensor]:
    """The tensors of the part file ``name`` resolved inside ``folder`` (header checked first: one line when it is
    missing, truncated or corrupt)."""
    from safetensors.torch import load_file

    from ..tensor_files import tensor_shapes

    path = inside_folder(folder, name, "checkpoint part")
    tensor_shapes(path, "checkpoint file")  # missing, truncated or corrupt: one line, before reading the tensors
    return load_file(str(path))


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file in the same folder, then ``os.replace``)."""
    write_text_atomic(path, json.dumps(data, indent=1) + "\n")


def write_folder(dest: str | Path, step: int, config: Mapping[str, Any], flat: FlatParts,
                 trees: Mapping[str, Any] | None = None, files: Mapping[str, Path] | None = None) -> Path:
    """Assemble a checkpoint folder under a temporary name next to ``dest`` and rename it into place (an existing
    ``dest`` is replaced).

    ``config`` goes to ``config.json`` (with ``format`` and ``step``); ``flat`` parts (name → flat tensor dict)
    become ``name.safetensors``; ``trees`` parts (nested state) become ``name.json`` + ``name.safetensors``;
    ``files`` (name in the folder → source file) are copied in.
    """
    final = Path(dest)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(final.parent, prefix=f".{final.name}.")
    try:
        write_json(tmp / CONFIG_FILE, {"format": FORMAT, "step": step, **config})
        for part, tensors in flat.items():
            save_tensors(tmp / f"{part}.safetensors", tensors)
        for part, tree in (trees or {}).items():
            structure, tensors = split_tree(tree)
            save_tensors(tmp / f"{part}.safetensors", tensors)
            write_json(tmp / f"{part}.json", structure)
        for target, source in (files or {}).items():
            shutil.copyfile(source, tmp / target)
        publish_modes(tmp)  # safetensors creates its files 0600
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def save_checkpoint(run_dir: str | Path, step: int, config: Mapping[str, Any], flat: FlatParts,
                    trees: Mapping[str, Any], keep: int = 2, files: Mapping[str, Path] | None = None) -> Path:
    """Write ``step_NNNNNNN/`` under ``run_dir/checkpoints`` atomically (:func:`write_folder`) and point
    ``run_dir/latest`` at it. The ``keep`` newest checkpoints are kept, older ones deleted."""
    run = Path(run_dir)
    root = run / CHECKPOINTS
    name = f"step_{step:07d}"
    final = write_folder(root / name, step, config, flat, trees, files)
    write_text_atomic(run / LATEST, f"{CHECKPOINTS}/{name}\n")
    for old in sorted(p for p in root.glob("step_*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The folder ``run_dir/latest`` names (or ``run_dir`` itself when it is a checkpoint folder), else None.
    ``latest`` may only name ``checkpoints/<name>`` or ``<name>`` inside ``run_dir``; without ``latest`` (a run
    killed right after renaming its first checkpoint into place) the newest ``checkpoints/step_*`` folder."""
    run = Path(run_dir)
    if (run / CONFIG_FILE).is_file() and (run / "model.safetensors").is_file():
        return run
    pointer = run / LATEST
    if not pointer.is_file():
        root = run / CHECKPOINTS
        steps = sorted(p.name for p in root.iterdir() if STEP_DIR.match(p.name)) if root.is_dir() else []
        for name in reversed(steps):
            folder = inside_folder(run, f"{CHECKPOINTS}/{name}", "checkpoint folder")
            if (folder / CONFIG_FILE).is_file():
                return folder
        return None
    text = pointer.read_text().strip()
    if not _LATEST.match(text):
        raise UnsafeFileError(f"{pointer} names {text!r}; it may only name a checkpoint folder inside {run} "
                              f"({CHECKPOINTS}/<name> or <name>)")
    folder = inside_folder(run, text, "the 'latest' pointer's folder")
    if not (folder / CONFIG_FILE).is_file():
        raise DancegenError(f"{pointer} points at {folder}, which is not a checkpoint folder")
    return folder


def read_config(folder: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a checkpoint folder (format checked)."""
    path = inside_folder(folder, CONFIG_FILE, "checkpoint config")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DancegenError(f"cannot read checkpoint config {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise DancegenError(f"{path} is not a dancegen training checkpoint (format {found!r})")
    return data


def load_flat(folder: str | Path, part: str) -> dict[str, Tensor]:
    """A flat part (``model``, ``ema``, ``normalizer``) as a tensor dict."""
    return load_tensors(Path(folder), f"{part}.safetensors")


def load_tree(folder: str | Path, part: str) -> Any:
    """A nested part (``optimizer``, ``aggregator``, ``rng``) as written."""
    folder = Path(folder)
    try:
        structure = json.loads(inside_folder(folder, f"{part}.json", "checkpoint part").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DancegenError(f"cannot read checkpoint part {folder / part}.json: {exc}") from None
    return join_tree(structure, load_tensors(folder, f"{part}.safetensors"))


def dataset_fingerprint(root: str | Path) -> str:
    """sha256 over the relative path, size and mtime of every data file (motion, music, labels, splits)."""
    root = Path(root)
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):  # skip the feature cache
            continue
        st = path.stat()
        h.update(f"{rel.as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()
