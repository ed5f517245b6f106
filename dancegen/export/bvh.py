"""``dance.bvh``: the 52-joint SMPL-H hierarchy of the rest skeleton with Euler-angle animation, and a BVH reader.

Layout: every joint has ``Zrotation Yrotation Xrotation`` channels (degrees), the root also ``Xposition Yposition
Zposition`` first. A joint's local rotation is ``R = Rz(z) · Ry(y) · Rx(x)`` (column vectors, the usual BVH reading
of the channel order; Blender's importer reads it the same way). World positions: ``p_i = p_parent + G_parent ·
OFFSET_i`` and ``G_i = G_parent · R_i``; the root's world position is ``OFFSET_root + position channels``.

Units: centimetres by default (the common BVH convention; import into Blender with Scale 0.01), or metres
(``units="m"``, Scale 1). Axes stay y up with the dancer facing +z. The root OFFSET is zero and its position
channels hold the pelvis's absolute position ``J[0] + root``, so readers that add the OFFSET and readers that
ignore it (Blender) agree. Leaf joints (head, feet, finger tips) end with an ``End Site`` continuing their bone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DancegenError
from ..motion.layout import FPS
from ..motion.skeleton import JOINT_NAMES_52, PARENTS_52, SMPLH_TO_SMPLX, Skeleton
from ._common import as_motion, as_skeleton, local_rotations, write_atomic

_UNITS = {"cm": 100.0, "m": 1.0}
ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation")
JOINT_CHANNELS = ("Zrotation", "Yrotation", "Xrotation")
_GIMBAL_EPS = 1e-9


def matrix_to_euler_zyx(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices → (..., 3) angles ``(z, y, x)`` in radians with ``R = Rz(z)·Ry(y)·Rx(x)``.

    ``y`` lies in [−π/2, π/2]. At gimbal lock (``|y| = π/2``, where only ``x − z`` or ``x + z`` is determined)
    ``x`` is set to 0 and ``z`` carries the whole rotation, so the returned angles still rebuild the matrix.
    """
    m = np.asarray(matrix, dtype=np.float64)
    cos_y = np.hypot(m[..., 0, 0], m[..., 1, 0])
    y = np.arctan2(-m[..., 2, 0], cos_y)
    locked = cos_y < _GIMBAL_EPS
    z = np.where(locked, np.arctan2(-m[..., 0, 1], m[..., 1, 1]), np.arctan2(m[..., 1, 0], m[..., 0, 0]))
    x = np.where(locked, 0.0, np.arctan2(m[..., 2, 1], m[..., 2, 2]))
    return np.stack((z, y, x), axis=-1)


def euler_to_matrix(angles: np.ndarray, axes: str) -> np.ndarray:
    """(..., k) angles in radians about ``axes`` (e.g. ``"ZYX"``) → (..., 3, 3) = R_axes[0] · R_axes[1] · …"""
    angles = np.asarray(angles, dtype=np.float64)
    out = np.broadcast_to(np.eye(3), (*angles.shape[:-1], 3, 3)).copy()
    for k, axis in enumerate(axes.upper()):
        c, s = np.cos(angles[..., k]), np.sin(angles[..., k])
        r = np.zeros((*angles.shape[:-1], 3, 3))
        i = "XYZ".index(axis)
        j, l = [a for a in range(3) if a != i]
        r[..., i, i] = 1.0
        r[..., j, j] = c
        r[..., l, l] = c
        sign = -1.0 if axis == "Y" else 1.0  # Ry has +sin above the diagonal at (0, 2)
        r[..., j, l] = -s * sign
        r[..., l, j] = s * sign
        out = out @ r
    return out


def _end_site(offsets: np.ndarray, joint: int) -> np.ndarray:
    """End Site offset of a leaf joint: half its own bone, continued (the head points up 10 cm)."""
    if JOINT_NAMES_52[joint] == "head":
        return np.array([0.0, 0.1, 0.0])
    return 0.5 * offsets[joint]


