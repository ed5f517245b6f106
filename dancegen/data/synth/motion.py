"""Procedural dance on the 52-joint skeleton: genre moves keyed on the music's beats, eased between beats,
planted feet kept still and the body set on the floor with forward kinematics.

Pipeline: (1) a sequence of moves (:mod:`dancegen.data.synth.moves`) gives one keyframe pose per beat;
(2) every joint's Euler angles are eased from key to key (zero velocity at each beat, so the kinematic beats —
local minima of joint speed — fall on the music beats; ``sharpness`` holds the pose around the beat); a leg that
must travel while the other stands is lifted by a sin² bump; (3) forward kinematics gives joint positions; the
root's horizontal translation is solved so the standing foot's toe does not move (the pivot of turns too), and its
height so the lowest joint sits ``FLOOR_CLEARANCE`` above y = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...motion.kinematics import forward_kinematics_matrices
from ...motion.layout import FPS
from ...motion.rotations import matrix_to_rot6d
from ...motion.skeleton import Skeleton
from .moves import MOVES
from .poses import LEG, PELVIS, Ctx, Key
from .styles import DanceStyle

FLOOR_CLEARANCE = 0.02  # metres between the floor and the lowest joint (a toe joint sits above the sole)
TOE = {"L": 10, "R": 11}
_LIFT = np.array([[-0.5, 0.0, 0.0], [1.1, 0.0, 0.0], [-0.1, 0.0, 0.0]])  # hip, knee, ankle: foot ≈ 12 cm up
_MIRROR = np.array([1.0, -1.0, -1.0])
_UPPER = [3, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]
_FINGERS_L, _FINGERS_R = list(range(22, 34)), list(range(37, 49))  # index, middle, pinky, ring (3 joints each)
_THUMBS = [34, 35, 36, 49, 50, 51]


@dataclass(frozen=True)
class Dance:
    """A generated dance: ``motion`` (T, 315) float32 in the FineDance layout (root translation 3 + 52 × rot6d),
    world ``joints`` (T, 55, 3) and the per-frame ``planted`` foot ((T, 2) bool: left, right toe held still)."""

    motion: np.ndarray
    joints: np.ndarray
    planted: np.ndarray


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """(..., 3) angles (x, y, z) → (..., 3, 3) rotation ``Ry(y) · Rz(z) · Rx(x)``."""
    c, s = np.cos(angles), np.sin(angles)
    one, zero = np.ones_like(c[..., 0]), np.zeros_like(c[..., 0])
    rx = np.stack([one, zero, zero, zero, c[..., 0], -s[..., 0], zero, s[..., 0], c[..., 0]], -1)
    ry = np.stack([c[..., 1], zero, s[..., 1], zero, one, zero, -s[..., 1], zero, c[..., 1]], -1)
    rz = np.stack([c[..., 2], -s[..., 2], zero, s[..., 2], c[..., 2], zero, zero, zero, one], -1)
    shape = (*angles.shape[:-1], 3, 3)
    return ry.reshape(shape) @ rz.reshape(shape) @ rx.reshape(shape)


def ease(phase: np.ndarray, hold: float) -> np.ndarray:
    """Smoothstep from 0 to 1 over the middle ``1 − 2·hold`` of each beat: zero velocity at both beats."""
    u = np.clip((phase - hold) / max(1e-6, 1.0 - 2.0 * hold), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def key_times(beats: np.ndarray, n_frames: int, fps: int = FPS) -> np.ndarray:
    """The beat times extended by whole periods so they cover the clip [0, n_frames / fps]."""
    beats = np.asarray(beats, dtype=np.float64)
    period = float(np.median(np.diff(beats))) if beats.size > 1 else 0.5
    first = beats[0] if beats.size else 0.0
    before = first - period * np.arange(int(np.ceil(first / period)) + 1, 0, -1)
    last = beats[-1] if beats.size else 0.0
    after = last + period * np.arange(1, int(np.ceil((n_frames / fps - last) / period)) + 2)
    return np.concatenate([before, beats, after])


def choreograph(style: DanceStyle, n_keys: int, rng: np.random.Generator, amp: float) -> list[Key]:
    """A random sequence of the genre's moves (4 beats each, sometimes repeated) covering ``n_keys`` beats."""
    names = [name for name, _ in style.moves]
    weights = np.array([w for _, w in style.moves], dtype=np.float64)
    ctx = Ctx(style, rng, amp=amp, yaw=float(rng.uniform(0, 2 * np.pi)), lead="L" if rng.random() < 0.5 else "R")
    keys: list[Key] = []
    while len(keys) < n_keys:
        name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        repeats = 2 if rng.random() < 0.3 else 1
        for _ in range(repeats):
            keys.extend(MOVES[name](ctx, 4))
        if style.turn and rng.random() < style.turn:
            keys.extend(MOVES["turn"](ctx, 4))
        ctx.lead = "L" if rng.random() < 0.5 else "R"
    for k, key in enumerate(keys):  # a pulse on every beat (and a little noise), so no beat is a dead hold
        key.pose[_UPPER] += rng.normal(0.0, 0.06, (len(_UPPER), 3))
        sign = 1.0 if k % 2 == 0 else -1.0
        key.pose[[3, 6, 9], 0] += 0.03 * sign
        key.pose[[12, 15], 0] += 0.05 * sign
        key.pose[[18, 19], 1] += 0.12 * sign * _MIRROR[1] ** np.arange(2)
        key.pose[_FINGERS_L, 2] -= 0.35 * sign  # the four fingers curl / open together (right side mirrored)
        key.pose[_FINGERS_R, 2] += 0.35 * sign
        key.pose[_THUMBS, 0] += 0.15 * sign
    return keys[:n_keys]


