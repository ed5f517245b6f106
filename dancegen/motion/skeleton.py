"""The SMPL-H (52) / SMPL-X (55) joint hierarchy and rest skeletons for forward kinematics.

SMPL-X order = SMPL-H order with ``jaw``, ``left_eye``, ``right_eye`` inserted after joint 21 (``right_wrist``).
Rest joints are in metres, y up, the body facing +z, its left side at +x (T-pose: arms along ±x).

Three rest skeletons are available: :meth:`Skeleton.default` (dancegen's own hand-written approximation, always
available), :meth:`Skeleton.from_smplx` (the exact joints of a user's SMPL-X model, through the optional ``smplx``
package) and :meth:`Skeleton.from_joints_file` (a user-supplied (55, 3) ``.npy``). SMPL-family files are
licensed: dancegen never ships or derives anything from them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DancegenError

_BODY = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
_FINGERS = ("index", "middle", "pinky", "ring", "thumb")
_HAND = tuple(f"{finger}{k}" for finger in _FINGERS for k in (1, 2, 3))

#: SMPL-H joint names (52): body 0–21, left hand 22–36, right hand 37–51.
JOINT_NAMES_52: tuple[str, ...] = _BODY + tuple(f"left_{n}" for n in _HAND) + tuple(f"right_{n}" for n in _HAND)
#: SMPL-X joint names (55): SMPL-H with jaw and eyes inserted after ``right_wrist``.
JOINT_NAMES_55: tuple[str, ...] = (*JOINT_NAMES_52[:22], "jaw", "left_eye", "right_eye", *JOINT_NAMES_52[22:])

#: SMPL-H parents (52 ints, -1 for the root).
PARENTS_52: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 22, 23, 20, 25, 26, 20, 28, 29,
    20, 31, 32, 20, 34, 35, 21, 37, 38, 21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50,
)
#: SMPLH_TO_SMPLX[i] = SMPL-X index of SMPL-H joint i.
SMPLH_TO_SMPLX: tuple[int, ...] = tuple(i if i < 22 else i + 3 for i in range(52))
#: SMPL-X parents (55 ints, -1 for the root); jaw and eyes hang from the head (15).
PARENTS_55: tuple[int, ...] = (
    *PARENTS_52[:22], 15, 15, 15, *(SMPLH_TO_SMPLX[p] for p in PARENTS_52[22:])
)

# dancegen's own rest skeleton, written by hand: bone offsets (metres) from the parent joint, SMPL-X order,
# adult of about 1.70 m (pelvis 0.93 m above the floor), y up, facing +z, T-pose, flat hands with the fingers
# along the arm axis and the thumbs offset forward. The model origin lies 0.35 m above the pelvis, like the
# SMPL family's, so that root translations from real data put the feet near the same height.
_PELVIS = (0.0, -0.35, 0.0)
_LEFT_BODY_OFFSETS = {  # right side = mirror (x → −x)
    "left_hip": (0.085, -0.085, -0.005), "left_knee": (0.01, -0.38, 0.0), "left_ankle": (0.0, -0.40, -0.03),
    "left_foot": (0.02, -0.05, 0.12), "left_collar": (0.07, 0.12, -0.01), "left_shoulder": (0.11, 0.03, -0.01),
    "left_elbow": (0.26, 0.0, 0.0), "left_wrist": (0.25, 0.0, 0.0), "left_eye": (0.03, 0.06, 0.09),
}
_CENTRE_OFFSETS = {
    "spine1": (0.0, 0.11, -0.02), "spine2": (0.0, 0.13, 0.01), "spine3": (0.0, 0.055, 0.0),
    "neck": (0.0, 0.21, -0.02), "head": (0.0, 0.08, 0.04), "jaw": (0.0, -0.02, 0.05),
}
# left hand: (first segment from the wrist, second, third); the palm faces down, the thumb side is +z.
_LEFT_FINGERS = {
    "index": ((0.09, 0.005, 0.025), (0.035, 0.0, 0.0), (0.025, 0.0, 0.0)),
    "middle": ((0.095, 0.005, 0.0), (0.04, 0.0, 0.0), (0.028, 0.0, 0.0)),
    "pinky": ((0.08, 0.0, -0.04), (0.028, 0.0, 0.0), (0.02, 0.0, 0.0)),
    "ring": ((0.09, 0.003, -0.02), (0.037, 0.0, 0.0), (0.026, 0.0, 0.0)),
    "thumb": ((0.025, -0.01, 0.03), (0.03, -0.003, 0.025), (0.025, 0.0, 0.02)),
}


def _default_offsets() -> dict[str, tuple[float, float, float]]:
    offsets = dict(_CENTRE_OFFSETS)
    for name, (x, y, z) in _LEFT_BODY_OFFSETS.items():
        offsets[name] = (x, y, z)
        offsets["right_" + name[len("left_"):]] = (-x, y, z)
    for finger, segments in _LEFT_FINGERS.items():
        for k, (x, y, z) in enumerate(segments, start=1):
            offsets[f"left_{finger}{k}"] = (x, y, z)
            offsets[f"right_{finger}{k}"] = (-x, y, z)
    return offsets


def _default_rest_joints() -> np.ndarray:
    offsets = _default_offsets()
    joints = np.zeros((55, 3), dtype=np.float64)
    joints[0] = _PELVIS
    for i in range(1, 55):  # parents precede children in SMPL-X order
        joints[i] = joints[PARENTS_55[i]] + np.asarray(offsets[JOINT_NAMES_55[i]])
    return joints.astype(np.float32)


class Skeleton:
    """A rest pose (55 joints, SMPL-X order) and the hierarchy used by forward kinematics.

    Attributes: ``parents`` (55 ints), ``rest_joints`` ((55, 3) float32 tensor, metres, y up) and ``source``
    (``"approximate (dancegen built-in)"``, ``"smplx:<dir>"`` or ``"joints-file:<path>"``).
    """

    def __init__(self, rest_joints: torch.Tensor | np.ndarray, source: str) -> None:
        joints = torch.as_tensor(np.asarray(rest_joints, dtype=np.float32) if isinstance(rest_joints, np.ndarray)
                                 else rest_joints, dtype=torch.float32)
        if tuple(joints.shape) != (55, 3):
            raise DancegenError(f"rest joints must have shape (55, 3), got {tuple(joints.shape)} ({source})")
        if not bool(torch.isfinite(joints).all()):
            raise DancegenError(f"rest joints contain NaN or Inf ({source})")
        self.parents: list[int] = list(PARENTS_55)
        self.rest_joints: torch.Tensor = joints
        self.source = source

    @classmethod
    def default(cls) -> Skeleton:
        """dancegen's built-in approximate adult skeleton (hand-written, not derived from any SMPL file)."""
        return cls(torch.from_numpy(_default_rest_joints()), "approximate (dancegen built-in)")

    @classmethod
    def from_smplx(cls, model_dir: str | Path, gender: str = "neutral") -> Skeleton:
        """Exact rest joints (betas 0, flat hands) of a user's SMPL-X model via the optional ``smplx`` package."""
        model_dir = Path(model_dir).expanduser()
        try:
            import smplx
        except ImportError as exc:
            raise DancegenError(
                "the SMPL-X skeleton needs the optional 'smplx' package: pip install gcdance[smplx] "
                "(the model files themselves are licensed: register at https://smpl-x.is.tue.mpg.de and download)"
            ) from exc
        candidates = [model_dir / f"SMPLX_{gender.upper()}.npz", model_dir / "smplx" / f"SMPLX_{gender.upper()}.npz",
                      model_dir / f"SMPLX_{gender.upper()}.pkl", model_dir / "smplx" / f"SMPLX_{gender.upper()}.pkl"]
        if not any(c.is_file() for c in candidates):
            raise DancegenError(
                f"no SMPL-X {gender} model in {model_dir} (expected SMPLX_{gender.upper()}.npz); download it from "
                "https://smpl-x.is.tue.mpg.de (registration required) and pass its folder"
            )
        found = next(c for c in candidates if c.is_file())
        try:
            model = smplx.SMPLX(str(found.parent), gender=gender, ext=found.suffix[1:], use_pca=False,
                                flat_hand_mean=True)
            with torch.no_grad():
                joints = model().joints[0, :55].detach().cpu().float()
        except Exception as exc:  # smplx raises assorted errors for bad files
            raise DancegenError(f"could not load the SMPL-X model from {model_dir}: {exc}") from exc
        return cls(joints, f"smplx:{model_dir}")

    @classmethod
    def from_joints_file(cls, path: str | Path) -> Skeleton:
        """Rest joints from a user-supplied (55, 3) ``.npy`` file (SMPL-X order, metres, y up)."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise DancegenError(f"rest-joints file not found: {path}")
        try:
            joints = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise DancegenError(f"could not read rest joints from {path}: {exc}") from exc
        joints = np.asarray(joints)
        if joints.shape != (55, 3):
            raise DancegenError(f"rest-joints file {path} must hold a (55, 3) array, got {joints.shape}")
        if not np.isfinite(joints).all():
            raise DancegenError(f"rest-joints file {path} contains NaN or Inf")
        return cls(joints.astype(np.float32), f"joints-file:{path}")

    @property
    def offsets(self) -> torch.Tensor:
        """(55, 3) bone offsets J[i] − J[parent(i)]; the root's entry is J[0]."""
        parents = torch.tensor([max(p, 0) for p in self.parents])
        offsets = self.rest_joints - self.rest_joints[parents]
        offsets[0] = self.rest_joints[0]
        return offsets

    def foot_height(self) -> float:
        """Lowest rest-joint y (metres): a standing root height is ``-foot_height()`` plus a few centimetres."""
        return float(self.rest_joints[:, 1].min())

    def to(self, device: torch.device | str) -> Skeleton:
        """A copy whose rest joints live on ``device``."""
        return Skeleton(self.rest_joints.to(device), self.source)

    def __repr__(self) -> str:
        return f"Skeleton(source={self.source!r})"
