"""Forward kinematics: 319-D motion (or local rotation matrices + root) → 55 SMPL-X joint positions.

Global rotation G_i = G_parent(i) · R_i and position p_i = p_parent(i) + G_parent(i) · (J_i − J_parent(i)); the root
sits at J_0 + root position. The 52 SMPL-H joints are processed one tree level at a time (11 batched matmuls, no
gathers); jaw and eyes follow the head with an identity local rotation. Differentiable and batched over any leading
shape.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from .layout import NUM_CHANNELS, ROOT, ROTATIONS
from .rotations import rot6d_to_matrix
from .skeleton import PARENTS_52, SMPLH_TO_SMPLX, Skeleton

_BODY = 22  # SMPL-H body joints 0–21; 22–51 are 10 finger chains of 3 joints
_CHAINS = 10


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
def _plan() -> tuple[tuple[int, ...], tuple[tuple[tuple[int, int, int], ...], ...]]:
    """Level sizes and, per level, the parent gather as pieces ``(start, stop, repeat)`` of the previous level.

    The SMPL-H tree is level-ordered already for the 22 body joints, and its 30 finger joints (22 + 3·chain + k)
    fall into levels by k: so the level order is a reshape, never an index. Pieces are a contiguous slice
    (repeat 1) or one parent repeated. No advanced indexing anywhere keeps the backward free of scatter/fill
    kernels and batchable by ``is_grads_batched`` (per-task gradients in mtlkit).
    """
    order = [0] + [j for joints, _ in _levels() for j in joints]
    expected = list(range(_BODY)) + [_BODY + 3 * chain + k for k in range(3) for chain in range(_CHAINS)]
    if order != expected:  # the skeleton's topology is a constant: this guards against an edit to PARENTS_52
        raise AssertionError("PARENTS_52 is no longer level-ordered as forward_kinematics assumes")
    pieces = []
    for _, parents in _levels():
        level, i = [], 0
        while i < len(parents):
            j = i + 1
            if j < len(parents) and parents[j] == parents[i]:  # one parent, repeated
                while j < len(parents) and parents[j] == parents[i]:
                    j += 1
                level.append((parents[i], parents[i] + 1, j - i))
            else:  # consecutive parents: a slice
                while j < len(parents) and parents[j] == parents[j - 1] + 1:
                    j += 1
                level.append((parents[i], parents[j - 1] + 1, 1))
            i = j
        pieces.append(tuple(level))
    return tuple(len(j) for j, _ in _levels()), tuple(pieces)


def _gather(prev: torch.Tensor, pieces: tuple[tuple[int, int, int], ...], dim: int) -> torch.Tensor:
    """Rows of ``prev`` along ``dim`` (negative) by slices and expands (see :func:`_plan`)."""
    parts = []
    for start, stop, repeat in pieces:
        part = prev.narrow(dim, start, stop - start)
        if repeat > 1:
            shape = list(part.shape)
            shape[dim] = repeat
            part = part.expand(shape)
        parts.append(part)
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim)


def _to_level_order(x: torch.Tensor, tail: int) -> torch.Tensor:
    """(..., 52, *tail) in SMPL-H order → level order: body joints as they are, fingers grouped by depth."""
    body, hands = x.split((_BODY, 52 - _BODY), dim=-1 - tail)
    lead, rest = hands.shape[: hands.dim() - 1 - tail], hands.shape[hands.dim() - tail :]
    hands = hands.reshape(*lead, _CHAINS, 3, *rest).transpose(-2 - tail, -1 - tail).reshape(*lead, 52 - _BODY, *rest)
    return torch.cat((body, hands), dim=-1 - tail)


def forward_kinematics_matrices(rotmats: torch.Tensor, root: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """Local rotations (..., 52, 3, 3) in SMPL-H order and root positions (..., 3) → joints (..., 55, 3)."""
    if rotmats.shape[-3:] != (52, 3, 3):
        raise ValueError(f"rotmats must end with (52, 3, 3), got {tuple(rotmats.shape)}")
    return _fk_level_order(_to_level_order(rotmats, 2), root, skeleton)


def _fk_level_order(rot: torch.Tensor, root: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """FK on local rotations (..., 52, 3, 3) already in level order (:func:`_to_level_order`)."""
    rest = skeleton.rest_joints.to(device=rot.device, dtype=rot.dtype)
    rest52 = rest[list(SMPLH_TO_SMPLX)]
    offsets = _to_level_order(rest52 - rest52[[max(p, 0) for p in PARENTS_52]], 1)  # constants: indexing is free
    sizes, pieces = _plan()
    rots = rot.split((1, *sizes), dim=-3)
    offs = offsets.split((1, *sizes), dim=-2)
    glob = [rots[0]]
    pos = [(rest52[0] + root).unsqueeze(-2)]
    for level, parent_pieces in enumerate(pieces, start=1):
        parent_rot = _gather(glob[-1], parent_pieces, -3)
        parent_p = _gather(pos[-1], parent_pieces, -2)
        glob.append(parent_rot @ rots[level])
        pos.append(parent_p + (parent_rot @ offs[level].unsqueeze(-1)).squeeze(-1))
    n_body = 1 + sum(1 for s in sizes if s != _CHAINS)
    body = torch.cat(pos[:n_body], dim=-2)  # joints 0–21
    fingers = torch.stack(pos[n_body:], dim=-2).flatten(-3, -2)  # (..., chain, depth, 3) → SMPL-H order 22–51
    head_level = next(d for d, (joints, _) in enumerate(_levels(), start=1) if 15 in joints)
    head_rot = glob[head_level].narrow(-3, _levels()[head_level - 1][0].index(15), 1)
    face_offsets = rest[22:25] - rest[15]  # jaw, left eye, right eye relative to the head
    face = body.narrow(-2, 15, 1) + (head_rot @ face_offsets.unsqueeze(-1)).squeeze(-1)
    return torch.cat((body, face, fingers), dim=-2)


def forward_kinematics(motion: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """319-D motion (..., T, 319) → joint positions (..., T, 55, 3) in SMPL-X order (metres, y up)."""
    if motion.shape[-1] != NUM_CHANNELS:
        raise ValueError(f"motion must have {NUM_CHANNELS} channels in its last dimension, got {motion.shape[-1]}")
    d6 = _to_level_order(motion[..., ROTATIONS].reshape(*motion.shape[:-1], 52, 6), 1)
    return _fk_level_order(rot6d_to_matrix(d6), motion[..., ROOT], skeleton)


def joints_numpy(motion: torch.Tensor, skeleton: Skeleton, chunk: int = 2048) -> np.ndarray:
    """Joint positions (..., T, 55, 3) as float32 numpy for analysis, computed ``chunk`` frames at a time on the CPU
    without autograd, so a long song's FK never holds more than one chunk's intermediates (≈ 15 MB per 2k frames)."""
    m = motion.detach().to("cpu", torch.float32)
    skel = skeleton.to("cpu")
    out = np.empty((*m.shape[:-1], 55, 3), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, m.shape[-2], chunk):
            out[..., start:start + chunk, :, :] = forward_kinematics(m[..., start:start + chunk, :], skel).numpy()
    return out
