"""Joint sets, layout conversion and input checks shared by the metric functions.

Joint arrays are ``(T, J, 3)`` positions in metres, y up, 30 FPS; a batch is ``(N, T, J, 3)`` or a list of clips
(clips may differ in length). Whole bodies come in SMPL-X 55-joint order: 0–21 body (SMPL order), 22 jaw,
23 left eye, 24 right eye, 25–39 left hand, 40–54 right hand (each hand: index1-3, middle1-3, pinky1-3, ring1-3,
thumb1-3).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import DataError

#: GCDance protocol body joints (SMPL-X 0–21: pelvis … right wrist).
BODY_JOINTS = range(22)
#: GCDance protocol hand joints (SMPL-X 25–54: left index1 … right thumb3).
HAND_JOINTS = range(25, 55)

#: Stand-ins for SMPL's ``L_Hand`` (22) / ``R_Hand`` (23), which SMPL-X does not have, per 55-joint SMPL-X hand joint.
SMPLX_HAND_PROXIES: dict[str, tuple[int, int]] = {
    "middle1": (28, 43),  # base of the middle finger: where SMPL's regressed hand joint sits (default)
    "index1": (25, 40),  # base of the index finger
    "wrist": (20, 21),  # the wrists themselves
}


def smplx55_to_smpl24(joints: np.ndarray, hand: str = "middle1") -> np.ndarray:
    """Select SMPL-24-ordered joints from SMPL-X 55-ordered ones: ``(..., 55, 3)`` → ``(..., 24, 3)``.

    Joints 0–21 are shared. SMPL's 22/23 (left/right hand) have no SMPL-X counterpart; ``hand`` picks the stand-in:
    ``"middle1"`` (default; SMPL's hand joint lies at the knuckles of the middle finger), ``"index1"`` or
    ``"wrist"``. Note that LODGE/FineDance code instead slices SMPL-X ``[:24]``, which makes 22/23 the jaw and
    left eye; for the 32 geometric features only the floor height (minimum y over all joints) can see 22/23.
    """
    arr = np.asarray(joints)
    if arr.ndim < 2 or arr.shape[-2:] != (55, 3):
        raise DataError(f"expected SMPL-X joints of shape (..., 55, 3), got {arr.shape}")
    if hand not in SMPLX_HAND_PROXIES:
        raise DataError(f"unknown hand stand-in {hand!r}; choose one of {sorted(SMPLX_HAND_PROXIES)}")
    left, right = SMPLX_HAND_PROXIES[hand]
    return arr[..., [*range(22), left, right], :]


def root_relative(joints: np.ndarray, ref_joint: int = 0) -> np.ndarray:
    """Subtract joint ``ref_joint`` at frame 0 from every joint of every frame (per clip for batches).

    This is the GCDance protocol step applied to the *selected* joint subset: for the body subset (SMPL-X 0–21)
    joint 0 is the pelvis, but for the hand subset (SMPL-X 25–54) joint 0 is the left index1 — a quirk of the
    published evaluation, reproduced by calling this on the subset with ``ref_joint=0``. It matters because the
    kinetic energy-expenditure term depends on absolute positions (see :func:`kinetic_features`).
    """
    arr = np.asarray(joints, dtype=np.float64)
    if arr.ndim not in (3, 4) or arr.shape[-1] != 3 or arr.shape[-3] < 1:
        raise DataError(f"expected joints of shape (T, J, 3) or (N, T, J, 3), got {arr.shape}")
    if not -arr.shape[-2] <= ref_joint < arr.shape[-2]:
        raise DataError(f"ref_joint {ref_joint} is out of range for {arr.shape[-2]} joints")
    return arr - arr[..., :1, ref_joint : ref_joint + 1, :]


def as_clip(joints: np.ndarray, *, min_frames: int = 2, min_joints: int = 1, what: str = "joints") -> np.ndarray:
    """Return one clip as a float64 ``(T, J, 3)`` array, or raise :class:`DataError` saying what is wrong."""
    arr = np.asarray(joints, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise DataError(f"{what} must have shape (T, J, 3) (frames, joints, xyz), got {arr.shape}")
    if arr.shape[0] < min_frames:
        raise DataError(f"{what} needs at least {min_frames} frames, got {arr.shape[0]}")
    if arr.shape[1] < min_joints:
        raise DataError(f"{what} needs at least {min_joints} joints, got {arr.shape[1]}")
    if not np.isfinite(arr).all():
        raise DataError(f"{what} contains NaN or infinite values")
    return arr


def as_clips(joints: np.ndarray | Sequence[np.ndarray], **kwargs: int | str) -> tuple[list[np.ndarray], bool]:
    """Split ``(T, J, 3)``, ``(N, T, J, 3)`` or a list of ``(T, J, 3)`` into checked clips.

    Returns the clips and whether the input was a batch (so callers return a set value rather than a clip value).
    """
    if isinstance(joints, np.ndarray) and joints.ndim == 3:
        return [as_clip(joints, **kwargs)], False  # type: ignore[arg-type]
    if isinstance(joints, np.ndarray) and joints.ndim != 4:
        raise DataError(f"joints must have shape (T, J, 3), (N, T, J, 3) or be a list of clips, got {joints.shape}")
    clips = [as_clip(clip, **kwargs) for clip in joints]  # type: ignore[arg-type]
    if not clips:
        raise DataError("got an empty batch of clips")
    return clips, True


def upsample_joints(joints: np.ndarray, factor: int = 2) -> np.ndarray:
    """Linearly interpolate ``(T, J, 3)`` joints ``factor``× in time: ``(factor·(T − 1) + 1, J, 3)``; frame
    ``factor·t`` is the input's frame ``t`` (e.g. 30-FPS joints scored at AIST++'s 60 FPS)."""
    arr = np.asarray(joints, dtype=np.float64)
    if factor == 1 or len(arr) < 2:
        return arr
    w = (np.arange(factor, dtype=np.float64) / factor)[None, :, None, None]
    mid = arr[:-1, None] * (1 - w) + arr[1:, None] * w  # (T−1, factor, J, 3)
    return np.concatenate((mid.reshape(-1, *arr.shape[1:]), arr[-1:]), axis=0)
