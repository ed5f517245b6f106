"""Kinetic features (AIST++ / Bailando, FID_k and Div_k): three energy terms per joint.

For each joint and each frame ``i = 1 … T−1`` the reference averages the per-frame displacements
``p[m] − p[m−1]`` over the window ``m ∈ [i−2, i+2]``, dropping the terms that fall outside the clip (the window
shrinks at the ends), and divides by ``count · frame_time`` to get an average velocity ``v̄_i``. Then, per joint:

* horizontal kinetic energy = ``Σ_i |v̄_i[x, z]|² / (T−1)`` (y is up; no ½, no mass);
* vertical kinetic energy = ``Σ_i v̄_i[y]² / (T−1)``;
* energy expenditure = ``Σ_i |ā_i| / (T−1)``, where ``ā_i`` averages ``(v₂ − v₁)/frame_time`` over the window
  ``m ∈ [i−2, i+2]`` with both ``m−1`` and ``m+1`` inside the clip, ``v₂ = (p[m+1] − p[m])/frame_time``.

Reference conventions kept so that numbers match published tables:

* ``frame_time`` is 1/60 s even though FineDance/AIST++-derived clips here are 30 FPS (option ``frame_time``).
* Operator-precedence quirk: the reference computes ``v₁ = p[m] − p[m−1] / frame_time`` (only the previous
  position is divided), so the expenditure term contains ``p[m−1]·(1/ft − 1)/ft`` — it depends on absolute
  positions, which is why the protocol's root-relative step (:func:`~dancegen.metrics.root_relative`) matters.
  ``expenditure_quirk=True`` (default) reproduces it; ``False`` gives the true finite-difference acceleration.
* The result is cast to float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .joints import as_clips

SLIDING_WINDOW = 2
REFERENCE_FRAME_TIME = 1.0 / 60.0


def _window_mean(terms: np.ndarray, lo_first: int, window: int, n_out: int) -> np.ndarray:
    """Mean of ``terms[m − lo_first]`` over ``m ∈ [i−window, i+window]`` ∩ valid, for ``i = 1 … n_out``.

    ``terms`` has shape ``(M, J, 3)`` and holds the term for ``m = lo_first … lo_first+M−1``; terms outside are
    skipped and the divisor counts only the terms kept (the reference's shrinking window).
    """
    m_count = terms.shape[0]
    total = np.zeros((n_out, *terms.shape[1:]))
    count = np.zeros(n_out)
    frames = np.arange(1, n_out + 1)
    for offset in range(-window, window + 1):
        idx = frames + offset - lo_first
        valid = (idx >= 0) & (idx < m_count)
        total[valid] += terms[idx[valid]]
        count += valid
    return total / count[:, None, None]


def _clip_features(pos: np.ndarray, frame_time: float, expenditure_quirk: bool) -> np.ndarray:
    n = pos.shape[0] - 1  # frames 1 … T−1
    step = pos[1:] - pos[:-1]  # step[m−1] = p[m] − p[m−1], m = 1 … T−1
    v_bar = _window_mean(step, lo_first=1, window=SLIDING_WINDOW, n_out=n) / frame_time
    horizontal = (v_bar[..., 0] ** 2 + v_bar[..., 2] ** 2).sum(axis=0) / n
    vertical = (v_bar[..., 1] ** 2).sum(axis=0) / n

    v2 = (pos[2:] - pos[1:-1]) / frame_time  # for m = 1 … T−2
    # The reference's precedence quirk divides only p[m−1] by the frame time.
    v1 = pos[1:-1] - pos[:-2] / frame_time if expenditure_quirk else (pos[1:-1] - pos[:-2]) / frame_time
    accel = (v2 - v1) / frame_time
    a_bar = _window_mean(accel, lo_first=1, window=SLIDING_WINDOW, n_out=n)
    expenditure = np.linalg.norm(a_bar, axis=-1).sum(axis=0) / n

    return np.stack([horizontal, vertical, expenditure], axis=-1).reshape(-1).astype(np.float32)


def kinetic_features(
    joints: np.ndarray | Sequence[np.ndarray],
    frame_time: float = REFERENCE_FRAME_TIME,
    expenditure_quirk: bool = True,
) -> np.ndarray:
    """Kinetic features: ``(T, J, 3)`` → ``(3J,)`` float32, ordered ``[h_0, v_0, e_0, h_1, …]``.

    Batches ``(N, T, J, 3)`` or a list of clips give ``(N, 3J)``. Clips need at least 3 frames (the reference
    produces NaN for 2). Pass positions as the protocol prepares them (joint subset, then
    :func:`~dancegen.metrics.root_relative`); see the module docstring for the conventions and quirks.
    """
    clips, batched = as_clips(joints, min_frames=3)
    feats = [_clip_features(clip, float(frame_time), expenditure_quirk) for clip in clips]
    return np.stack(feats) if batched else feats[0]
