"""Pose building blocks of the procedural dancer: keyframes, joint helpers and hand shapes on the 52-joint skeleton.

A pose is a (52, 3) array of Euler angles ``(x, y, z)`` per joint, the local rotation being
``Ry(y) · Rz(z) · Rx(x)`` in the rest (T-pose) frame: for arms x = twist, z = raise, y = swing forward; for legs
x = flexion (negative lifts the thigh forward, positive bends the knee), z = abduction, y = turn-out; for the spine
x = bend forward, z = side bend, y = twist. Angles are written for the left side; the right side mirrors them
(``(x, y, z) → (x, −y, −z)``). Joint 0 (pelvis) holds the root's pitch/roll; facing (yaw) is kept apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .styles import DanceStyle

PELVIS, L_HIP, R_HIP, SPINE1, L_KNEE, R_KNEE, SPINE2, L_ANKLE, R_ANKLE, SPINE3 = range(10)
NECK, L_COLLAR, R_COLLAR, HEAD, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 12, 13, 14, 15, 16, 17, \
    18, 19, 20, 21
LEG = {"L": (L_HIP, L_KNEE, L_ANKLE), "R": (R_HIP, R_KNEE, R_ANKLE)}
ARM = {"L": (L_COLLAR, L_SHOULDER, L_ELBOW, L_WRIST), "R": (R_COLLAR, R_SHOULDER, R_ELBOW, R_WRIST)}
HAND_BASE = {"L": 22, "R": 37}  # index1-3, middle1-3, pinky1-3, ring1-3, thumb1-3
_MIRROR = np.array([1.0, -1.0, -1.0])

#: Hand shapes: curl of (index, middle, pinky, ring, thumb), spread, wrist dorsiflexion.
HAND_SHAPES: dict[str, tuple[tuple[float, float, float, float, float], float, float]] = {
    "flat": ((0.05, 0.05, 0.08, 0.06, 0.1), 0.05, 0.0),
    "relaxed": ((0.4, 0.5, 0.65, 0.55, 0.3), 0.05, 0.0),
    "fist": ((1.4, 1.5, 1.5, 1.5, 0.9), 0.0, 0.0),
    "point": ((0.0, 1.5, 1.5, 1.5, 0.7), 0.0, 0.0),
    "claw": ((0.9, 0.9, 0.9, 0.9, 0.4), 0.3, 0.2),
    "spread": ((-0.1, -0.1, -0.1, -0.1, -0.1), 0.35, 0.1),
    "peacock": ((0.95, -0.25, -0.35, -0.3, 0.85), 0.3, 0.8),  # index meets thumb, the rest fanned up
    "orchid": ((0.0, 1.0, -0.2, -0.05, 0.7), 0.15, 0.3),  # lanhua: middle finger toward the thumb
}
_SEGMENT_CURL = np.array([0.8, 1.0, 0.7])


def side(s: str) -> np.ndarray:
    """Sign vector turning left-side angles into the given side's."""
    return np.ones(3) if s == "L" else _MIRROR


def other(s: str) -> str:
    return "R" if s == "L" else "L"


def set_hand(pose: np.ndarray, s: str, shape: str, rng: np.random.Generator | None = None,
             jitter: float = 0.0) -> None:
    """Write a hand shape (fingers and wrist dorsiflexion) into ``pose`` for side ``s``."""
    curls, spread, dorsi = HAND_SHAPES[shape]
    curls = np.asarray(curls) + (rng.normal(0, jitter, 5) if rng is not None and jitter else 0.0)
    base = HAND_BASE[s]
    m = side(s)
    for f, curl in enumerate(curls):
        joints = slice(base + 3 * f, base + 3 * f + 3)
        if f == 4:  # thumb: folds under the palm about x
            pose[joints] = np.outer(_SEGMENT_CURL, [curl, 0.0, 0.0]) * m
        else:
            pose[joints] = np.outer(_SEGMENT_CURL, [0.0, 0.0, -curl]) * m
        sp = {0: -spread, 1: 0.0, 2: spread * 1.2, 3: spread * 0.6, 4: -spread * 0.5}[f]
        pose[base + 3 * f, 1] += sp * m[1]
    pose[ARM[s][3], 2] += dorsi * m[2]


