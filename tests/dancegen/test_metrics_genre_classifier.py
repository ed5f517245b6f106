"""Genre classifier and genre-control accuracy on synthetic, separable "genres" of motion."""

from __future__ import annotations

import numpy as np
import pytest

from dancegen.errors import DataError
from dancegen.metrics.genre_classifier import GenreClassifier, genre_control_accuracy, motion_descriptor

BASE = np.array(
    [
        [0, 0.90, 0], [0.06, 0.82, 0], [-0.06, 0.82, 0], [0, 1.00, 0], [0.06, 0.45, 0], [-0.06, 0.45, 0],
        [0, 1.12, 0], [0.06, 0.08, 0], [-0.06, 0.08, 0], [0, 1.25, 0], [0.06, 0.02, 0.12], [-0.06, 0.02, 0.12],
        [0, 1.50, 0], [0.07, 1.42, 0], [-0.07, 1.42, 0], [0, 1.62, 0], [0.18, 1.42, 0], [-0.18, 1.42, 0],
        [0.18, 1.15, 0], [-0.18, 1.15, 0], [0.18, 0.90, 0], [-0.18, 0.90, 0],
    ]
)  # fmt: skip


def synthetic_clip(genre: str, rng: np.random.Generator, n_frames: int = 60) -> np.ndarray:
    """Three movement styles: vertical bounce, sideways sway, arm waving (random tempo, amplitude, noise)."""
    t = np.arange(n_frames) / 30
    freq, amp = rng.uniform(1.5, 2.5), rng.uniform(0.8, 1.2)
    clip = np.repeat(BASE[None], n_frames, axis=0) + rng.normal(0, 0.003, (n_frames, 22, 3))
    wave = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    if genre == "bounce":
        clip[:, :, 1] += 0.08 * amp * wave[:, None]
    elif genre == "sway":
        clip[:, :, 0] += 0.15 * amp * wave[:, None]
    else:  # wave: both arms up and down
        clip[:, [18, 19, 20, 21], 1] += 0.4 * amp * (wave[:, None] + 1)
    return clip


def make_set(rng, per_genre=12):
    genres = ["bounce", "sway", "wave"]
    clips, labels = [], []
    for g in genres:
        for _ in range(per_genre):
            clips.append(synthetic_clip(g, rng))
            labels.append(g)
    return clips, labels


def test_descriptor_shape():
    assert motion_descriptor(synthetic_clip("sway", np.random.default_rng(0))).shape == (98,)
    with pytest.raises(DataError, match="22 joints"):
        motion_descriptor(np.zeros((10, 5, 3)))


def test_classifier_learns_separable_genres_and_round_trips(tmp_path):
    clips, labels = make_set(np.random.default_rng(0))
    model = GenreClassifier(epochs=200).fit(clips, labels, held_out=0.25, seed=0)
    assert model.classes == ["bounce", "sway", "wave"]
    assert model.held_out_accuracy == 1.0

    test_clips, test_labels = make_set(np.random.default_rng(1), per_genre=5)
    result = genre_control_accuracy(model, test_clips, test_labels)
    assert result == {"genre_accuracy": 1.0, "classifier_held_out_accuracy": 1.0}
    wrong = genre_control_accuracy(model, test_clips, ["wave"] * len(test_clips))
    assert wrong["genre_accuracy"] == pytest.approx(1 / 3)

    model.save(tmp_path / "clf")
    loaded = GenreClassifier.load(tmp_path / "clf")
    np.testing.assert_allclose(loaded.predict_proba(test_clips), model.predict_proba(test_clips), rtol=1e-6)
    assert loaded.held_out_accuracy == model.held_out_accuracy
    assert sorted(p.name for p in (tmp_path / "clf").iterdir()) == [
        "genre_classifier.json",
        "genre_classifier.safetensors",
    ]


def test_classifier_errors(tmp_path):
    clips, labels = make_set(np.random.default_rng(2), per_genre=2)
    with pytest.raises(DataError, match="not trained"):
        GenreClassifier().predict(clips)
    with pytest.raises(DataError, match="labels"):
        GenreClassifier().fit(clips, labels[:-1])
    with pytest.raises(DataError, match="at least 2 genres"):
        GenreClassifier().fit(clips[:2], ["a", "a"])
    with pytest.raises(DataError, match="no genre classifier"):
        GenreClassifier.load(tmp_path)
    model = GenreClassifier(epochs=5).fit(clips, labels, held_out=0)
    assert model.held_out_accuracy is None
    with pytest.raises(DataError, match="unknown"):
        genre_control_accuracy(model, clips[:1], ["Ballet"])
