"""Checkpoints: the one place that saves and loads a trained model's components.

- :mod:`.files` — the on-disk layout (``config.json`` + safetensors parts, run folders with a ``latest`` pointer);
- :mod:`.paths` — what a checkpoint's files may name (everything resolved inside the checkpoint folder);
- :mod:`.components` — the components (denoiser, normaliser, music encoder, genre controller, skeleton) built
  from a config, saved (:func:`save_components`, :func:`checkpoint_parts`) and loaded (:func:`load_components`).

Both training (:mod:`dancegen.train`) and generation (:mod:`dancegen.pipeline`) use this package; it imports
neither.
"""

from .components import (
    CheckpointParts,
    Components,
    build_components,
    build_encoder,
    build_normalizer,
    check_checkpoint,
    checkpoint_parts,
    default_checkpoint_dir,
    load_components,
    save_components,
    split_controller_state,
)
from .files import FORMAT, latest_checkpoint, load_flat, load_tree, read_config
from .paths import HEAD_FILE, inside_folder

__all__ = [
    "FORMAT",
    "HEAD_FILE",
    "CheckpointParts",
    "Components",
    "build_components",
    "build_encoder",
    "build_normalizer",
    "check_checkpoint",
    "checkpoint_parts",
    "default_checkpoint_dir",
    "inside_folder",
    "latest_checkpoint",
    "load_components",
    "load_flat",
    "load_tree",
    "read_config",
    "save_components",
    "split_controller_state",
]