def arm(pose: np.ndarray, s: str, raise_: float, forward: float, elbow: float, twist: float = 0.0,
        wrist: float = 0.0, wrist_twist: float = 0.0, shrug: float = 0.0) -> None:
    """Set one arm: shoulder raise (0 = horizontal, −1.4 = down) and forward swing, elbow bend, wrist flex/twist."""
    collar, shoulder, elbow_j, wrist_j = ARM[s]
    m = side(s)
    pose[collar] = np.array([0.0, 0.0, shrug]) * m
    pose[shoulder] = np.array([twist, -forward, raise_]) * m
    pose[elbow_j] = np.array([0.0, -elbow, 0.0]) * m
    pose[wrist_j] = np.array([wrist_twist, 0.0, wrist]) * m


def leg_add(pose: np.ndarray, s: str, flex: float = 0.0, knee: float = 0.0, abduct: float = 0.0,
            turn: float = 0.0, ankle: float = 0.0) -> None:
    """Add to one leg: hip flexion (negative = thigh forward), knee bend, abduction, turn-out, ankle."""
    hip, knee_j, ankle_j = LEG[s]
    m = side(s)
    pose[hip] += np.array([flex, turn, abduct]) * m
    pose[knee_j] += np.array([knee, 0.0, 0.0])
    pose[ankle_j] += np.array([ankle, 0.0, 0.0])


def squat(pose: np.ndarray, depth: float, s: str | None = None) -> None:
    """Bend hip, knee and ankle so the foot stays under the hip and flat (depth in radians of thigh flexion)."""
    for leg in (s,) if s else ("L", "R"):
        leg_add(pose, leg, flex=-depth, knee=2 * depth, ankle=-depth)


def spine(pose: np.ndarray, bend: float = 0.0, side_bend: float = 0.0, twist: float = 0.0) -> None:
    """Distribute a forward bend, side bend (positive leans to the dancer's right) and twist over spine1–3."""
    for j, share in ((SPINE1, 0.3), (SPINE2, 0.35), (SPINE3, 0.35)):
        pose[j] += share * np.array([bend, twist, side_bend])


def head(pose: np.ndarray, nod: float = 0.0, turn: float = 0.0, tilt: float = 0.0, slide: float = 0.0) -> None:
    """Head nod/turn/tilt; ``slide`` shifts the head sideways keeping it upright (neck and head tilt opposite)."""
    pose[NECK] += np.array([nod * 0.5, turn * 0.5, tilt * 0.5 + slide])
    pose[HEAD] += np.array([nod * 0.5, turn * 0.5, tilt * 0.5 - slide])


@dataclass
class Key:
    """One keyframe: the pose at a beat, the facing (yaw, radians), whether the root is free of the feet (floor
    work), and the foot that must stay planted during the segment that ends at this key (None = decide)."""

    pose: np.ndarray
    yaw: float = 0.0
    free: bool = False
    pivot: str | None = None


@dataclass
class Ctx:
    """What a move needs: the genre's dance style, the song's random stream and amplitude, the current facing."""

    style: DanceStyle
    rng: np.random.Generator
    amp: float = 1.0
    yaw: float = 0.0
    lead: str = "L"

    def base(self, squat_extra: float = 0.0) -> np.ndarray:
        """The genre's resting posture: knees bent by its squat, torso lean, arms down (hands: :meth:`hand`)."""
        pose = np.zeros((52, 3))
        squat(pose, self.style.squat + squat_extra)
        spine(pose, bend=self.style.lean)
        for s in ("L", "R"):
            arm(pose, s, -1.25, 0.1, 0.35)
        return pose

    def hand(self, pose: np.ndarray, k: int, shapes: tuple[str, ...] | None = None) -> None:
        """Cycle the genre's hand shapes on beats (both hands), with a little per-beat variation; call once per key
        (the shape's wrist dorsiflexion adds to the wrist)."""
        shapes = shapes or self.style.hands
        for i, s in enumerate(("L", "R")):
            shape = shapes[(k + i * int(self.rng.random() < 0.3)) % len(shapes)]
            set_hand(pose, s, shape, self.rng, 0.08)

    def a(self, x: float) -> float:
        """An angle scaled by the song's amplitude."""
        return x * self.amp * self.style.arm_amp

    def u(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))


Move = Callable[[Ctx, int], list[Key]]


def bounce(c: Ctx, pose: np.ndarray, k: int) -> None:
    """Knees down on even beats and up on odd ones (by the genre's bounce), with a nod."""
    squat(pose, c.style.bounce * (1 if k % 2 == 0 else -0.3))
    head(pose, nod=0.12 * (1 if k % 2 == 0 else -0.5))
