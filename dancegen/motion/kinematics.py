"""Forward kinematics: 319-D motion (or local rotation matrices + root) → 55 SMPL-X joint positions.

Global rotation G_i = G_parent(i) · R_i and position p_i = p_parent(i) + G_parent(i) · (J_i − J_parent(i)); the root
sits at J_0 + root position. The 52 SMPL-H joints are processed one tree level at a time (≈ 11 batched matmuls);
jaw and eyes follow the head with an identity local rotation. Differentiable and batched over any leading shape.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from .layout import NUM_CHANNELS, ROOT, ROTATIONS
from .rotations import rot6d_to_matrix
from .skeleton import PARENTS_52, SMPLH_TO_SMPLX, Skeleton


@lru_cache(maxsize=1)
def _levels() -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Per tree level (after the root): (joints, position of each joint's parent within the previous level)."""
    depth = [0] * 52
    for i in range(1, 52):
        depth[i] = depth[PARENTS_52[i]] + 1
    levels: list[tuple[int, ...]] = [tuple(i for i in range(52) if depth[i] == d) for d in range(max(depth) + 1)]
    out = []
    for d in range(1, len(levels)):
        prev = levels[d - 1]
        out.append((levels[d], tuple(prev.index(PARENTS_52[j]) for j in levels[d])))
    return tuple(out)


@lru_cache(maxsize=1)
def _inverse_order() -> tuple[int, ...]:
    """Permutation taking the level-concatenated order back to SMPL-H order."""
    order = [0] + [j for joints, _ in _levels() for j in joints]
    inverse = [0] * 52
    for position, joint in enumerate(order):
        inverse[joint] = position
    return tuple(inverse)


def forward_kinematics_matrices(rotmats: torch.Tensor, root: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """Local rotations (..., 52, 3, 3) in SMPL-H order and root positions (..., 3) → joints (..., 55, 3)."""
    if rotmats.shape[-3:] != (52, 3, 3):
        raise ValueError(f"rotmats must end with (52, 3, 3), got {tuple(rotmats.shape)}")
    rest = skeleton.rest_joints.to(device=rotmats.device, dtype=rotmats.dtype)
    rest52 = rest[list(SMPLH_TO_SMPLX)]
    offsets52 = rest52 - rest52[[max(p, 0) for p in PARENTS_52]]

    glob = [rotmats[..., 0:1, :, :]]
    pos = [(rest52[0] + root)[..., None, :]]
    for joints, parent_pos in _levels():
        idx = list(joints)
        parent_rot = glob[-1][..., list(parent_pos), :, :]
        parent_p = pos[-1][..., list(parent_pos), :]
        glob.append(parent_rot @ rotmats[..., idx, :, :])
        pos.append(parent_p + (parent_rot @ offsets52[idx][..., None]).squeeze(-1))
    inverse = list(_inverse_order())
    positions = torch.cat(pos, dim=-2)[..., inverse, :]
    head_rot = torch.cat(glob, dim=-3)[..., inverse[15], :, :]
    face_offsets = rest[22:25] - rest[15]  # jaw, left eye, right eye relative to the head
    face = positions[..., 15:16, :] + (head_rot[..., None, :, :] @ face_offsets[..., None]).squeeze(-1)
    return torch.cat((positions[..., :22, :], face, positions[..., 22:, :]), dim=-2)


def forward_kinematics(motion: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """319-D motion (..., T, 319) → joint positions (..., T, 55, 3) in SMPL-X order (metres, y up)."""
    if motion.shape[-1] != NUM_CHANNELS:
        raise ValueError(f"motion must have {NUM_CHANNELS} channels in its last dimension, got {motion.shape[-1]}")
    rotmats = rot6d_to_matrix(motion[..., ROTATIONS].reshape(*motion.shape[:-1], 52, 6))
    return forward_kinematics_matrices(rotmats, motion[..., ROOT], skeleton)
