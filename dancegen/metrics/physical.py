"""Physical plausibility: PFC (EDGE), PBC (POPDG, as used by GCDance) and the foot sliding ratio (LODGE).

Joints are ``(T, J, 3)`` positions in metres at 30 FPS with y up (``up_axis=1``). Foot joints are SMPL indices
7 L_ankle, 10 L_foot (toe), 8 R_ankle, 11 R_foot, shared by SMPL-24, SMPL-H 52 and SMPL-X 55 layouts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import DataError
from .joints import SMPLX_HAND_PROXIES, as_clips

DT = 1.0 / 30.0
SCALE = 10000.0
FOOT_JOINTS = (7, 10, 8, 11)  # L ankle, L toe, R ankle, R toe
COLLAR_NECK_JOINTS = (13, 14, 12)  # L collar, R collar, neck
HEAD_JOINT = 15
WRISTS = (20, 21)
# SMPL's L_Hand / R_Hand stand-ins per layout (joint count); see smplx55_to_smpl24.
_HANDS = {24: (22, 23), 52: (25, 40), 55: SMPLX_HAND_PROXIES["middle1"]}


def _check_up(up_axis: int) -> list[int]:
    if up_axis not in (0, 1, 2):
        raise DataError(f"up_axis must be 0, 1 or 2, got {up_axis}")
    return [d for d in range(3) if d != up_axis]


def _unit_max(values: np.ndarray) -> np.ndarray:
    """Divide by the maximum; an all-zero series stays zero instead of becoming NaN."""
    peak = values.max()
    return values / peak if peak > 0 else np.zeros_like(values)


def _root_term(pos: np.ndarray, up_axis: int) -> np.ndarray:
    root_v = (pos[1:, 0] - pos[:-1, 0]) / DT
    root_a = (root_v[1:] - root_v[:-1]) / DT  # (T−2, 3)
    root_a[:, up_axis] = np.maximum(root_a[:, up_axis], 0.0)
    return _unit_max(np.linalg.norm(root_a, axis=-1))


def _foot_term(pos: np.ndarray, flat: list[int]) -> np.ndarray:
    feet = pos[:, list(FOOT_JOINTS)][..., flat]
    speed = np.linalg.norm(feet[2:] - feet[1:-1], axis=-1)  # (T−2, 4), displacement per frame, no DT
    return np.minimum(speed[:, 0], speed[:, 1]) * np.minimum(speed[:, 2], speed[:, 3])


def _pfc_clip(pos: np.ndarray, up_axis: int) -> float:
    flat = _check_up(up_axis)
    return float((_foot_term(pos, flat) * _root_term(pos, up_axis)).mean())


def pfc(joints: np.ndarray | Sequence[np.ndarray], up_axis: int = 1) -> float:
    """Physical foot contact score (EDGE), ×10000; lower is better. One clip or the mean over a batch.

    Root acceleration from second differences (DT = 1/30 s), its up component clamped at ≥ 0, L2 norm divided by
    its maximum over the clip (an all-zero acceleration gives 0, not NaN); foot speed = horizontal displacement
    per frame (no DT) of joints 7, 10, 8, 11, min over (ankle, toe) per side; score = mean over frames of
    left × right × root term. ``up_axis=2`` reproduces the published EDGE/GCDance code run on y-up data (it
    clamps z and measures foot speed in the x–y plane).
    """
    clips, _ = as_clips(joints, min_frames=3, min_joints=12)
    return SCALE * float(np.mean([_pfc_clip(clip, up_axis) for clip in clips]))


def _pbc_clip(pos: np.ndarray, up_axis: int, gcdance_indices: bool) -> float:
    flat = _check_up(up_axis)
    n_joints = pos.shape[1]
    if gcdance_indices:
        hands = (22, 23)
    elif n_joints in _HANDS:
        hands = _HANDS[n_joints]
    else:
        raise DataError(f"PBC needs SMPL-24, SMPL-H 52 or SMPL-X 55 joints, got {n_joints} joints")
    accel = []
    for j in COLLAR_NECK_JOINTS:
        v = (pos[1:, j] - pos[:-1, j]) / DT
        accel.append(_unit_max(np.linalg.norm((v[1:] - v[:-1]) / DT, axis=-1)))
    body = pos[:, [WRISTS[0], hands[0], WRISTS[1], hands[1], HEAD_JOINT]]
    speed = np.linalg.norm(body[2:] - body[1:-1], axis=-1)  # 3-D displacement per frame
    left = np.minimum(speed[:, 0], speed[:, 1])
    right = np.minimum(speed[:, 2], speed[:, 3])
    head = speed[:, 4]
    upper = 0.01 * left * accel[0] + 0.01 * right * accel[1] + 0.1 * head * accel[2]
    return float((upper - _foot_term(pos, flat) * _root_term(pos, up_axis)).mean())


def pbc(joints: np.ndarray | Sequence[np.ndarray], up_axis: int = 1, gcdance_indices: bool = False) -> float:
    """Physical body contact score (POPDG; reported by GCDance), ×10000. One clip or the mean over a batch.

    Extends :func:`pfc` with upper-body terms, per frame (``T−2`` values):
    ``0.01·min(|Δwrist_L|, |Δhand_L|)·â_Lcollar + 0.01·min(|Δwrist_R|, |Δhand_R|)·â_Rcollar + 0.1·|Δhead|·â_neck
    − PFC term``, where ``Δ`` is the 3-D displacement per frame and ``â_j`` the acceleration norm of joint ``j``
    divided by its maximum over the clip (0 if the joint never accelerates). The published code indexes
    SMPL-24 joints (hands 22/23); for SMPL-X 55 input the hands are the middle-finger bases (28/43), for SMPL-H
    52 (25/40). ``gcdance_indices=True`` reproduces GCDance's evaluation, which applied indices 22/23 to SMPL-X
    joints (jaw and left eye); with ``up_axis=2`` as well it matches that code on y-up data.
    """
    clips, _ = as_clips(joints, min_frames=3, min_joints=24)
    return SCALE * float(np.mean([_pbc_clip(clip, up_axis, gcdance_indices) for clip in clips]))


ANKLE_HEIGHT = 0.08
TOE_HEIGHT = 0.05
SLIDE_THRESHOLD = 0.01


def _lodge_floor(pos: np.ndarray, up_axis: int) -> float:
    left, right = pos[0, 10, up_axis], pos[0, 11, up_axis]
    return float((left + right) / 2 if abs(left - right) < 0.02 else min(left, right))


def _fsr_clip(pos: np.ndarray, floor: float | None, up_axis: int, tangent: str) -> tuple[float, float]:
    flat = _check_up(up_axis)
    ground = _lodge_floor(pos, up_axis) if floor is None else float(floor)
    vel = np.zeros_like(pos[:, list(FOOT_JOINTS)])
    vel[:-1] = pos[1:, list(FOOT_JOINTS)] - pos[:-1, list(FOOT_JOINTS)]  # last frame: 0
    planar = vel[..., flat]
    if tangent == "lodge":
        speed = np.abs(planar.mean(axis=-1))
    elif tangent == "norm":
        speed = np.linalg.norm(planar, axis=-1)
    else:
        raise DataError(f"tangent must be 'lodge' or 'norm', got {tangent!r}")
    ratios = []
    for ankle, toe in ((0, 1), (2, 3)):
        height = pos[:, [FOOT_JOINTS[ankle], FOOT_JOINTS[toe]], up_axis] - ground
        contact = (height[:, 0] <= ANKLE_HEIGHT) & (height[:, 1] <= TOE_HEIGHT)
        sliding = contact & ((speed[:, ankle] > SLIDE_THRESHOLD) | (speed[:, toe] > SLIDE_THRESHOLD))
        ratios.append(float(sliding.sum() / contact.sum()) if contact.any() else 0.0)
    return ratios[0], ratios[1]


def foot_sliding_ratio(
    joints: np.ndarray | Sequence[np.ndarray],
    floor: float | None = None,
    tangent: str = "lodge",
    up_axis: int = 1,
) -> float:
    """Foot sliding ratio (LODGE): share of foot-contact frames in which the foot slides; lower is better.

    Per foot and frame ``t``: contact when ankle height ≤ 0.08 m and toe height ≤ 0.05 m above the floor;
    sliding when in contact and the ankle's or the toe's displacement ``p[t+1] − p[t]`` (0 on the last frame)
    exceeds 0.01 m. Ratio = sliding frames / contact frames (0 for a foot never in contact, where the reference
    gives NaN); the clip value is the mean of the two feet, a batch value the mean over clips.

    ``floor=None`` uses LODGE's ground: the first frame's toe height (mean of both toes if they differ by less
    than 2 cm, else the lower one); pass a number for a fixed floor. ``tangent="lodge"`` measures the planar
    displacement as LODGE does, ``|mean(dx, dz)|`` (not a norm); ``tangent="norm"`` uses ``√(dx² + dz²)``.
    """
    clips, _ = as_clips(joints, min_frames=2, min_joints=12)
    per_clip = [_fsr_clip(clip, floor, up_axis, tangent) for clip in clips]
    return float(np.mean([(left + right) / 2 for left, right in per_clip]))
