"""What ``--resume`` may reuse from a checkpoint's train settings (the paths inside a checkpoint are checked by
:mod:`dancegen.checkpoint.paths`, which owns them)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..checkpoint.paths import HEAD_FILE, checkpoint_controller_config, checkpoint_encoder_options


def checkpoint_train_settings(folder: str | Path, train: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint's train settings as ``--resume`` may reuse them: encoder options via
    :func:`checkpoint_encoder_options`, the controller's head (the copy in ``folder``) and text-encoder weights
    resolved inside ``folder``, and a skeleton file left out (the user passes ``--skeleton`` again)."""
    out = dict(train)
    out["encoder_options"] = checkpoint_encoder_options(folder, train.get("encoder_options") or {})
    controller = dict(train.get("controller_options") or {})
    if controller.get("head") is not None:
        controller["head"] = HEAD_FILE
    out["controller_options"] = checkpoint_controller_config(folder, controller)
    if out.get("skeleton", "default") != "default":
        del out["skeleton"]
    return out
