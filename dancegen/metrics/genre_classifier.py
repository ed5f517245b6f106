"""Motion genre classifier and the genre-control accuracy metric.

A small MLP on a per-clip motion descriptor — the body's kinetic features (log-scaled, root-relative as in the
protocol) and its 32 geometric features — predicts the dance genre of a clip. Genre-control accuracy is the
share of generated clips classified as the genre they were asked for; it is only meaningful next to the
classifier's held-out accuracy on real motion, so both are reported together.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_atomic, write_json_atomic
from ..errors import DataError
from .joints import BODY_JOINTS, as_clip, root_relative
from .kinetic import kinetic_features
from .manual import manual_features

WEIGHTS_FILE = "genre_classifier.safetensors"
CONFIG_FILE = "genre_classifier.json"


def motion_descriptor(joints: np.ndarray) -> np.ndarray:
    """Per-clip descriptor ``(98,)``: log1p of the 66 body kinetic features, then the 32 geometric features.

    ``joints`` is ``(T, J ≥ 22, 3)`` with the body in SMPL order (SMPL-X 55 works: joints 0–21 are used).
    """
    clip = as_clip(joints, min_frames=3, min_joints=22)
    body = clip[:, list(BODY_JOINTS)]
    kinetic = np.log1p(np.maximum(kinetic_features(root_relative(body)), 0.0))
    return np.concatenate([kinetic, manual_features(body)]).astype(np.float32)


def _stratified_split(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    held_out: list[int] = []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        held_out.extend(idx[: round(fraction * len(idx))])
    mask = np.zeros(len(labels), dtype=bool)
    mask[held_out] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


class GenreClassifier:
    """MLP genre classifier on :func:`motion_descriptor` features (one hidden layer, ReLU, softmax; numpy)."""

    def __init__(self, hidden: int = 128, epochs: int = 300, lr: float = 1e-2, weight_decay: float = 1e-3) -> None:
        self.hidden, self.epochs, self.lr, self.weight_decay = hidden, epochs, lr, weight_decay
        self.classes: list[Any] = []
        self.held_out_accuracy: float | None = None
        self._params: dict[str, np.ndarray] = {}

    # -- features and network ------------------------------------------------------------------------------------
    def _features(self, joints_list: Sequence[np.ndarray]) -> np.ndarray:
        if len(joints_list) == 0:
            raise DataError("got no clips")
        return np.stack([motion_descriptor(clip) for clip in joints_list])

    def _logits(self, x: np.ndarray) -> np.ndarray:
        p = self._params
        z = (x - p["mean"]) / p["std"]
        h = np.maximum(z @ p["w1"] + p["b1"], 0.0)
        return h @ p["w2"] + p["b2"]

    def _train(self, x: np.ndarray, y: np.ndarray, seed: int) -> None:
        """Full-batch AdamW on softmax cross-entropy (descriptor sets are small: one row per clip)."""
        rng = np.random.default_rng(seed)
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = (x - mean) / std
        n_in, n_out = x.shape[1], len(self.classes)
        params = {
            "w1": rng.normal(0, (2.0 / n_in) ** 0.5, (n_in, self.hidden)),
            "b1": np.zeros(self.hidden),
            "w2": rng.normal(0, (1.0 / self.hidden) ** 0.5, (self.hidden, n_out)),
            "b2": np.zeros(n_out),
        }
        m = {k: np.zeros_like(a) for k, a in params.items()}  # Adam first moments
        v = {k: np.zeros_like(a) for k, a in params.items()}  # Adam second moments
        onehot = np.eye(n_out)[y]
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for step in range(1, self.epochs + 1):
            pre = z @ params["w1"] + params["b1"]
            hidden = np.maximum(pre, 0.0)
            logits = hidden @ params["w2"] + params["b2"]
            prob = np.exp(logits - logits.max(axis=1, keepdims=True))
            prob /= prob.sum(axis=1, keepdims=True)
            d_logits = (prob - onehot) / len(y)
            d_hidden = (d_logits @ params["w2"].T) * (pre > 0)
            grads = {
                "w2": hidden.T @ d_logits,
                "b2": d_logits.sum(axis=0),
                "w1": z.T @ d_hidden,
                "b1": d_hidden.sum(axis=0),
            }
            for k, g in grads.items():
                m[k] = beta1 * m[k] + (1 - beta1) * g
                v[k] = beta2 * v[k] + (1 - beta2) * g**2
                params[k] *= 1 - self.lr * self.weight_decay
                m_hat, v_hat = m[k] / (1 - beta1**step), v[k] / (1 - beta2**step)
                params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + eps)
        self._params = {"mean": mean, "std": std, **params}
        self._params = {k: np.ascontiguousarray(a, dtype=np.float32) for k, a in self._params.items()}

    # -- public API ------------------------------------------------------------------------------------------------
    def fit(
        self, joints_list: Sequence[np.ndarray], labels: Sequence[Any], held_out: float = 0.2, seed: int = 0
    ) -> GenreClassifier:
        """Train on real clips and their genre labels, keeping a stratified ``held_out`` share for evaluation.

        Sets :attr:`held_out_accuracy` (``None`` when ``held_out`` is 0). Labels may be genre names or indices.
        """
        labels = [label.item() if isinstance(label, np.generic) else label for label in labels]
        if len(labels) != len(joints_list):
            raise DataError(f"got {len(joints_list)} clips but {len(labels)} labels")
        if not 0 <= held_out < 1:
            raise DataError(f"held_out must be in [0, 1), got {held_out}")
        self.classes = sorted(set(labels), key=lambda c: (isinstance(c, str), c))
        if len(self.classes) < 2:
            raise DataError("need clips of at least 2 genres to train a genre classifier")
        lookup = {c: i for i, c in enumerate(self.classes)}
        y = np.array([lookup[label] for label in labels])
        x = self._features(joints_list)
        train, test = _stratified_split(y, held_out, np.random.default_rng(seed))
        self._train(x[train], y[train], seed)
        self.held_out_accuracy = float((self._logits(x[test]).argmax(1) == y[test]).mean()) if len(test) else None
        return self

    def predict_proba(self, joints_list: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities ``(N, n_classes)``, columns in :attr:`classes` order."""
        if not self._params:
            raise DataError("the genre classifier is not trained; call fit() or load() first")
        logits = self._logits(self._features(joints_list))
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, joints_list: Sequence[np.ndarray]) -> list[Any]:
        """Predicted genre label per clip."""
        return [self.classes[i] for i in self.predict_proba(joints_list).argmax(axis=1)]

    def save(self, directory: str | Path) -> None:
        """Write ``genre_classifier.safetensors`` (weights, feature statistics) and ``genre_classifier.json``."""
        from safetensors.numpy import save_file

        if not self._params:
            raise DataError("the genre classifier is not trained; nothing to save")
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        config = {
            "hidden": self.hidden,
            "epochs": self.epochs,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "classes": self.classes,
            "held_out_accuracy": self.held_out_accuracy,
        }
        write_atomic(out / WEIGHTS_FILE, lambda tmp: save_file(self._params, str(tmp)))
        write_json_atomic(out / CONFIG_FILE, config)

    @classmethod
    def load(cls, directory: str | Path) -> GenreClassifier:
        """Load a classifier written by :meth:`save`."""
        from safetensors.numpy import load_file

        src = Path(directory)
        if not (src / WEIGHTS_FILE).is_file() or not (src / CONFIG_FILE).is_file():
            raise DataError(f"no genre classifier in {src} (expected {WEIGHTS_FILE} and {CONFIG_FILE})")
        config = json.loads((src / CONFIG_FILE).read_text())
        model = cls(config["hidden"], config["epochs"], config["lr"], config["weight_decay"])
        model.classes = config["classes"]
        model.held_out_accuracy = config["held_out_accuracy"]
        model._params = load_file(str(src / WEIGHTS_FILE))
        return model


def genre_control_accuracy(
    classifier: GenreClassifier, generated: Sequence[np.ndarray], requested: Sequence[Any]
) -> dict[str, float | None]:
    """Share of generated clips classified as their requested genre, with the classifier's held-out accuracy.

    Returns ``{"genre_accuracy": …, "classifier_held_out_accuracy": …}``; report both together.
    """
    requested = list(requested)
    if len(requested) != len(generated):
        raise DataError(f"got {len(generated)} generated clips but {len(requested)} requested genres")
    unknown = sorted({str(g) for g in requested if g not in classifier.classes})
    if unknown:
        raise DataError(f"requested genres unknown to the classifier: {', '.join(unknown)}")
    predicted = classifier.predict(generated)
    accuracy = float(np.mean([p == r for p, r in zip(predicted, requested)]))
    return {"genre_accuracy": accuracy, "classifier_held_out_accuracy": classifier.held_out_accuracy}
