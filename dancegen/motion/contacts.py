"""Foot contacts from joint positions, and left/right mirroring of 319-D motion."""

from __future__ import annotations

import torch

from .layout import CONTACTS, NUM_CHANNELS, ROOT, ROTATIONS
from .skeleton import JOINT_NAMES_52

#: Contact joints in channel order: left ankle, right ankle, left foot, right foot (same in SMPL-H and SMPL-X).
FOOT_JOINTS: tuple[int, ...] = (7, 8, 10, 11)
CONTACT_THRESHOLD = 0.01  # metres of displacement per frame


def foot_contacts(joints: torch.Tensor, threshold: float = CONTACT_THRESHOLD) -> torch.Tensor:
    """Joints (..., T, J ≥ 12, 3) → (..., T, 4) float contacts: 1 where the joint moves < ``threshold`` m to the
    next frame; the last frame is 0."""
    feet = joints[..., list(FOOT_JOINTS), :]
    step = torch.linalg.vector_norm(feet[..., 1:, :, :] - feet[..., :-1, :, :], dim=-1)
    contact = (step < threshold).to(joints.dtype)
    return torch.cat((contact, torch.zeros_like(contact[..., :1, :])), dim=-2)


def _mirror_permutation() -> list[int]:
    perm = []
    for name in JOINT_NAMES_52:
        if name.startswith("left_"):
            name = "right_" + name[5:]
        elif name.startswith("right_"):
            name = "left_" + name[6:]
        perm.append(JOINT_NAMES_52.index(name))
    return perm


_MIRROR_PERM = _mirror_permutation()
# R' = M R M with M = diag(−1, 1, 1): entry (i, j) flips sign when exactly one of i, j is the x axis.
_ROT6D_SIGN = torch.tensor([1.0, -1.0, -1.0, -1.0, 1.0, 1.0])


def mirror(motion: torch.Tensor) -> torch.Tensor:
    """Mirror 319-D motion (..., 319) across the sagittal plane (x → −x): left/right joints swapped, rotations
    reflected, root x negated, contacts swapped. ``mirror(mirror(m)) == m``."""
    if motion.shape[-1] != NUM_CHANNELS:
        raise ValueError(f"motion must have {NUM_CHANNELS} channels, got {motion.shape[-1]}")
    contacts = motion[..., CONTACTS][..., [1, 0, 3, 2]]
    root = motion[..., ROOT] * torch.tensor([-1.0, 1.0, 1.0], dtype=motion.dtype, device=motion.device)
    rot = motion[..., ROTATIONS].reshape(*motion.shape[:-1], 52, 6)[..., _MIRROR_PERM, :]
    rot = rot * _ROT6D_SIGN.to(dtype=motion.dtype, device=motion.device)
    return torch.cat((contacts, root, rot.reshape(*motion.shape[:-1], 312)), dim=-1)
