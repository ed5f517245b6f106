"""The one owner of a trained model's components (:mod:`dancegen.checkpoint`): saving then loading round-trips every
part, and the inference modules import nothing from ``dancegen.train``."""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import dancegen
from dancegen.checkpoint import (
    HEAD_FILE,
    Components,
    build_encoder,
    check_checkpoint,
    load_components,
    save_components,
)
from dancegen.constraints import Constraint
from dancegen.genre.controllers import SHIPPED_HEAD
from dancegen.genre.registry import build_genre_controller
from dancegen.model import GCDanceDenoiser, ModelConfig, MotionNormalizer
from dancegen.motion import Skeleton
from dancegen.pipeline import DancePipeline

SR = 15360
PACKAGE = Path(dancegen.__file__).resolve().parent


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def song(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    y = 0.05 * rng.standard_normal(round(seconds * SR))
    y[:: SR // 2] += 1.0
    return y.astype(np.float32)


@pytest.fixture(scope="module")
def parts() -> tuple[Components, GCDanceDenoiser]:
    """Small random components (none at its default: a non-default encoder option, normaliser mode and values,
    skeleton, a text controller built from a head file) and a different EMA denoiser."""
    torch.manual_seed(0)
    encoder = build_encoder("stft", {"n_fft": 256})
    controller = build_genre_controller("text", head=str(PACKAGE / "assets" / SHIPPED_HEAD))
    with torch.no_grad():
        for p in controller.parameters():  # "trained": not the head file's values any more
            p.add_(0.01 * torch.randn_like(p))
    denoiser = GCDanceDenoiser(ModelConfig.preset("tiny", music_dim=encoder.dim,
                                                  genre_dim=controller.embedding_dim))
    ema = copy.deepcopy(denoiser)
    with torch.no_grad():
        for p in ema.parameters():
            p.mul_(0.9)
    normalizer = MotionNormalizer.fit(torch.randn(4, 30, 319), "standard")
    skeleton = Skeleton(Skeleton.default().rest_joints * 1.1, "tall")
    return Components(denoiser, normalizer, encoder, controller, skeleton, music_spec="stft",
                      encoder_options={"n_fft": 256}, controller_name="text", trained_classifier=True), ema


def assert_same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        if isinstance(sa[k], torch.Tensor):
            assert torch.equal(sa[k], sb[k]), k
        else:  # extra state
            assert sa[k] == sb[k], k


@pytest.mark.parametrize("ema", [True, False])
def test_save_then_load_round_trips_every_part(parts: tuple[Components, GCDanceDenoiser], tmp_path: Path,
                                                ema: bool) -> None:
    c, ema_model = parts
    folder = save_components(tmp_path / "model", c, ema=ema_model)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["config.json", "model.safetensors", "ema.safetensors", "normalizer.safetensors", HEAD_FILE])
    assert check_checkpoint(folder, ema) == folder
    config = json.loads((folder / "config.json").read_text())
    assert config["genre_controller"]["config"]["head"] == HEAD_FILE  # the head travels inside, named relatively
    assert (folder / HEAD_FILE).read_bytes() == (PACKAGE / "assets" / SHIPPED_HEAD).read_bytes()

    back = load_components(folder, ema=ema)
    assert_same_state(back.denoiser, ema_model if ema else c.denoiser)
    assert back.denoiser.config == c.denoiser.config
    assert not back.denoiser.training
    assert not back.genre_controller.training
    assert_same_state(back.normalizer, c.normalizer)
    assert back.normalizer.mode == c.normalizer.mode == "standard"
    assert_same_state(back.genre_controller, c.genre_controller)
    assert back.genre_controller.head_path == str((folder / HEAD_FILE).resolve())
    assert back.music_encoder.config() == c.music_encoder.config()
    assert back.music_encoder.config_hash() == c.music_encoder.config_hash()
    assert torch.equal(back.skeleton.rest_joints, c.skeleton.rest_joints)
    assert back.skeleton.source == "tall"
    assert (back.music_spec, back.encoder_options, back.controller_name, back.trained_classifier) == (
        "stft", {"n_fft": 256}, "text", True)
    assert back.config == config
    assert back.checkpoint_id is not None
    assert back.checkpoint_id.startswith("model-")
    assert back.checkpoint_id.endswith("-raw") != ema

    # saved again from what was loaded: the same files' tensors
    again = load_components(save_components(tmp_path / "again", back), ema=ema)
    assert_same_state(again.denoiser, back.denoiser)
    assert_same_state(again.genre_controller, back.genre_controller)


def test_loaded_components_generate_the_same_dance(parts: tuple[Components, GCDanceDenoiser],
                                                   tmp_path: Path) -> None:
    c, ema_model = parts
    folder = save_components(tmp_path / "model", c, ema=ema_model)
    in_memory = DancePipeline.from_components(c)
    loaded = DancePipeline.from_checkpoint(folder, ema=False)
    assert in_memory.checkpoint_id is None
    assert loaded.checkpoint_id is not None
    a = in_memory(song(5.0), SR, text="smooth jazz", steps=2, seed=3, window_batch=2)
    b = loaded(song(5.0), SR, text="smooth jazz", steps=2, seed=3, window_batch=2)
    assert torch.equal(a.motion, b.motion)
    assert a.genre.to_dict() == b.genre.to_dict()
    ref, keep = torch.randn(60, 319) * 0.1, [Constraint.keep("body", slice(0, 30))]
    a = in_memory(song(5.0), SR, genre="Popping", steps=2, seed=3, reference=ref, constraints=keep)
    b = loaded(song(5.0), SR, genre="Popping", steps=2, seed=3, reference=ref, constraints=keep)
    assert torch.equal(a.motion, b.motion)
    ema_pipe = DancePipeline.from_checkpoint(folder)
    assert not torch.equal(ema_pipe(song(5.0), SR, genre="Jazz", steps=2).motion,
                           loaded(song(5.0), SR, genre="Jazz", steps=2).motion)


# --------------------------------------------------------------------------- inference does not import training
INFERENCE = ["pipeline.py", "window_sampler.py", "clip_batch.py", "constraints.py", "sampling.py", "diffusion.py",
             "longform.py", "checkpoint", "export", "evaluation"]


def imported_modules(source: str, package: str) -> Iterator[tuple[int, str]]:
    """Every module an ``import`` statement of ``source`` (a module of ``package``) names, function-local ones
    too, relative ones made absolute; ``from X import name`` also yields ``X.name`` (``name`` may be a module)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # ``from . import train``
                yield node.lineno, f"{module}.{alias.name}"


def package_of(path: Path) -> str:
    return ".".join(("dancegen", *path.relative_to(PACKAGE).parts[:-1]))


def test_inference_modules_import_nothing_from_training() -> None:
    files = [f for name in INFERENCE for f in ([PACKAGE / name] if name.endswith(".py")
                                                else sorted((PACKAGE / name).rglob("*.py")))]
    assert len(files) > len(INFERENCE)
    offending = [f"{f.relative_to(PACKAGE)}:{line} imports {module}" for f in files
                 for line, module in imported_modules(f.read_text(), package_of(f))
                 if module == "dancegen.train" or module.startswith("dancegen.train.")]
    assert not offending, "\n".join(offending)


def test_the_import_scan_sees_local_and_relative_imports() -> None:
    source = ("import os\n\ndef f():\n    from ..train.state import x\n    from .. import train\n"
              "    import dancegen.train.loop\n    from .report import fmt\n")
    found = [m for _, m in imported_modules(source, package_of(PACKAGE / "evaluation" / "runner.py"))]
    assert found == ["os", "dancegen.train.state", "dancegen.train.state.x", "dancegen", "dancegen.train",
                     "dancegen.train.loop", "dancegen.evaluation.report", "dancegen.evaluation.report.fmt"]
