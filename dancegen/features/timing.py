"""Map features at another frame rate onto the 30-FPS motion grid (frame i covers [i/30, (i+1)/30))."""

from __future__ import annotations

import numpy as np

from ..motion.layout import FPS


def frame_centres(frames: int) -> np.ndarray:
    """Centre time (s) of each 30-FPS motion frame: (i + 0.5) / 30."""
    return (np.arange(frames, dtype=np.float64) + 0.5) / FPS


def interpolate_to_frames(values: np.ndarray, times: np.ndarray, frames: int) -> np.ndarray:
    """Linearly interpolate ``values`` (N, D), whose rows are centred at ``times`` (N,) seconds, at the centres
    of ``frames`` motion frames; times before the first / after the last row take that row (no extrapolation)."""
    values = np.asarray(values, dtype=np.float32)
    times = np.asarray(times, dtype=np.float64)
    if values.ndim != 2 or len(values) != len(times) or len(values) == 0:
        raise ValueError(f"interpolate_to_frames: got values {values.shape} and times {times.shape}")
    target = frame_centres(frames)
    if len(values) == 1:
        return np.repeat(values, frames, axis=0)
    hi = np.clip(np.searchsorted(times, target, side="right"), 1, len(times) - 1)
    lo = hi - 1
    w = np.clip((target - times[lo]) / (times[hi] - times[lo]), 0.0, 1.0).astype(np.float32)[:, None]
    return (1.0 - w) * values[lo] + w * values[hi]
