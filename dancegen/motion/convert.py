"""Conversions between the 319-D layout and the data sets' own motion arrays (FineDance's 315-D rows)."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import DancegenError
from .contacts import foot_contacts
from .kinematics import forward_kinematics
from .layout import CONTACTS, FINEDANCE_CHANNELS, NUM_CHANNELS
from .skeleton import Skeleton


def from_finedance(arr: np.ndarray | torch.Tensor, skeleton: object | None = None) -> torch.Tensor:
    """FineDance (T, 315) = root 3 + 52 × rot6d → 319-D with foot contacts computed by forward kinematics.

    ``skeleton`` defaults to :meth:`Skeleton.default`. Returns float32 on the input's device (CPU for numpy).
    """
    x = torch.as_tensor(np.asarray(arr) if not isinstance(arr, torch.Tensor) else arr, dtype=torch.float32)
    if x.shape[-1] != FINEDANCE_CHANNELS:
        raise DancegenError(f"FineDance motion must have {FINEDANCE_CHANNELS} channels, got shape {tuple(x.shape)}")
    skel = skeleton if isinstance(skeleton, Skeleton) else Skeleton.default()
    motion = torch.cat((torch.zeros(*x.shape[:-1], 4, dtype=x.dtype, device=x.device), x), dim=-1)
    with torch.no_grad():
        joints = forward_kinematics(motion, skel.to(x.device))
    motion[..., CONTACTS] = foot_contacts(joints)
    return motion


def to_finedance(motion: np.ndarray | torch.Tensor) -> torch.Tensor:
    """319-D → FineDance (T, 315) (drops the contacts)."""
    m = torch.as_tensor(np.asarray(motion) if not isinstance(motion, torch.Tensor) else motion)
    if m.shape[-1] != NUM_CHANNELS:
        raise DancegenError(f"motion must have {NUM_CHANNELS} channels, got shape {tuple(m.shape)}")
    return m[..., 4:]
