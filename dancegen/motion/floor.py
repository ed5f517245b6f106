"""The floor: where a dance's feet are, and placing generated motion on it without drift.

Convention: y is up and the ground is y = 0; the lowest joint of a standing body sits ``FLOOR_CLEARANCE`` above it
(a toe joint is above the sole). The procedural data set is written this way, and generated dances leave the
pipeline this way.

A long dance is made of 4-s windows, each generated relative to its own first frame; their small vertical errors
add up, so the dancer floats up or sinks over a song. :func:`place_on_floor` removes that drift: it tracks the
floor under the dancer (a rolling low percentile of the lowest joint's height, then smoothed) and moves the root
height so the tracked floor stays at the target. Jumps, squats and floor work are kept: a 4-s low percentile does
not follow a jump, and the correction changes slowly (seconds), never within a step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .kinematics import joints_numpy
from .layout import FPS, NUM_CHANNELS, ROOT
from .skeleton import Skeleton

FLOOR_CLEARANCE = 0.02  # metres between the ground (y = 0) and the lowest joint of a standing body
_UP = 1
_PASSES = 3


def floor_track(lowest: np.ndarray, fps: int = FPS, window_s: float = 4.0, percentile: float = 5.0,
                smooth_s: float = 1.0) -> np.ndarray:
    """The floor under a dancer per frame from the lowest joint's height (..., T): the ``percentile`` over a
    centred ``window_s`` window, then Gaussian-smoothed with σ = ``smooth_s``."""
    from scipy.ndimage import gaussian_filter1d, percentile_filter

    low = np.asarray(lowest, dtype=np.float64)
    size = max(1, min(round(window_s * fps) | 1, low.shape[-1] | 1))
    sizes = (1,) * (low.ndim - 1) + (size,)
    track = percentile_filter(low, percentile, size=sizes, mode="nearest")
    return gaussian_filter1d(track, smooth_s * fps, axis=-1, mode="nearest")


def _away_from(kept: np.ndarray, fps: int, ramp_s: float) -> np.ndarray:
    """0 at kept frames rising smoothly to 1 at ``ramp_s`` seconds from the nearest kept frame."""
    from scipy.ndimage import distance_transform_edt

    if not kept.any():
        return np.ones(kept.shape[0])
    u = np.clip(distance_transform_edt(~kept) / max(ramp_s * fps, 1.0), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def place_on_floor(motion: Tensor, skeleton: Skeleton, floor: float = FLOOR_CLEARANCE, kept: Tensor | None = None,
                   fps: int = FPS) -> tuple[Tensor, float]:
    """Motion (..., T, 319) with its root height moved so the tracked floor (:func:`floor_track` of the lowest of
    all joints) sits at ``floor`` in every frame, and the height it was placed on; only the root's y channel
    changes.

    ``kept`` (T,) bool marks frames whose root height must stay as it is (an edit keeps them from a reference):
    there the correction is zero, easing in over one second around them, and the target becomes the tracked
    floor of the kept frames (the returned height), so the generated part lands on the reference's floor.
    """
    if motion.shape[-1] != NUM_CHANNELS:
        raise ValueError(f"motion must have {NUM_CHANNELS} channels, got {motion.shape[-1]}")
    lowest = joints_numpy(motion, skeleton)[..., _UP].min(axis=-1).astype(np.float64)
    track = floor_track(lowest, fps)
    target = np.full((*track.shape[:-1], 1), float(floor))
    ease = np.ones(track.shape[-1])
    if kept is not None:
        k = np.asarray(kept.detach().cpu(), dtype=bool)
        if k.any():
            target = np.median(track[..., k], axis=-1, keepdims=True)
            ease = _away_from(k, fps, 1.0)
    shift = np.zeros_like(lowest)
    for _ in range(_PASSES):  # a low percentile lags behind a steady rise; later passes remove what is left
        shift += (floor_track(lowest - shift, fps) - target) * ease
    shift = torch.from_numpy(shift).to(motion)
    out = motion.clone()
    out[..., ROOT.start + _UP] -= shift
    return out, float(np.median(target))
