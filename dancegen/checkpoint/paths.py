"""What a checkpoint's files may name: every path resolved inside the checkpoint folder, no file the user supplies.

A checkpoint may come from someone else. :func:`inside_folder` refuses absolute paths, ``~``, ``..`` and symlinks
leading out of a folder with one :class:`~dancegen.errors.UnsafeFileError` line; the ``checkpoint_*`` helpers apply
it to the options a ``config.json`` holds before anything is built from them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from ..errors import UnsafeFileError

#: The text controller's head file, copied into the checkpoint at save and named so in its config.
HEAD_FILE = "genre_head.safetensors"
#: Music-encoder options that name the user's own files (weights, precomputed features): never taken from a
#: checkpoint's config; the user names them (option, environment variable or download cache).
USER_LOCATIONS = ("weights", "features_dir")
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(?:/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
log = logging.getLogger(__name__)


def inside_folder(folder: str | Path, name: str, what: str) -> Path:
    """The real path of ``folder / name``, refused (one-line :class:`UnsafeFileError`) unless ``name`` is a relative
    name that stays inside ``folder`` once symlinks are resolved."""
    folder, text = Path(folder), str(name)
    parts = PurePosixPath(text.replace("\\", "/")).parts
    if (not text.strip() or text.startswith("~") or PurePosixPath(text).is_absolute()
            or PureWindowsPath(text).is_absolute() or ".." in parts):
        raise UnsafeFileError(f"{folder}: {what} {text!r} is not a name inside the folder (absolute paths, ~ and .. "
                              "are refused)")
    root, real = folder.resolve(), (folder / text).resolve()
    if real != root and root not in real.parents:
        raise UnsafeFileError(f"{folder}: {what} {text!r} leads outside the folder (to {real}); refused")
    return real


def model_location(folder: str | Path, value: str, what: str) -> str:
    """A model a checkpoint's config names: the path inside ``folder`` when it is there, else a Hugging Face hub id
    (``org/name``) that is not also a local path; anything else is refused."""
    real = inside_folder(folder, value, what)
    if real.exists():
        return str(real)
    if _HUB_ID.match(value) and not Path(value).exists():
        return value
    raise UnsafeFileError(f"{folder}: {what} {value!r} is neither inside the checkpoint folder nor a Hugging Face hub "
                          "id; copy the model folder into the checkpoint folder and name it relatively in config.json")


def checkpoint_encoder_options(folder: str | Path, options: Mapping[str, Any]) -> dict[str, Any]:
    """Music-encoder options as a checkpoint's config gives them, made safe to build from: user-supplied locations
    (:data:`USER_LOCATIONS`) are dropped with a warning, ``model`` goes through :func:`model_location`."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key in USER_LOCATIONS:
            if value is not None:
                log.warning("checkpoint %s: ignoring its music-encoder option %s=%r (that file is yours to name: an "
                            "option, an environment variable or the cache)", folder, key, value)
            continue
        if key == "model" and isinstance(value, str):
            value = model_location(folder, value, f"music encoder option {key}")
        out[key] = value
    return out


def checkpoint_controller_config(folder: str | Path, config: Mapping[str, Any]) -> dict[str, Any]:
    """A genre-controller config from a checkpoint with its files resolved inside ``folder``: the ``head`` file
    and a text encoder's ``weights`` (:func:`model_location`)."""
    out = dict(config)
    if out.get("head") is not None:
        out["head"] = str(inside_folder(folder, out["head"], "genre head file"))
    encoder = out.get("text_encoder")
    if isinstance(encoder, Mapping) and isinstance(encoder.get("weights"), str):
        out["text_encoder"] = {**encoder, "weights": model_location(folder, encoder["weights"],
                                                                    "text encoder weights")}
    return out
