"""Batched clip generation equals generating each clip alone with the pipeline (same seeds, same noise)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from dancegen.clip_batch import ClipRequest, generate_clips
from dancegen.diffusion import DiffusionScheduler
from dancegen.errors import DancegenError
from dancegen.features import build_music_encoder
from dancegen.genre.controller import build_genre_controller
from dancegen.model import GCDanceDenoiser, ModelConfig, MotionNormalizer
from dancegen.pipeline import DancePipeline

SR = 15360


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pipe() -> DancePipeline:
    encoder = build_music_encoder("stft")
    controller = build_genre_controller("label", embedding="onehot")
    torch.manual_seed(0)
    model = GCDanceDenoiser(ModelConfig.preset("tiny", music_dim=encoder.dim, genre_dim=controller.embedding_dim))
    return DancePipeline(model, DiffusionScheduler(), MotionNormalizer(), encoder, controller)


def _audio(seconds: float, seed: int) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(round(seconds * SR))).astype(np.float32)


@pytest.mark.parametrize("eta", [1.0, 0.0])
def test_batched_clips_equal_one_by_one(pipe: DancePipeline, eta: float) -> None:
    reqs = [ClipRequest(_audio(4.0, 0), SR, seed=3, genre="Jazz"), ClipRequest(_audio(2.5, 1), SR, seed=7, genre="Dai"),
            ClipRequest(_audio(4.0, 2), SR, seed=3, genre="Popping"), ClipRequest(_audio(3.0, 3), SR, seed=11,
                                                                                  genre="Jazz")]
    alone = [pipe(r.audio, r.sr, genre=r.genre, steps=4, seed=r.seed, eta=eta).motion[0] for r in reqs]
    for batch_size in (1, 3, 4):
        got = generate_clips(pipe, reqs, steps=4, eta=eta, batch_size=batch_size)
        assert [g.shape for g in got] == [a.shape for a in alone] == [(120, 319), (75, 319), (120, 319), (90, 319)]
        for g, a in zip(got, alone):
            torch.testing.assert_close(g, a, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(alone[0], alone[2])  # same seed, other music and genre: another dance


def test_long_clip_is_refused(pipe: DancePipeline) -> None:
    with pytest.raises(DancegenError, match="at most 120 frames"):
        generate_clips(pipe, [ClipRequest(_audio(5.0, 0), SR, seed=0, genre="Jazz")], steps=2)
