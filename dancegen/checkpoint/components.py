"""A trained model's components, saved to and loaded from one checkpoint folder (layout: :mod:`.files`).

The components are what generation needs: the denoiser (its EMA or raw weights), the motion normaliser, the music
encoder, the genre controller (with its trained head, and the head file it was built from), the skeleton, and the
``config.json`` that describes how to rebuild them. Training writes them with its own state next to them
(:func:`checkpoint_parts`); generation reads them back (:func:`load_components`)::

    parts = Components(denoiser, normalizer, encoder, controller, skeleton, music_spec="stft")
    save_components("my_model", parts)                 # config.json, model/ema/normalizer.safetensors
    again = load_components("my_model")                # the same weights, rebuilt encoder and controller

Nothing is unpickled, and nothing a checkpoint's config names is followed outside the checkpoint folder
(:mod:`.paths`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor

from ..errors import DancegenError
from ..features.encoder import MusicEncoder
from ..genre.controller import GenreController
from ..genre.genres import GenreSet, get_genre_set
from ..model import GCDanceDenoiser, ModelConfig, MotionNormalizer
from ..motion.skeleton import Skeleton
from .files import CONFIG_FILE, latest_checkpoint, load_flat, read_config, write_folder
from .paths import (
    HEAD_FILE,
    USER_LOCATIONS,
    checkpoint_controller_config,
    checkpoint_encoder_options,
    inside_folder,
)

#: Prefix of the genre controller's trainable state inside the ``model`` / ``ema`` parts.
CONTROLLER_PREFIX = "controller."
#: The weights parts a checkpoint always holds.
WEIGHT_PARTS = ("model", "ema", "normalizer")


@dataclass
class Components:
    """What generation needs from a trained model (see the module doc).

    ``music_spec`` (with ``encoder_options`` and ``allow_random_weights``) rebuilds the music encoder
    (:func:`build_encoder`); ``controller_name`` is the genre controller's registry name as the user gave it
    (default: the controller's own ``name``); ``trained_classifier`` says whether its classifier head was trained
    (task C). ``config`` is the ``config.json`` the components were loaded from (empty when built in memory) and
    ``checkpoint_id`` names that checkpoint (folder name, config digest, ``-raw`` for the raw weights).
    """

    denoiser: GCDanceDenoiser
    normalizer: MotionNormalizer
    music_encoder: MusicEncoder
    genre_controller: GenreController
    skeleton: Skeleton
    music_spec: str
    encoder_options: dict[str, Any] = field(default_factory=dict)
    allow_random_weights: bool = False
    controller_name: str = ""
    trained_classifier: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    checkpoint_id: str | None = None


class CheckpointParts(NamedTuple):
    """The components as a checkpoint stores them: ``config.json`` sections, flat tensor parts, copied files."""

    config: dict[str, Any]
    flat: dict[str, dict[str, Tensor]]
    files: dict[str, Path]


# -- building -------------------------------------------------------------------------------------------------

def build_encoder(spec: str, options: Mapping[str, Any] | None = None, allow_random_weights: bool = False
                  ) -> MusicEncoder:
    """The music encoder(s) ``spec`` names, built with ``options`` (``allow_random_weights`` for tests)."""
    from ..features import build_music_encoder

    opts = dict(options or {})
    if allow_random_weights:
        opts["allow_random_weights"] = True
    try:
        return build_music_encoder(spec, **opts)
    except TypeError as exc:
        raise DancegenError(f"music encoders {spec!r}: {exc}") from None


def build_normalizer(tensors: Mapping[str, Tensor], mode: str = "minmax") -> MotionNormalizer:
    """A motion normaliser holding ``tensors``' ``shift`` and ``scale`` (the ``normalizer`` part)."""
    norm = MotionNormalizer(tensors["shift"].shape[0], mode)
    norm.shift.copy_(tensors["shift"])
    norm.scale.copy_(tensors["scale"])
    return norm


def build_skeleton(config: Mapping[str, Any] | None) -> Skeleton:
    """The skeleton a config's ``skeleton`` section describes (its rest joints), else the default one."""
    skel = config or {}
    if "rest_joints" not in skel:
        return Skeleton.default()
    return Skeleton(torch.tensor(skel["rest_joints"]), str(skel.get("source", "checkpoint")))


def split_controller_state(weights: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """A ``model`` / ``ema`` part split into (the denoiser's state_dict, the genre controller's state_dict)."""
    n = len(CONTROLLER_PREFIX)
    model = {k: v for k, v in weights.items() if not k.startswith(CONTROLLER_PREFIX)}
    controller = {k[n:]: v for k, v in weights.items() if k.startswith(CONTROLLER_PREFIX)}
    return model, controller


def build_components(config: Mapping[str, Any], folder: str | Path) -> Components:
    """Components with fresh (untrained) weights from a checkpoint config; every file the config names is
    resolved inside ``folder`` (:mod:`.paths`) before anything is built. One :class:`DancegenError` line for an
    incomplete config, an :class:`~dancegen.errors.UnsafeFileError` line for a path leading out of ``folder``."""
    from ..genre.registry import build_genre_controller

    folder = Path(folder)
    try:  # files the config names: resolved inside the folder or refused, before anything is built
        enc_cfg = config["music_encoder"]
        options = enc_cfg.get("options", config.get("train", {}).get("encoder_options")) or {}
        safe_options = checkpoint_encoder_options(folder, options)
        ctrl = config["genre_controller"]
        ctrl_cfg = checkpoint_controller_config(folder, ctrl["config"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise DancegenError(f"checkpoint {folder} is incomplete or from another version: {exc!r}") from None
    try:
        denoiser = GCDanceDenoiser(ModelConfig.from_dict(config["model"]))
        normalizer = MotionNormalizer(mode=config.get("normalizer", {}).get("mode", "minmax"))
        random_weights = bool(enc_cfg.get("allow_random_weights"))
        encoder = build_encoder(enc_cfg["spec"], safe_options, random_weights)
        if encoder.config_hash() != enc_cfg.get("config_hash", encoder.config_hash()):
            raise DancegenError(f"the music encoder {enc_cfg['spec']!r} built here differs from the one the checkpoint "
                                "was trained with (other weights or options); install the same encoder weights")
        controller = build_genre_controller(ctrl_cfg)
        skeleton = build_skeleton(config.get("skeleton"))
    except (KeyError, RuntimeError, TypeError) as exc:
        raise DancegenError(f"checkpoint {folder} is incomplete or from another version: {exc}".splitlines()[0]
                            ) from None
    return Components(denoiser, normalizer, encoder, controller, skeleton, music_spec=str(enc_cfg["spec"]),
                      encoder_options={k: v for k, v in options.items() if k not in USER_LOCATIONS},
                      allow_random_weights=random_weights, controller_name=str(ctrl.get("name", "")),
                      trained_classifier=bool(ctrl.get("trained_classifier", False)), config=dict(config))


# -- saving ---------------------------------------------------------------------------------------------------

def checkpoint_parts(components: Components, ema: GCDanceDenoiser | None = None) -> CheckpointParts:
    """How a checkpoint stores ``components``: the ``config.json`` sections (``model``, ``music_encoder``,
    ``genre_controller``, ``skeleton``, ``normalizer``), the flat parts (``model`` and ``ema`` — the denoiser's
    and ``ema``'s weights, the raw ones when ``ema`` is None, each with ``controller.*`` — and ``normalizer``),
    and the genre controller's head file, copied in as :data:`~.paths.HEAD_FILE` and named so in the config."""
    c = components
    enc = c.music_encoder
    controller_state = {f"{CONTROLLER_PREFIX}{k}": v for k, v in c.genre_controller.state_dict().items()}
    ctrl_cfg, files = c.genre_controller.config(), {}
    if ctrl_cfg.get("head"):  # the head file travels inside the checkpoint, named relatively
        files[HEAD_FILE] = Path(ctrl_cfg["head"]).expanduser()
        ctrl_cfg = {**ctrl_cfg, "head": HEAD_FILE}
    config = {
        "model": c.denoiser.config.to_dict(),
        "music_encoder": {"spec": c.music_spec, "dim": enc.dim, "config": enc.config(),
                          "config_hash": enc.config_hash(), "allow_random_weights": c.allow_random_weights,
                          "options": {k: v for k, v in c.encoder_options.items() if k not in USER_LOCATIONS}},
        "genre_controller": {"name": c.controller_name or c.genre_controller.name,
                             "embedding_dim": c.genre_controller.embedding_dim, "config": ctrl_cfg,
                             "trained_classifier": c.trained_classifier},
        "skeleton": {"source": c.skeleton.source, "rest_joints": c.skeleton.rest_joints.cpu().tolist()},
        "normalizer": {"mode": c.normalizer.mode},
    }
    flat = {
        "model": {**c.denoiser.state_dict(), **controller_state},
        "ema": {**(c.denoiser if ema is None else ema).state_dict(), **controller_state},
        "normalizer": {"shift": c.normalizer.shift, "scale": c.normalizer.scale},
    }
    return CheckpointParts(config, flat, files)


def save_components(dest: str | Path, components: Components, ema: GCDanceDenoiser | None = None,
                    step: int = 0) -> Path:
    """Write ``components`` as a checkpoint folder ``dest`` (atomically; an existing folder is replaced) that
    :func:`load_components` and :meth:`DancePipeline.from_checkpoint <dancegen.pipeline.DancePipeline.from_checkpoint>`
    read. ``ema``: the EMA denoiser, saved as the ``ema`` part (default: the denoiser's own weights)."""
    parts = checkpoint_parts(components, ema)
    return write_folder(dest, step, parts.config, parts.flat, files=parts.files)


# -- loading --------------------------------------------------------------------------------------------------

def default_checkpoint_dir() -> Path:
    """The bundled default model's checkpoint folder (used when no checkpoint is given).

    The small demo model trained on the procedural data set (``dancegen/assets/default_model``, see
    ``docs/dancegen/demo.md``); raises :class:`~dancegen.errors.MissingWeightsError` if the install lacks it.
    """
    from ..errors import MissingWeightsError

    folder = Path(__file__).resolve().parent.parent / "assets" / "default_model"
    if not (folder / CONFIG_FILE).is_file():
        raise MissingWeightsError(f"the bundled dancegen model is missing from {folder}: reinstall dancegen, "
                                  "rebuild it with `dancegen demo --retrain --install`, or pass --checkpoint DIR")
    return folder


def check_checkpoint(path: str | Path | None, ema: bool = True) -> Path:
    """The checkpoint folder ``path`` names (None: the bundled model), checked without loading it: ``config.json``
    readable, the weights files readable (headers only: no tensor is read), and their tensor names and shapes those
    of the model the config builds. One :class:`DancegenError` line otherwise."""
    from ..tensor_files import state_mismatch, tensor_shapes

    path = default_checkpoint_dir() if path is None else Path(path).expanduser()
    if not path.exists():
        raise DancegenError(f"checkpoint {path} does not exist")
    folder = latest_checkpoint(path)
    if folder is None:
        raise DancegenError(f"{path} is neither a checkpoint folder (config.json + model.safetensors) nor a run "
                            "folder with a 'latest' pointer")
    cfg = read_config(folder)
    part = "ema" if ema else "model"
    shapes = {name: tensor_shapes(inside_folder(folder, f"{name}.safetensors", "checkpoint part"), "checkpoint file")
              for name in dict.fromkeys(("model", part, "normalizer"))}
    try:
        model_cfg = ModelConfig.from_dict(cfg["model"])
        music_dim, genre_dim = cfg["music_encoder"]["dim"], cfg["genre_controller"]["embedding_dim"]
    except (KeyError, TypeError, ValueError) as exc:
        raise DancegenError(f"checkpoint {folder}: config.json is incomplete or from another version ({exc!r})"
                            ) from None
    if (music_dim, genre_dim) != (model_cfg.music_dim, model_cfg.genre_dim):
        raise DancegenError(f"checkpoint {folder}: config.json's model takes {model_cfg.music_dim}-D music and "
                            f"{model_cfg.genre_dim}-D genre inputs but names a {music_dim}-D encoder and a "
                            f"{genre_dim}-D genre controller; the config was edited or belongs to another checkpoint")
    with torch.random.fork_rng(devices=[]):  # a throw-away CPU build (faster than on the meta device)
        expected = {k: tuple(v.shape) for k, v in GCDanceDenoiser(model_cfg).state_dict().items()}
    found = {k: v for k, v in shapes[part].items() if not k.startswith(CONTROLLER_PREFIX)}
    problem = state_mismatch(expected, found)
    norm = shapes["normalizer"]
    if problem is None and (set(norm) != {"shift", "scale"} or norm["shift"] != norm["scale"]
                            or len(norm["shift"]) != 1):
        part, problem = "normalizer", f"holds {', '.join(f'{k} {v}' for k, v in norm.items())}, not shift and scale"
    if problem:
        raise DancegenError(f"checkpoint {folder}: {part}.safetensors does not match config.json: {problem}; the "
                            "config was edited or belongs to another checkpoint")
    return folder


def checkpoint_genre_set(path: str | Path | None = None) -> GenreSet:
    """The genre set of the checkpoint ``path`` names (None: the bundled model), from its ``config.json`` alone:
    the genre controller's ``genres`` (a checkpoint from before genre sets has the FineDance genres). Lets a caller
    check a ``--genre`` against the model's genres before loading it."""
    path = default_checkpoint_dir() if path is None else Path(path).expanduser()
    folder = latest_checkpoint(path)
    if folder is None:
        raise DancegenError(f"{path} is neither a checkpoint folder (config.json + model.safetensors) nor a run "
                            "folder with a 'latest' pointer")
    ctrl = read_config(folder).get("genre_controller")
    config = ctrl.get("config") if isinstance(ctrl, Mapping) else None
    return get_genre_set(config.get("genres") if isinstance(config, Mapping) else None)


def load_components(path: str | Path | None = None, ema: bool = True) -> Components:
    """The components of the checkpoint ``path`` names — a checkpoint folder, or a run folder with a ``latest``
    pointer; None: the bundled model (:func:`default_checkpoint_dir`) — with the EMA weights (``ema=True``,
    default) or the raw ones, in eval mode on the CPU. Checked first (:func:`check_checkpoint`)."""
    folder = check_checkpoint(path, ema)
    cfg = read_config(folder)
    c = build_components(cfg, folder)
    try:
        model_state, ctrl_state = split_controller_state(load_flat(folder, "ema" if ema else "model"))
        c.denoiser.load_state_dict(model_state)
        c.normalizer = build_normalizer(load_flat(folder, "normalizer"), c.normalizer.mode)
        if ctrl_state:
            c.genre_controller.load_state_dict(ctrl_state)
    except (KeyError, RuntimeError, TypeError) as exc:
        raise DancegenError(f"checkpoint {folder} is incomplete or from another version: {exc}".splitlines()[0]
                            ) from None
    c.denoiser.eval()
    c.genre_controller.eval()
    digest = hashlib.sha256((folder / CONFIG_FILE).read_bytes()).hexdigest()[:12]
    c.checkpoint_id = f"{folder.name}-{digest}{'' if ema else '-raw'}"
    return c
