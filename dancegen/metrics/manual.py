"""Geometric (manual) features for FID_g / Div_g: the 32 boolean relational features of Müller et al. (2005).

Reimplements the feature list of Bailando's ``manual_new.py`` (also used by FineDance/LODGE and GCDance) on
SMPL-24-ordered joints: 0 pelvis ("root"), 1 L_hip, 2 R_hip, 3 spine1 ("belly"), 4 L_knee, 5 R_knee, 6 spine2,
7 L_ankle, 8 R_ankle, 9 spine3 ("chest"), 10 L_foot ("toes"), 11 R_foot, 12 neck, 13 L_collar, 14 R_collar,
15 head, 16 L_shoulder, 17 R_shoulder, 18 L_elbow, 19 R_elbow, 20 L_wrist, 21 R_wrist, [22 L_hand, 23 R_hand].
Joints 22/23 (and any further joints passed) enter only the floor height. From SMPL-X 55 use
:func:`~dancegen.metrics.smplx55_to_smpl24` (or pass ``joints[:, :22]`` as LODGE does).

Conventions of the reference, kept:

* Thresholds are multiples of constants measured on the reference's rest pose: humerus length ``hl``
  (left shoulder → left elbow ≈ 0.257 m), shoulder width ``sw`` (≈ 0.391 m), hip width ``hw`` (≈ 0.119 m).
* Velocities divide one-frame displacements by ``time_per_frame = 1/120`` s whatever the data rate.
* The floor height (``y_min``) is the minimum y over all joints passed, in the current frame.
* Features are evaluated for frames 1 … T−1 (each needs the previous frame), 32 booleans per frame, averaged
  over frames in float32 → ``(32,)``.
* ``move`` features measure the velocity of their *third* joint relative to the first, along first → second;
  the fourth joint named in the reference list is unused (kept in the table for fidelity).
* Angles are strict ``lo < angle < hi`` in degrees; a degenerate (NaN) angle counts as False.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .joints import as_clips

TIME_PER_FRAME = 1.0 / 120.0

# Rest-pose constants of the reference (SMPL neutral, metres).
_L_SHOULDER = np.array([1.99113488e-01, 2.36807942e-01, -1.80702247e-02])
_L_ELBOW = np.array([4.54445392e-01, 2.21158922e-01, -4.10167128e-02])
_R_SHOULDER = np.array([-1.91692337e-01, 2.36928746e-01, -1.23055102e-02])
_L_HIP = np.array([5.64076714e-02, -3.23069185e-01, 1.09197125e-02])
_R_HIP = np.array([-6.24834076e-02, -3.31302464e-01, 1.50412619e-02])
HUMERUS_LENGTH = float(np.linalg.norm(_L_SHOULDER - _L_ELBOW))
SHOULDER_WIDTH = float(np.linalg.norm(_L_SHOULDER - _R_SHOULDER))
HIP_WIDTH = float(np.linalg.norm(_L_HIP - _R_HIP))

_NAMES = {
    "root": 0, "lhip": 1, "rhip": 2, "belly": 3, "lknee": 4, "rknee": 5, "spine": 6, "lankle": 7, "rankle": 8,
    "chest": 9, "ltoes": 10, "rtoes": 11, "neck": 12, "linshoulder": 13, "rinshoulder": 14, "head": 15,
    "lshoulder": 16, "rshoulder": 17, "lelbow": 18, "relbow": 19, "lwrist": 20, "rwrist": 21,
}  # fmt: skip
_SCALE = {"hl": HUMERUS_LENGTH, "sw": SHOULDER_WIDTH, "hw": HIP_WIDTH}

#: The 32 features in reference order: (kind, joint names, threshold multiple and scale, or an angle range).
FEATURES: tuple[tuple[str, tuple[str, ...], tuple[float, str] | tuple[float, float]], ...] = (
    ("nmove", ("neck", "rhip", "lhip", "rwrist"), (1.8, "hl")),
    ("nmove", ("neck", "lhip", "rhip", "lwrist"), (1.8, "hl")),
    ("nplane", ("chest", "neck", "neck", "rwrist"), (0.2, "hl")),
    ("nplane", ("chest", "neck", "neck", "lwrist"), (0.2, "hl")),
    ("move", ("belly", "chest", "chest", "rwrist"), (1.8, "hl")),
    ("move", ("belly", "chest", "chest", "lwrist"), (1.8, "hl")),
    ("angle", ("relbow", "rshoulder", "relbow", "rwrist"), (0.0, 110.0)),
    ("angle", ("lelbow", "lshoulder", "lelbow", "lwrist"), (0.0, 110.0)),
    ("nplane", ("lshoulder", "rshoulder", "lwrist", "rwrist"), (2.5, "sw")),
    ("move", ("lwrist", "rwrist", "rwrist", "lwrist"), (1.4, "hl")),
    ("move", ("rwrist", "root", "lwrist", "root"), (1.4, "hl")),
    ("move", ("lwrist", "root", "rwrist", "root"), (1.4, "hl")),
    ("fast", ("rwrist",), (2.5, "hl")),
    ("fast", ("lwrist",), (2.5, "hl")),
    ("plane", ("root", "lhip", "ltoes", "rankle"), (0.38, "hl")),
    ("plane", ("root", "rhip", "rtoes", "lankle"), (0.38, "hl")),
    ("nplane", ("zero", "y_unit", "y_min", "rankle"), (1.2, "hl")),
    ("nplane", ("zero", "y_unit", "y_min", "lankle"), (1.2, "hl")),
    ("nplane", ("lhip", "rhip", "lankle", "rankle"), (2.1, "hw")),
    ("angle", ("rknee", "rhip", "rknee", "rankle"), (0.0, 110.0)),
    ("angle", ("lknee", "lhip", "lknee", "lankle"), (0.0, 110.0)),
    ("fast", ("rankle",), (2.5, "hl")),
    ("fast", ("lankle",), (2.5, "hl")),
    ("angle", ("neck", "root", "rshoulder", "relbow"), (25.0, 180.0)),
    ("angle", ("neck", "root", "lshoulder", "lelbow"), (25.0, 180.0)),
    ("angle", ("neck", "root", "rhip", "rknee"), (50.0, 180.0)),
    ("angle", ("neck", "root", "lhip", "lknee"), (50.0, 180.0)),
    ("plane", ("rankle", "neck", "lankle", "root"), (0.5, "hl")),
    ("angle", ("neck", "root", "zero", "y_unit"), (70.0, 110.0)),
    ("nplane", ("zero", "minus_y_unit", "y_min", "rwrist"), (-1.2, "hl")),
    ("nplane", ("zero", "minus_y_unit", "y_min", "lwrist"), (-1.2, "hl")),
    ("fast", ("root",), (2.3, "hl")),
)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...k,...k->...", a, b)


def _clip_features(pos: np.ndarray, time_per_frame: float) -> np.ndarray:
    cur, prev = pos[1:], pos[:-1]
    n = cur.shape[0]
    y_min = np.zeros((n, 3))
    y_min[:, 1] = cur[:, :, 1].min(axis=1)
    fixed = {"zero": (0.0, 0.0, 0.0), "y_unit": (0.0, 1.0, 0.0), "minus_y_unit": (0.0, -1.0, 0.0)}

    def now(name: str) -> np.ndarray:
        if name in fixed:
            return np.broadcast_to(np.array(fixed[name]), (n, 3))
        if name == "y_min":
            return y_min
        return cur[:, _NAMES[name]]

    def before(name: str) -> np.ndarray:
        return prev[:, _NAMES[name]]

    out = np.zeros((n, len(FEATURES)), dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for k, (kind, names, param) in enumerate(FEATURES):
            if kind == "angle":
                lo, hi = param
                u = now(names[1]) - now(names[0])
                w = now(names[3]) - now(names[2])
                cos = _dot(u, w) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(w, axis=-1))
                deg = np.degrees(np.arccos(cos))
                out[:, k] = (deg > lo) & (deg < hi)
                continue
            threshold = param[0] * _SCALE[param[1]]  # type: ignore[index]
            if kind == "fast":
                speed = np.linalg.norm(now(names[0]) - before(names[0]), axis=-1) / time_per_frame
                out[:, k] = speed > threshold
            elif kind == "plane":  # signed distance of the 4th point from the plane through the first three
                a, b, c, p = (now(x) for x in names)
                normal = np.cross(c - a, b - a)
                out[:, k] = _dot(normal, p - a) / np.linalg.norm(normal, axis=-1) > threshold
            elif kind == "nplane":  # signed distance of the 4th point from the plane with normal 1→2 through the 3rd
                n1, n2, a, p = (now(x) for x in names)
                normal = n2 - n1
                out[:, k] = _dot(normal, p - a) / np.linalg.norm(normal, axis=-1) > threshold
            elif kind == "move":  # velocity of joint 3 relative to joint 1, along joint 1 → joint 2
                j1, j2, j3 = names[:3]
                vel = (now(j3) - now(j1)) - (before(j3) - before(j1))
                direction = now(j2) - now(j1)
                along = _dot(vel, direction) / np.linalg.norm(direction, axis=-1) / time_per_frame
                out[:, k] = along > threshold
            else:  # "nmove": velocity of joint 4 relative to joint 1, along the normal of the plane (1, 2, 3)
                j1, j2, j3, j4 = names
                vel = (now(j4) - now(j1)) - (before(j4) - before(j1))
                direction = np.cross(now(j3) - now(j1), now(j2) - now(j1))
                along = _dot(vel, direction) / np.linalg.norm(direction, axis=-1) / time_per_frame
                out[:, k] = along > threshold
    return out.astype(np.float32).mean(axis=0)


def manual_features(joints: np.ndarray | Sequence[np.ndarray], time_per_frame: float = TIME_PER_FRAME) -> np.ndarray:
    """The 32 geometric features: ``(T, J ≥ 22, 3)`` SMPL-24-ordered joints → ``(32,)`` float32 fractions.

    Batches ``(N, T, J, 3)`` or lists give ``(N, 32)``. Each value is the fraction of frames 1 … T−1 for which
    the relation holds; see the module docstring for the joint order and the reference conventions.
    """
    clips, batched = as_clips(joints, min_frames=2, min_joints=22)
    feats = [_clip_features(clip, float(time_per_frame)) for clip in clips]
    return np.stack(feats) if batched else feats[0]
