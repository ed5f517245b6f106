"""``motion.npz``: AMASS-style SMPL-X parameters (importable by the SMPL-X Blender add-on) plus the 319-D motion.

Keys read by the add-on's "Add Animation" operator: ``poses`` (T, 165) axis-angle of the 55 SMPL-X joints (jaw and
eyes zero), ``trans`` (T, 3), ``betas`` (10 zeros: the add-on sets one shape key per entry), ``gender``
(``"neutral"``) and ``mocap_framerate`` / ``mocap_frame_rate`` (30). Everything is stored as plain numeric or
unicode arrays, so ``np.load`` works without ``allow_pickle`` (the add-on loads that way).

Root convention: SMPL-X computes the pelvis as ``J[0] + trans`` (its global orientation rotates about ``J[0]``),
and so does our forward kinematics with the root position channels, so ``trans`` is the 319-D root position
unchanged. The pelvis lands exactly where ours does when the SMPL-X body's ``J[0]`` equals the rest skeleton's
``J[0]`` (``skeleton_source`` records which skeleton that was); with a different body shape the whole body shifts by
the difference of the two ``J[0]``.

Extra keys: ``motion_319`` (T, 319) float32, ``genre``, ``text``, ``checkpoint_id``, ``skeleton_source``, ``fps``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DancegenError
from ..motion.layout import CONTACTS, FPS, NUM_CHANNELS, ROOT, ROTATIONS
from ..motion.rotations import axis_angle_to_rot6d, matrix_to_axis_angle
from ..motion.skeleton import SMPLH_TO_SMPLX, Skeleton
from ._common import as_motion, as_skeleton, local_rotations, write_atomic

NUM_BETAS = 10
_META_KEYS = ("genre", "text", "checkpoint_id", "skeleton_source")


def smplx_poses(motion: np.ndarray) -> np.ndarray:
    """(T, 319) motion → (T, 165) float32 SMPL-X axis-angle poses (55 joints × 3; jaw and eyes zero)."""
    rot = torch.from_numpy(local_rotations(as_motion(motion)))
    aa = matrix_to_axis_angle(rot).numpy()  # (T, 52, 3), SMPL-H order
    poses = np.zeros((aa.shape[0], 55, 3), dtype=np.float32)
    poses[:, list(SMPLH_TO_SMPLX)] = aa
    return poses.reshape(-1, 165)


def write_npz(
    path: str | Path,
    motion: np.ndarray | torch.Tensor,
    *,
    skeleton: Skeleton | None = None,
    genre: str = "",
    text: str = "",
    checkpoint_id: str = "",
) -> Path:
    """Write ``motion.npz`` (see the module docstring) atomically and return its path."""
    m = as_motion(motion)
    skel = as_skeleton(skeleton)
    arrays: dict[str, np.ndarray] = {
        "poses": smplx_poses(m),
        "trans": m[:, ROOT].copy(),
        "betas": np.zeros(NUM_BETAS, dtype=np.float32),
        "gender": np.array("neutral"),
        "surface_model_type": np.array("smplx"),
        "mocap_framerate": np.array(float(FPS)),
        "mocap_frame_rate": np.array(float(FPS)),
        "mocap_time_length": np.array(m.shape[0] / FPS),
        "fps": np.array(FPS),
        "motion_319": m,
        "genre": np.array(str(genre)),
        "text": np.array(str(text)),
        "checkpoint_id": np.array(str(checkpoint_id)),
        "skeleton_source": np.array(skel.source),
    }

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    return write_atomic(path, write)


def load_npz(path: str | Path, skeleton: Skeleton | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a ``motion.npz`` → ``(motion_319 (T, 319) float32, meta)``.

    Files written by :func:`write_npz` round-trip exactly through ``motion_319``. Other AMASS-style files (``poses``
    with 165 SMPL-X or 156 SMPL-H values per frame, and ``trans``) are converted: rotations to rot6d, ``trans`` to
    the root position, foot contacts by forward kinematics on ``skeleton`` (default: the built-in one). No axis
    change is applied (AMASS's own files are z-up; ours are y-up).
    """
    path = Path(path)
    if not path.is_file():
        raise DancegenError(f"npz file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            content = {k: data[k] for k in data.files}
    except Exception as exc:
        raise DancegenError(f"could not read {path} as an npz archive: {exc}") from exc
    meta: dict[str, Any] = {k: str(content[k]) for k in _META_KEYS if k in content}
    if "gender" in content:
        meta["gender"] = str(content["gender"])
    rate = content.get("mocap_frame_rate", content.get("mocap_framerate"))
    meta["fps"] = float(rate) if rate is not None else float(FPS)
    if "motion_319" in content:
        motion = np.asarray(content["motion_319"], dtype=np.float32)
        if motion.ndim != 2 or motion.shape[1] != NUM_CHANNELS:
            raise DancegenError(f"{path}: motion_319 must have shape (T, {NUM_CHANNELS}), got {motion.shape}")
        return motion, meta
    if "poses" not in content or "trans" not in content:
        raise DancegenError(f"{path} has neither 'motion_319' nor AMASS 'poses' + 'trans' arrays")
    return _from_amass(np.asarray(content["poses"]), np.asarray(content["trans"]), skeleton, path), meta


def _from_amass(poses: np.ndarray, trans: np.ndarray, skeleton: Skeleton | None, path: Path) -> np.ndarray:
    from ..motion.contacts import foot_contacts
    from ._common import joint_positions

    if poses.ndim != 2 or poses.shape[1] not in (165, 156) or trans.shape != (poses.shape[0], 3):
        raise DancegenError(
            f"{path}: expected poses (T, 165) or (T, 156) and trans (T, 3), got {poses.shape} and {trans.shape}"
        )
    aa = poses.reshape(poses.shape[0], -1, 3).astype(np.float32)
    if aa.shape[1] == 55:
        aa = aa[:, list(SMPLH_TO_SMPLX)]
    motion = np.zeros((poses.shape[0], NUM_CHANNELS), dtype=np.float32)
    motion[:, ROOT] = trans
    motion[:, ROTATIONS] = axis_angle_to_rot6d(torch.from_numpy(aa)).numpy().reshape(poses.shape[0], -1)
    joints = joint_positions(motion, as_skeleton(skeleton))
    motion[:, CONTACTS] = foot_contacts(torch.from_numpy(joints)).numpy()
    return motion
