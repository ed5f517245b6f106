"""Shared pieces of the exporters: input checks, forward kinematics to numpy, audio checks and atomic writes."""

from __future__ import annotations

import numpy as np
import torch

from ..atomic import atomic_path, write_atomic  # noqa: F401  (re-exported for the writers)
from ..errors import DancegenError
from ..motion.kinematics import forward_kinematics
from ..motion.layout import FPS, NUM_CHANNELS, ROTATIONS
from ..motion.rotations import rot6d_to_matrix
from ..motion.skeleton import Skeleton


def as_motion(motion: np.ndarray | torch.Tensor) -> np.ndarray:
    """Check a generated motion and return it as float32 ``(T, 319)`` numpy (a leading batch of 1 is dropped)."""
    arr = motion.detach().cpu().numpy() if isinstance(motion, torch.Tensor) else np.asarray(motion)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2 or arr.shape[1] != NUM_CHANNELS:
        raise DancegenError(f"motion must have shape (T, {NUM_CHANNELS}) (frames, channels), got {arr.shape}")
    if arr.shape[0] < 1:
        raise DancegenError("motion has no frames")
    if not np.isfinite(arr).all():
        raise DancegenError("motion contains NaN or infinite values")
    return arr.astype(np.float32, copy=False)


def as_skeleton(skeleton: Skeleton | None) -> Skeleton:
    """The given skeleton, or :meth:`Skeleton.default` when ``None``."""
    if skeleton is None:
        return Skeleton.default()
    if not isinstance(skeleton, Skeleton):
        raise DancegenError(f"skeleton must be a dancegen.motion.Skeleton, got {type(skeleton).__name__}")
    return skeleton


def joint_positions(motion: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(T, 319) motion → (T, 55, 3) float32 SMPL-X joint positions (metres, y up) by our forward kinematics."""
    with torch.no_grad():
        joints = forward_kinematics(torch.from_numpy(np.ascontiguousarray(motion)), skeleton)
    return joints.numpy().astype(np.float32)


def local_rotations(motion: np.ndarray) -> np.ndarray:
    """(T, 319) motion → (T, 52, 3, 3) float64 local rotation matrices (SMPL-H order, Gram–Schmidt of rot6d)."""
    d6 = torch.from_numpy(np.ascontiguousarray(motion[:, ROTATIONS], dtype=np.float64)).reshape(-1, 52, 6)
    return rot6d_to_matrix(d6).numpy()


def as_audio(audio: np.ndarray | torch.Tensor | None, sr: int | None) -> tuple[np.ndarray, int] | None:
    """Check audio and return it as float32 ``(samples, channels)`` in [-1, 1] with its rate, or ``None``."""
    if audio is None:
        return None
    arr = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    if sr is None or int(sr) <= 0:
        raise DancegenError(f"audio needs a positive sample rate, got sr={sr}")
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim == 2 and arr.shape[0] <= 2 < arr.shape[1]:
        arr = arr.T  # (channels, samples) → (samples, channels)
    if arr.ndim != 2 or arr.shape[1] not in (1, 2) or arr.shape[0] == 0:
        raise DancegenError(f"audio must be mono (samples,) or stereo (samples, 2), got shape {np.shape(audio)}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise DancegenError("audio contains NaN or infinite values")
    peak = float(np.abs(arr).max())
    if peak > 1.0:
        arr = arr / peak
    return arr, int(sr)


def fit_audio(audio: np.ndarray, sr: int, frames: int) -> np.ndarray:
    """Pad with silence or trim ``audio`` (samples, channels) to exactly the motion's duration."""
    n = round(frames * sr / FPS)
    if audio.shape[0] >= n:
        return audio[:n]
    return np.concatenate((audio, np.zeros((n - audio.shape[0], audio.shape[1]), dtype=audio.dtype)))