def _segment_plan(keys: list[Key]) -> tuple[np.ndarray, np.ndarray]:
    """Per segment (key i → i+1): the planted foot (0 left, 1 right, −1 none: floor work between two free keys)
    and the lifted leg (same coding)."""
    n = len(keys) - 1
    anchor, lift = np.full(n, -1), np.full(n, -1)
    for i in range(n):
        a, b = keys[i], keys[i + 1]
        if a.free and b.free:
            continue
        d = {s: b.pose[list(LEG[s])] - a.pose[list(LEG[s])] for s in ("L", "R")}
        d_root = b.pose[PELVIS] - a.pose[PELVIS]
        d_yaw = b.yaw - a.yaw
        if b.pivot is not None and abs(d_yaw) > 1e-9:
            stand = b.pivot
        elif (np.abs(d["L"] - d["R"] * _MIRROR).max() < 1e-9 and np.abs(d["L"][:, 1:]).max() < 1e-9
              and np.abs(d_root[1:]).max() < 1e-9 and abs(d_yaw) < 1e-9):
            anchor[i] = 0  # symmetric sagittal change (bounce): both feet stay where they are
            continue
        else:
            stand = "L" if np.abs(d["L"]).sum() <= np.abs(d["R"]).sum() else "R"
        anchor[i] = 0 if stand == "L" else 1
        lift[i] = 1 - anchor[i]
    return anchor, lift


def perform(style: DanceStyle, beats: np.ndarray, n_frames: int, rng: np.random.Generator,
            skeleton: Skeleton | None = None, fps: int = FPS) -> Dance:
    """Generate ``n_frames`` of dance in ``style`` whose moves change on ``beats`` (seconds)."""
    skeleton = skeleton or Skeleton.default()
    times = key_times(beats, n_frames, fps)
    amp = float(rng.uniform(0.85, 1.15))
    keys = choreograph(style, len(times), rng, amp)
    poses = np.stack([k.pose for k in keys])  # (K, 52, 3)
    yaw = np.array([k.yaw for k in keys])
    anchor, lift = _segment_plan(keys)

    t = np.arange(n_frames) / fps
    seg = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    phase = (t - times[seg]) / (times[seg + 1] - times[seg])
    w = ease(phase, style.sharpness)
    frames = poses[seg] + (poses[seg + 1] - poses[seg]) * w[:, None, None]
    facing = yaw[seg] + (yaw[seg + 1] - yaw[seg]) * w
    bump = np.sin(np.pi * ease(phase, style.sharpness)) ** 2  # the lift happens while the pose moves
    for code, s in enumerate(("L", "R")):
        on = (lift[seg] == code) * bump
        frames[:, list(LEG[s])] += on[:, None, None] * _LIFT[None] * (1.0 if s == "L" else _MIRROR)

    rot = euler_to_matrix(frames)  # (T, 52, 3, 3)
    rot[:, 0] = euler_to_matrix(np.stack([np.zeros_like(facing), facing, np.zeros_like(facing)], -1)) @ rot[:, 0]
    rot_t = torch.from_numpy(rot).float()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny 3×3 products: extra threads only add contention
    try:
        with torch.no_grad():
            rel = forward_kinematics_matrices(rot_t, torch.zeros(n_frames, 3), skeleton).numpy().astype(np.float64)
    finally:
        torch.set_num_threads(threads)

    frame_anchor = anchor[seg]
    toes = rel[:, [TOE["L"], TOE["R"]]]  # (T, 2, 3)
    held = toes[np.arange(n_frames), np.maximum(frame_anchor, 0)]
    step = np.zeros((n_frames, 3))
    step[1:] = held[1:] - toes[np.arange(n_frames - 1), np.maximum(frame_anchor[1:], 0)]
    step[frame_anchor < 0] = 0.0
    trans = np.zeros((n_frames, 3))
    trans[:, [0, 2]] = -np.cumsum(step[:, [0, 2]], axis=0)
    trans[:, 1] = FLOOR_CLEARANCE - rel[:, :, 1].min(axis=1)
    joints = rel + trans[:, None, :]

    planted = np.zeros((n_frames, 2), dtype=bool)
    planted[frame_anchor == 0, 0] = True
    planted[frame_anchor == 1, 1] = True
    sym = (frame_anchor == 0) & (lift[seg] < 0)
    planted[sym, 1] = True
    motion = np.concatenate([trans, matrix_to_rot6d(rot_t).reshape(n_frames, 312).numpy()], axis=1)
    return Dance(motion.astype(np.float32), joints.astype(np.float32), planted)
