"""Whole-song quality figures: window seams, height drift, floor consistency, foot skating and floor penetration.

These measure what a clip metric (FID, BAS on 4-s slices) cannot see in a dance made of stitched windows: a pop at
every window boundary, a dancer that slowly floats up or sinks, planted feet that slide. Joints are ``(T, J, 3)``
positions in metres at 30 FPS, y up, SMPL-H/SMPL-X order (body joints 0–21, foot joints 7, 8, 10, 11 in both).

* **seam ratio** — mean body-joint acceleration ‖p[t+1] − 2p[t] + p[t−1]‖·fps² in frames within ``radius`` frames of
  a window boundary (each window's start and the end of its overlap), divided by the mean over all other frames.
  1 means a seam is invisible in the acceleration; a pop gives ≫ 1.
* **height drift** — median pelvis height over the last 10 s minus over the first 10 s (a third of the song each
  when it is shorter than 30 s).
* **floor deviation** — the floor of each 4-s block is the 5th percentile of the lowest foot joint's height; the
  song's floor is the median of the block floors; the figure is the largest |block floor − song floor|.
* **contact skating** — mean horizontal speed (m/s) of the foot joints in the frames whose contact channel is
  > 0.5 (forward difference, the convention of the contact labels).
* **near-floor sliding** — the same speed over the frames where a foot joint is near the floor (ankles within
  10 cm, toes within 5 cm of the song's floor), whatever the contact channels say: skating that contact labels miss.
* **floor penetration** — how far the lowest foot joint goes below the song's floor: the largest depth and the mean
  depth over all frames (metres).
* **joint speed** — mean body-joint speed (m/s), the liveliness figure that clean-up must not reduce.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import DataError
from ..motion.layout import FPS
from .joints import BODY_JOINTS

BODY = list(BODY_JOINTS)
FEET = [7, 8, 10, 11]  # in the contact channels' order (left/right ankle, left/right foot); physical.py orders by side
PELVIS = 0
UP = 1


def _check(joints: np.ndarray, min_frames: int = 3) -> np.ndarray:
    pos = np.asarray(joints, dtype=np.float64)
    if pos.ndim != 3 or pos.shape[-1] != 3 or pos.shape[1] < 22:
        raise DataError(f"joints must be (frames, J >= 22, 3), got shape {pos.shape}")
    if pos.shape[0] < min_frames:
        raise DataError(f"need at least {min_frames} frames, got {pos.shape[0]}")
    return pos


def body_acceleration(joints: np.ndarray, fps: int = FPS) -> np.ndarray:
    """Mean acceleration magnitude (m/s²) of the body joints at frames 1 … T−2: shape (T − 2,)."""
    pos = _check(joints)[:, BODY]
    acc = (pos[2:] - 2 * pos[1:-1] + pos[:-2]) * fps * fps
    return np.linalg.norm(acc, axis=-1).mean(axis=1)


def seam_frames(boundaries: Iterable[int], frames: int, radius: int = 2) -> np.ndarray:
    """Boolean (frames,) mask of the frames within ``radius`` of any boundary frame."""
    mask = np.zeros(frames, dtype=bool)
    for b in boundaries:
        if 0 < b < frames:
            mask[max(0, b - radius): min(frames, b + radius + 1)] = True
    return mask


def window_boundaries(windows: Sequence[Any]) -> list[int]:
    """Boundary frames of a window plan (:func:`dancegen.longform.plan_windows`): every window's start and the end
    of its overlap with the previous window; the first window contributes none."""
    return sorted({f for w in windows if w.overlap for f in (int(w.start), int(w.start) + int(w.overlap))})


def seam_ratio(joints: np.ndarray, boundaries: Iterable[int], radius: int = 2, fps: int = FPS) -> float:
    """Mean body-joint acceleration near window boundaries ÷ mean elsewhere (see the module doc); NaN without
    boundaries inside the motion."""
    acc = body_acceleration(joints, fps)
    near = seam_frames(boundaries, acc.shape[0] + 2, radius)[1:-1]
    if not near.any() or near.all():
        return float("nan")
    rest = acc[~near].mean()
    return float(acc[near].mean() / rest) if rest > 0 else float("inf")


def _edge_frames(frames: int, fps: int, seconds: float) -> int:
    return max(1, min(round(seconds * fps), frames // 3))


def height_drift(joints: np.ndarray, fps: int = FPS, seconds: float = 10.0) -> float:
    """Median pelvis height over the last ``seconds`` minus over the first (a third of the song each if shorter)."""
    y = _check(joints)[:, PELVIS, UP]
    n = _edge_frames(y.shape[0], fps, seconds)
    return float(np.median(y[-n:]) - np.median(y[:n]))


def lowest_foot(joints: np.ndarray) -> np.ndarray:
    """Height of the lowest foot joint per frame (T,)."""
    return _check(joints, 1)[:, FEET, UP].min(axis=1)


def block_floors(joints: np.ndarray, fps: int = FPS, block_seconds: float = 4.0, percentile: float = 5.0
                 ) -> np.ndarray:
    """The floor of every ``block_seconds`` block: the ``percentile`` of the lowest foot joint's height. A last
    partial block shorter than half a block joins the previous one."""
    low = lowest_foot(joints)
    size = max(1, round(block_seconds * fps))
    starts = list(range(0, low.shape[0], size))
    if len(starts) > 1 and low.shape[0] - starts[-1] < size // 2:
        starts.pop()
    ends = [*starts[1:], low.shape[0]]
    return np.array([np.percentile(low[s:e], percentile) for s, e in zip(starts, ends)])


def song_floor(joints: np.ndarray, fps: int = FPS) -> float:
    """The song's floor: the median of the 4-s block floors."""
    return float(np.median(block_floors(joints, fps)))


