"""The bundled model's dance on a 60-s song holds together: smooth seams, no drift, feet on the floor and planted.

This is the check that generation *looks right*, not only that it runs: the whole-song figures of
:mod:`dancegen.metrics.longform` on the default settings must meet the project's targets
(docs/dancegen/generation.md), and the foot clean-up must not make the dance less lively.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from dancegen.demo import bas_of, synth_song
from dancegen.metrics.longform import window_boundaries
from dancegen.motion.floor import FLOOR_CLEARANCE
from dancegen.motion.footlock import lock_feet
from dancegen.pipeline import DancePipeline, GenerationResult

pytestmark = pytest.mark.xdist_group("bundled-model")


@pytest.fixture(scope="module")
def song() -> tuple[np.ndarray, int, np.ndarray]:
    audio, sr, beats, _ = synth_song("Popping", 60.0, seed=3)
    return audio, sr, beats


@pytest.fixture(scope="module")
def runs(song: tuple[np.ndarray, int, np.ndarray]) -> Iterator[tuple[DancePipeline, GenerationResult,
                                                                        GenerationResult]]:
    """(pipeline, the default dance, the same dance placed on the floor only): one music encoding for both."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    pipe = DancePipeline.from_checkpoint(None)
    audio, sr, _ = song
    cache: dict[int, np.ndarray] = {}
    encode = pipe.music_encoder.encode_keyed
    pipe.music_encoder.encode_keyed = lambda y, s, k: cache.setdefault(len(y), encode(y, s, k))  # type: ignore
    default = pipe(audio, sr, genre="Popping", seed=0)
    floor_only = pipe(audio, sr, genre="Popping", seed=0, cleanup="floor")
    torch.set_num_threads(threads)
    return pipe, default, floor_only


def test_default_dance_meets_the_targets(runs: tuple[DancePipeline, GenerationResult, GenerationResult]) -> None:
    _, default, _ = runs
    assert default.settings["longform"] == "blend"
    assert default.settings["cleanup"] == "feet"
    q = default.quality[0]
    assert q["seam_ratio"] <= 1.3
    assert abs(q["height_drift_m"]) <= 0.10
    assert q["floor_deviation_m"] <= 0.05
    assert q["contact_skating_mps"] <= 0.10
    assert q["penetration_max_m"] <= 0.01
    assert q["contact_fraction"] > 0.1  # feet do get planted


def test_cleanup_keeps_the_dance_lively(runs: tuple[DancePipeline, GenerationResult, GenerationResult],
                                        song: tuple[np.ndarray, int, np.ndarray]) -> None:
    pipe, default, floor_only = runs
    before, after = floor_only.quality[0], default.quality[0]
    assert after["joint_speed_mps"] == pytest.approx(before["joint_speed_mps"], rel=0.10)
    assert after["contact_skating_mps"] < before["contact_skating_mps"]
    beats = song[2]
    bas_before = bas_of(floor_only.motion[0].numpy(), beats, pipe.skeleton)
    bas_after = bas_of(default.motion[0].numpy(), beats, pipe.skeleton)
    assert bas_after == pytest.approx(bas_before, rel=0.10)
    # the pipeline's clean-up is lock_feet on the floor-placed dance, nothing else
    locked = lock_feet(floor_only.motion, pipe.skeleton, floor=FLOOR_CLEARANCE)
    torch.testing.assert_close(locked, default.motion, atol=1e-5, rtol=0)
    assert pipe.quality(default.motion[0], default.windows) == after
    assert window_boundaries(default.windows)[:2] == [60, 120]