def write_bvh(
    path: str | Path,
    motion: np.ndarray | torch.Tensor,
    *,
    skeleton: Skeleton | None = None,
    units: str = "cm",
    precision: int = 6,
) -> Path:
    """Write ``dance.bvh`` (see the module docstring) atomically and return its path."""
    if units not in _UNITS:
        raise DancegenError(f"unknown BVH units {units!r}; choose one of {', '.join(_UNITS)}")
    m = as_motion(motion)
    skel = as_skeleton(skeleton)
    scale = _UNITS[units]
    rest = skel.rest_joints.detach().cpu().numpy().astype(np.float64)[list(SMPLH_TO_SMPLX)]
    offsets = rest - rest[[max(p, 0) for p in PARENTS_52]]
    offsets[0] = 0.0
    children: list[list[int]] = [[] for _ in range(52)]
    for j in range(1, 52):
        children[PARENTS_52[j]].append(j)

    fmt = f"{{:.{precision}f}}"
    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if j == 0 else 'JOINT'} {JOINT_NAMES_52[j]}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET " + " ".join(fmt.format(v * scale) for v in offsets[j]))
        channels = ROOT_CHANNELS if j == 0 else JOINT_CHANNELS
        lines.append(f"{pad}  CHANNELS {len(channels)} " + " ".join(channels))
        for c in children[j]:
            emit(c, depth + 1)
        if not children[j]:
            end = _end_site(offsets, j) * scale
            lines.extend((f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET " + " ".join(fmt.format(v) for v in end),
                          pad + "  }"))
        lines.append(pad + "}")

    emit(0, 0)
    euler = np.degrees(matrix_to_euler_zyx(local_rotations(m)))  # (T, 52, 3) in z, y, x order
    root = (rest[0] + m[:, 4:7].astype(np.float64)) * scale
    order = _depth_first(children)
    frames = np.concatenate((root, euler[:, order].reshape(m.shape[0], -1)), axis=1)
    lines += ["MOTION", f"Frames: {m.shape[0]}", f"Frame Time: {1.0 / FPS:.7f}"]
    lines += [" ".join(fmt.format(v) for v in row) for row in frames]

    def write(tmp: Path) -> None:
        tmp.write_text("\n".join(lines) + "\n", encoding="ascii")

    return write_atomic(path, write)


def _depth_first(children: list[list[int]]) -> list[int]:
    order: list[int] = []
    stack = [0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(children[j]))
    return order


@dataclass
class BVH:
    """A parsed BVH file: joints in file order (End Sites excluded), per-joint channels, and the frame table."""

    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # (J, 3)
    channels: list[tuple[str, ...]]
    frames: np.ndarray  # (T, total channels)
    frame_time: float


def read_bvh(path: str | Path) -> BVH:
    """Parse a BVH file (any hierarchy, any channel order). Raises :class:`DancegenError` on malformed input."""
    path = Path(path)
    if not path.is_file():
        raise DancegenError(f"BVH file not found: {path}")
    tokens = path.read_text(encoding="utf-8", errors="replace").split()
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    stack: list[int] = []  # joint index per open brace, -2 for End Site
    pos = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise DancegenError(f"{path}: unexpected end of file in the hierarchy")
        pos += 1
        return tokens[pos - 1]

    try:
        if take() != "HIERARCHY":
            raise DancegenError(f"{path}: not a BVH file (no HIERARCHY header)")
        while True:
            tok = take()
            if tok in ("ROOT", "JOINT"):
                parent = next((j for j in reversed(stack) if j >= 0), -1)
                names.append(take())
                parents.append(parent)
                offsets.append([0.0, 0.0, 0.0])
                channels.append(())
                stack.append(len(names) - 1)
                if take() != "{":
                    raise DancegenError(f"{path}: expected '{{' after joint {names[-1]}")
            elif tok == "End":
                take()  # "Site"
                if take() != "{":
                    raise DancegenError(f"{path}: expected '{{' after End Site")
                stack.append(-2)
            elif tok == "OFFSET":
                values = [float(take()) for _ in range(3)]
                if stack and stack[-1] >= 0:
                    offsets[stack[-1]] = values
            elif tok == "CHANNELS":
                count = int(take())
                channels[stack[-1]] = tuple(take() for _ in range(count))
            elif tok == "}":
                stack.pop()
            elif tok == "MOTION":
                break
            else:
                raise DancegenError(f"{path}: unexpected token {tok!r} in the hierarchy")
        if take() != "Frames:":
            raise DancegenError(f"{path}: expected 'Frames:' after MOTION")
        n_frames = int(take())
        if (take(), take()) != ("Frame", "Time:"):
            raise DancegenError(f"{path}: expected 'Frame Time:'")
        frame_time = float(take())
        width = sum(len(c) for c in channels)
        values = np.asarray(tokens[pos:], dtype=np.float64)
    except ValueError as exc:
        raise DancegenError(f"{path}: malformed number in BVH file: {exc}") from exc
    if values.size != n_frames * width:
        raise DancegenError(f"{path}: expected {n_frames} frames × {width} channels, found {values.size} values")
    return BVH(names, parents, np.asarray(offsets), channels, values.reshape(n_frames, width), frame_time)