def floor_deviation(joints: np.ndarray, fps: int = FPS) -> float:
    """Largest distance between a 4-s block's floor and the song's floor (metres)."""
    floors = block_floors(joints, fps)
    return float(np.abs(floors - np.median(floors)).max())


def contact_skating(joints: np.ndarray, contacts: np.ndarray, fps: int = FPS, threshold: float = 0.5) -> float:
    """Mean horizontal speed (m/s) of the foot joints over the frames whose contact channel (T, 4) exceeds
    ``threshold``; 0 when no frame is in contact. Frame t's speed is |p[t+1] − p[t]| in x, z times ``fps``."""
    pos = _check(joints, 2)[:, FEET][..., [0, 2]]
    c = np.asarray(contacts, dtype=np.float64)
    if c.shape != (pos.shape[0], 4):
        raise DataError(f"contacts must be (frames, 4) = {(pos.shape[0], 4)}, got {c.shape}")
    speed = np.linalg.norm(pos[1:] - pos[:-1], axis=-1) * fps  # (T−1, 4)
    planted = c[:-1] > threshold
    return float(speed[planted].mean()) if planted.any() else 0.0


def near_floor_sliding(joints: np.ndarray, fps: int = FPS, ankle: float = 0.10, toe: float = 0.05) -> float:
    """Mean horizontal speed (m/s) of the foot joints over the frames where the joint is within ``ankle`` (joints 7,
    8) or ``toe`` (10, 11) metres above the song's floor (:func:`song_floor`); 0 when none is."""
    pos = _check(joints, 2)[:, FEET]
    height = pos[:-1, :, UP] - song_floor(joints, fps)
    near = height <= np.array([ankle, ankle, toe, toe])
    speed = np.linalg.norm(pos[1:][..., [0, 2]] - pos[:-1][..., [0, 2]], axis=-1) * fps
    return float(speed[near].mean()) if near.any() else 0.0


def floor_penetration(joints: np.ndarray, floor: float | None = None, fps: int = FPS) -> tuple[float, float]:
    """(largest, mean) depth in metres of the lowest foot joint below ``floor`` (default: :func:`song_floor`)."""
    low = lowest_foot(joints)
    level = song_floor(joints, fps) if floor is None else float(floor)
    depth = np.maximum(level - low, 0.0)
    return float(depth.max()), float(depth.mean())


def joint_speed(joints: np.ndarray, fps: int = FPS) -> float:
    """Mean body-joint speed (m/s)."""
    pos = _check(joints, 2)[:, BODY]
    return float(np.linalg.norm(pos[1:] - pos[:-1], axis=-1).mean() * fps)


def longform_report(joints: np.ndarray, contacts: np.ndarray | None = None, boundaries: Iterable[int] = (),
                    fps: int = FPS) -> dict[str, Any]:
    """All the figures of the module doc for one dance, as a JSON-ready dict (NaN seam ratio → None)."""
    pos = _check(joints)
    pen_max, pen_mean = floor_penetration(pos, fps=fps)
    seams = seam_ratio(pos, list(boundaries), fps=fps)
    out: dict[str, Any] = {
        "seam_ratio": None if np.isnan(seams) else round(seams, 4),
        "height_drift_m": round(height_drift(pos, fps), 4),
        "floor_deviation_m": round(floor_deviation(pos, fps), 4),
        "penetration_max_m": round(pen_max, 4),
        "penetration_mean_m": round(pen_mean, 5),
        "joint_speed_mps": round(joint_speed(pos, fps), 4),
        "near_floor_sliding_mps": round(near_floor_sliding(pos, fps), 4),
    }
    if contacts is not None:
        c = np.asarray(contacts)
        out["contact_skating_mps"] = round(contact_skating(pos, c, fps), 4)
        out["contact_fraction"] = round(float((c > 0.5).mean()), 4)
    return out
