"""Whole-song figures (seams, drift, floor, skating, penetration) and floor placement, on constructed motions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dancegen.errors import DataError
from dancegen.longform import plan_windows
from dancegen.metrics.longform import (
    contact_skating,
    floor_deviation,
    floor_penetration,
    height_drift,
    joint_speed,
    longform_report,
    near_floor_sliding,
    seam_ratio,
    window_boundaries,
)
from dancegen.motion import Skeleton
from dancegen.motion.floor import FLOOR_CLEARANCE, floor_track, place_on_floor
from dancegen.motion.kinematics import forward_kinematics
from dancegen.motion.layout import NUM_CHANNELS, ROOT, joint_channels
from dancegen.motion.rotations import axis_angle_to_rot6d

FPS = 30


def swaying(frames: int, seed: int = 0) -> np.ndarray:
    """(T, 22, 3) joints: a rest-like body whose joints sway smoothly (sines of random phase), feet near y = 0."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / FPS
    base = np.zeros((1, 22, 3))
    base[0, :, 1] = np.linspace(0.0, 1.6, 22)
    base[0, [7, 8, 10, 11], 1] = [0.08, 0.08, 0.02, 0.02]
    phase = rng.uniform(0, 2 * np.pi, (1, 22, 3))
    return base + 0.05 * np.sin(2 * np.pi * 1.0 * t + phase)


def test_seam_ratio_is_one_for_smooth_motion_and_large_for_a_pop() -> None:
    joints = swaying(1800)
    bounds = window_boundaries(plan_windows(1800))
    assert bounds[:4] == [60, 120, 180, 240]
    assert seam_ratio(joints, bounds) == pytest.approx(1.0, abs=0.15)
    popped = joints.copy()
    for b in bounds[::4]:
        popped[b:] += np.array([0.0, 0.0, 0.05])  # a 5-cm jump of the whole body at every 4th boundary
    assert seam_ratio(popped, bounds) > 2.5
    assert np.isnan(seam_ratio(joints, []))


def test_drift_floor_deviation_and_penetration() -> None:
    joints = swaying(3600)
    assert abs(height_drift(joints)) < 0.01
    assert floor_deviation(joints) < 0.01
    rising = joints + np.linspace(0, 1.2, 3600)[:, None, None] * np.array([0, 1, 0])  # 1.2 m over 2 minutes
    assert height_drift(rising) == pytest.approx(1.2 * (1 - 10 / 120), abs=0.02)
    assert floor_deviation(rising) > 0.5
    sunk = joints.copy()
    sunk[1000:1010, 10, 1] -= 0.07  # the left toe 7 cm into the floor for 10 frames
    depth_max, depth_mean = floor_penetration(sunk)
    assert depth_max == pytest.approx(0.07, abs=0.02)
    assert depth_mean < depth_max / 100
    assert floor_penetration(joints, floor=-1.0) == (0.0, 0.0)


def test_contact_skating_counts_only_planted_frames() -> None:
    joints = swaying(300)
    joints[:, 10, 0] = np.arange(300) * 0.01  # the left toe slides 0.3 m/s along x
    joints[:, 10, 2] = 0.1
    contacts = np.zeros((300, 4))
    assert contact_skating(joints, contacts) == 0.0
    contacts[:, 2] = 1.0  # left toe marked planted
    assert contact_skating(joints, contacts) == pytest.approx(0.3, rel=1e-6)  # only the toe is planted
    with pytest.raises(DataError, match="contacts"):
        contact_skating(joints, contacts[:, :3])
    # near the floor the toe's slide counts whatever the contacts say; lifted, it does not
    assert near_floor_sliding(joints) > 0.3 / 4
    lifted = joints.copy()
    lifted[:, 10, 1] += 0.5
    assert near_floor_sliding(lifted) < near_floor_sliding(joints)


def test_report_has_every_figure() -> None:
    joints = swaying(600)
    report = longform_report(joints, np.zeros((600, 4)), window_boundaries(plan_windows(600)))
    assert set(report) == {"seam_ratio", "height_drift_m", "floor_deviation_m", "penetration_max_m",
                           "penetration_mean_m", "joint_speed_mps", "contact_skating_mps", "contact_fraction",
                           "near_floor_sliding_mps"}
    assert report["joint_speed_mps"] == pytest.approx(joint_speed(joints), abs=1e-4)
    with pytest.raises(DataError, match="frames"):
        longform_report(joints[:, :10])


# --------------------------------------------------------------------------- floor placement
def dance_with_drift(frames: int, rise: float) -> torch.Tensor:
    """319-D motion: knees bend and stretch (squats, 1 Hz), a jump at 10 s, the root rising ``rise`` metres."""
    t = torch.arange(frames, dtype=torch.float32) / FPS
    motion = torch.zeros(frames, NUM_CHANNELS)
    identity = axis_angle_to_rot6d(torch.zeros(3))
    motion[:, 7:] = identity.repeat(52)
    bend = 0.4 * (1 - torch.cos(2 * np.pi * t)) / 2
    for knee in (4, 5):
        motion[:, joint_channels(knee)] = axis_angle_to_rot6d(torch.stack([bend, 0 * t, 0 * t], dim=-1))
    motion[:, ROOT.start + 1] = 1.3 + rise * t / t[-1]
    jump = (t >= 10.0) & (t < 10.4)
    motion[jump, ROOT.start + 1] += 0.3 * torch.sin(np.pi * (t[jump] - 10.0) / 0.4)
    return motion


def test_place_on_floor_removes_drift_and_keeps_jumps() -> None:
    skel = Skeleton.default()
    motion = dance_with_drift(1800, rise=0.8)
    placed, floor = place_on_floor(motion, skel)
    assert floor == FLOOR_CLEARANCE
    assert torch.equal(placed[:, :5], motion[:, :5])
    assert torch.equal(placed[:, 7:], motion[:, 7:])
    before = forward_kinematics(motion, skel).numpy()
    after = forward_kinematics(placed, skel).numpy()
    assert height_drift(before) > 0.6
    assert abs(height_drift(after)) < 0.02
    assert floor_deviation(after) < 0.03
    lowest = after[:, :, 1].min(axis=1)
    assert np.percentile(lowest, 5) == pytest.approx(FLOOR_CLEARANCE, abs=0.01)
    jump = slice(300, 312)
    assert lowest[jump].max() > FLOOR_CLEARANCE + 0.2  # the jump is still a jump
    batched, _ = place_on_floor(torch.stack([motion, dance_with_drift(1800, rise=-0.5)]), skel)
    torch.testing.assert_close(batched[0], placed)


def test_place_on_floor_leaves_kept_frames_alone() -> None:
    skel = Skeleton.default()
    motion = dance_with_drift(900, rise=0.4)
    kept = torch.zeros(900, dtype=torch.bool)
    kept[:150] = True
    placed, floor = place_on_floor(motion, skel, kept=kept)
    assert torch.equal(placed[:150], motion[:150])
    after = forward_kinematics(placed, skel).numpy()
    track = floor_track(after[:, :, 1].min(axis=1))
    assert floor == pytest.approx(float(np.median(track[:150])), abs=5e-3)  # the kept part's floor
    assert abs(track[600:] - floor).max() < 0.02  # the generated part lands on it
