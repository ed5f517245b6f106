"""``edge.pkl``: the pickle EDGE writes at test time, read by the upstream evaluation scripts (EDGE, FineDance, LODGE).

Keys: ``smpl_poses`` (T, 72) SMPL 24-joint axis-angle (joints 0–21 ours, the two SMPL hand joints 22/23 zero),
``smpl_trans`` (T, 3) and ``full_pose`` (T, 24, 3) joint positions in metres. EDGE's own skeleton puts the pelvis at
``smpl_trans`` (its root offset is zero), so ``smpl_trans`` here is the pelvis position ``J[0] + root`` rather than
the SMPL-X ``transl``. ``full_pose`` comes from our forward kinematics: SMPL-X joints 0–21 and, for SMPL's hand joints,
the stand-in chosen in :func:`dancegen.metrics.joints.smplx55_to_smpl24` (default: the middle-finger knuckles).

Axes: y up by default (FineDance, GCDance and our metrics). ``up="z"`` rotates everything +90° about x (y → z), the
frame EDGE uses for AIST++ and its PFC script.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from ..errors import DancegenError
from ..motion.rotations import matrix_to_axis_angle
from ..motion.skeleton import Skeleton
from ._common import as_motion, as_skeleton, joint_positions, local_rotations, write_atomic

#: Rotation taking y-up coordinates to z-up ones (+90° about x): (x, y, z) → (x, −z, y).
Y_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def edge_dict(
    motion: np.ndarray | torch.Tensor, skeleton: Skeleton | None = None, *, up: str = "y", hand: str = "middle1"
) -> dict[str, np.ndarray]:
    """The three EDGE arrays (float32) for a (T, 319) motion."""
    from ..metrics.joints import smplx55_to_smpl24  # the SMPL-24 selection shared with the metrics

    if up not in ("y", "z"):
        raise DancegenError(f"up must be 'y' or 'z', got {up!r}")
    m = as_motion(motion)
    joints = smplx55_to_smpl24(joint_positions(m, as_skeleton(skeleton)), hand=hand).astype(np.float64)
    rot = local_rotations(m)[:, :22]  # (T, 22, 3, 3)
    if up == "z":
        rot[:, 0] = Y_TO_Z_UP @ rot[:, 0]
        joints = joints @ Y_TO_Z_UP.T
    poses = np.zeros((m.shape[0], 24, 3), dtype=np.float32)
    poses[:, :22] = matrix_to_axis_angle(torch.from_numpy(rot)).numpy()
    return {
        "smpl_poses": poses.reshape(-1, 72),
        "smpl_trans": joints[:, 0].astype(np.float32),
        "full_pose": joints.astype(np.float32),
    }


def write_edge_pkl(
    path: str | Path,
    motion: np.ndarray | torch.Tensor,
    *,
    skeleton: Skeleton | None = None,
    up: str = "y",
    hand: str = "middle1",
) -> Path:
    """Write ``edge.pkl`` (see the module docstring) atomically and return its path."""
    data = edge_dict(motion, skeleton, up=up, hand=hand)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            pickle.dump(data, f, protocol=4)

    return write_atomic(path, write)
