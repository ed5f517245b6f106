"""Foot locking: IK helpers (swing, two-bone IK, global rotations) and lock_feet on synthetic skating motion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dancegen.data.synth.motion import FLOOR_CLEARANCE, perform
from dancegen.data.synth.styles import STYLES
from dancegen.motion import (
    CONTACTS,
    PARENTS_52,
    ROOT,
    ROTATIONS,
    Skeleton,
    axis_angle_to_matrix,
    forward_kinematics,
    forward_kinematics_matrices,
    from_finedance,
    matrix_to_rot6d,
    quaternion_to_matrix,
    rot6d_to_matrix,
)
from dancegen.motion.footlock import LEGS, clean_mask, lock_feet, lock_offsets, run_locks, split_drifting
from dancegen.motion.ik import global_rotations, joint_positions, swing_rotation, two_bone_ik

FEET = (7, 8, 10, 11)
LEG_JOINTS = (1, 2, 4, 5, 7, 8)
FPS = 30


@pytest.fixture(scope="module")
def skeleton() -> Skeleton:
    return Skeleton.default()


def unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True)


def crouch_motion(T: int, seed: int = 0, slide: float = 0.0, sway: float = 0.03) -> torch.Tensor:
    """(T, 319): knees bent (reachable feet), every joint swaying smoothly (≤ ``sway`` rad, 1 Hz) around a small
    random pose (legs symmetric), the root drifting along x at ``slide`` m/s, the lowest foot joint 1 cm over y = 0
    and contacts 0."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T, dtype=torch.float64)[:, None, None] / FPS
    phase = torch.rand(1, 52, 3, generator=g, dtype=torch.float64) * 6.28
    pose = torch.randn(1, 52, 3, generator=g, dtype=torch.float64) * 0.1
    pose[:, [1, 2, 4, 5, 7, 8, 10, 11]] = 0.0  # both feet near the floor
    aa = pose + sway * torch.sin(6.28 * t + phase)
    for hip, knee, ankle, _ in LEGS:
        aa[..., hip, 0] -= 0.5
        aa[..., knee, 0] += 1.0
        aa[..., ankle, 0] -= 0.5
    motion = torch.zeros(T, 319, dtype=torch.float64)
    motion[:, ROTATIONS] = matrix_to_rot6d(axis_angle_to_matrix(aa)).reshape(T, 312)
    motion[:, 4] = slide * t[:, 0, 0]
    joints = forward_kinematics(motion, Skeleton.default())
    motion[:, 5] = 0.01 - joints[:, list(FEET), 1].amin()
    return motion.float()


def speeds(joints: torch.Tensor, joint: int) -> torch.Tensor:
    """Horizontal speed (m/s, forward difference) of a joint: (T − 1,)."""
    step = joints[1:, joint] - joints[:-1, joint]
    return step[:, [0, 2]].norm(dim=-1) * FPS


# ---------------------------------------------------------------- IK helpers


def test_swing_rotation_takes_a_to_b_minimally_including_parallel_and_antiparallel() -> None:
    g = torch.Generator().manual_seed(1)
    a = unit(torch.randn(64, 3, generator=g, dtype=torch.float64))
    b = unit(torch.randn(64, 3, generator=g, dtype=torch.float64))
    b[0], b[1], b[2] = a[0], -a[1], -a[2] + 1e-9  # parallel, exactly and nearly anti-parallel
    R = swing_rotation(a, b)
    assert torch.allclose((R @ a[..., None])[..., 0], b, atol=1e-6)
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=R.dtype).expand_as(R), atol=1e-9)
    assert torch.allclose(torch.linalg.det(R), torch.ones(64, dtype=R.dtype), atol=1e-9)
    assert torch.allclose(R[0], torch.eye(3, dtype=R.dtype), atol=1e-12)
    axis = torch.linalg.cross(a[3:], b[3:], dim=-1)  # minimal: the rotation axis a × b is left fixed
    assert torch.allclose((R[3:] @ axis[..., None])[..., 0], axis, atol=1e-9)


def test_global_rotations_and_joint_positions_reproduce_forward_kinematics(skeleton: Skeleton) -> None:
    g = torch.Generator().manual_seed(2)
    local = quaternion_to_matrix(torch.randn(5, 52, 4, generator=g))
    root = torch.randn(5, 3, generator=g)
    glob = global_rotations(local)
    assert torch.allclose(glob[:, 4], local[:, 0] @ local[:, 1] @ local[:, 4], atol=1e-6)  # pelvis → hip → knee
    body = joint_positions(glob[:, :22], skeleton.rest_joints[:22], root, PARENTS_52[:22])
    assert torch.allclose(body, forward_kinematics_matrices(local, root, skeleton)[:, :22], atol=1e-5)
    assert torch.allclose(global_rotations(local[:, :12], PARENTS_52[:12]), glob[:, :12])
    with pytest.raises(ValueError, match="parents"):
        global_rotations(local, PARENTS_52[:12])


def test_two_bone_ik_reaches_reachable_targets_keeps_lengths_and_bend_plane() -> None:
    g = torch.Generator().manual_seed(3)
    n, l1, l2 = 200, 0.4, 0.35
    hip = torch.randn(n, 3, generator=g, dtype=torch.float64)
    target = hip + unit(torch.randn(n, 3, generator=g, dtype=torch.float64)) * (
        0.06 + 0.68 * torch.rand(n, 1, generator=g, dtype=torch.float64))
    pole = hip + torch.randn(n, 3, generator=g, dtype=torch.float64)
    knee, end = two_bone_ik(hip, target, pole, l1, l2)
    assert torch.allclose(end, target, atol=1e-9)
    assert torch.allclose((knee - hip).norm(dim=-1), torch.full((n,), l1, dtype=hip.dtype), atol=1e-9)
    assert torch.allclose((end - knee).norm(dim=-1), torch.full((n,), l2, dtype=hip.dtype), atol=1e-9)
    normal = torch.linalg.cross(target - hip, pole - hip, dim=-1)
    assert ((knee - hip) * normal).sum(-1).abs().max() < 1e-9  # in the plane of hip, target and pole
    axis = unit(target - hip)
    side = (pole - hip) - ((pole - hip) * axis).sum(-1, keepdim=True) * axis
    assert (((knee - hip) * side).sum(-1) > 0).all()  # on the pole's side


def test_two_bone_ik_clamps_unreachable_targets_and_handles_a_straight_pole() -> None:
    hip = torch.zeros(2, 3, dtype=torch.float64)
    target = torch.tensor([[0.0, -2.0, 0.0], [0.0, -0.01, 0.0]], dtype=torch.float64)
    pole = torch.tensor([[0.0, -0.3, 0.0], [0.0, -0.3, 0.0]], dtype=torch.float64)  # on the hip–target line
    fallback = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    knee, end = two_bone_ik(hip, target, pole, 0.4, 0.35, fallback, eps=1e-4)
    assert torch.allclose(end[0], torch.tensor([0.0, -0.75 + 1e-4, 0.0], dtype=torch.float64))
    assert torch.allclose(end[1], torch.tensor([0.0, -(0.05 + 1e-4), 0.0], dtype=torch.float64))
    assert (knee[:, 2] > 0).all()  # bent towards the fallback direction
    assert torch.allclose((knee - hip).norm(dim=-1), torch.full((2,), 0.4, dtype=torch.float64))


# ---------------------------------------------------------------- lock planning


def test_clean_mask_fills_small_gaps_and_drops_short_runs() -> None:
    mask = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0], dtype=bool)
    out = clean_mask(mask, min_frames=4, max_gap=1)
    assert out.tolist() == [True] * 6 + [False] * 8 + [True] * 4 + [False]


def test_split_drifting_cuts_a_sliding_run_at_its_fastest_step() -> None:
    T = 60
    pos = np.zeros((T, 3))
    pos[30:, 0] = 0.5  # one jump of half a metre
    pos[:, 0] += np.linspace(0.0, 0.02, T)
    out = split_drifting(pos, np.ones(T, dtype=bool), max_drift=0.1, gap=4, min_frames=4)
    assert out[:28].all()
    assert out[32:].all()
    assert not out[28:32].any()
    assert split_drifting(pos[:25], np.ones(25, dtype=bool), 0.1, 4, 4).all()  # a small drift stays one run


def test_lock_offsets_hold_the_mean_and_fade_without_jumps() -> None:
    T = 80
    pos = np.stack([np.linspace(0.0, 0.8, T), 0.02 + 0.01 * np.sin(np.arange(T)), np.zeros(T)], axis=-1)
    mask = np.zeros(T, dtype=bool)
    mask[20:40] = mask[46:60] = True
    runs = run_locks(pos, mask, floor=0.0)
    offset, weight, hold = lock_offsets(pos, runs, blend_frames=6)
    target = pos + offset
    assert np.allclose(target[20:40], pos[20:40].mean(0))
    assert np.allclose(target[46:60], pos[46:60].mean(0))
    assert np.array_equal(target[:13], pos[:13])  # beyond the blend
    assert np.array_equal(target[67:], pos[67:])
    assert np.abs(np.diff(target, axis=0)).max() < 0.06  # no pop: a 6-frame gap cross-fades between the locks
    assert np.allclose(weight[40:46], 1.0)  # cross-faded gap
    assert (hold[40:46] < 1).all()
    assert (hold[14:20] > 0).all()


# ---------------------------------------------------------------- lock_feet


def test_lock_feet_plants_a_sliding_foot_and_leaves_the_rest_alone(skeleton: Skeleton) -> None:
    T = 60
    motion = crouch_motion(T, seed=4, slide=0.06)
    motion[10:50, 0] = motion[10:50, 2] = 1.0  # left ankle and toe marked planted while the body drifts
    original = motion.clone()
    # one lock per run however far the foot drifts, and a heel swaying up to 12 cm still counts as down
    out = lock_feet(motion, skeleton, max_drift=None, height_tolerance=0.1)
    assert torch.equal(motion, original)  # pure
    before, after = forward_kinematics(motion, skeleton), forward_kinematics(out, skeleton)
    assert speeds(before, 7)[10:49].mean() > 0.05
    for joint in (7, 10):
        assert speeds(after, joint)[10:49].max() < 0.01
    lock = before[10:50, 7].mean(0)  # the ankle is held at its mean position, where IK puts it exactly
    assert (after[10:50, 7] - lock).norm(dim=-1).max() < 1e-4
    leg = [c for j in LEG_JOINTS for c in range(7 + 6 * j, 13 + 6 * j)]
    others = [c for c in range(7, 319) if c not in leg]
    assert torch.equal(out[:, others], motion[:, others])
    assert torch.equal(out[:, ROOT], motion[:, ROOT])
    right = [c for j in (2, 5, 8) for c in range(7 + 6 * j, 13 + 6 * j)]
    assert torch.equal(out[:, right], motion[:, right])  # the right leg had nothing to do
    expected = torch.zeros(T, 4)
    expected[10:49, 0] = expected[10:49, 2] = 1.0  # held from t to t + 1 (foot_contacts' convention): 49 lifts off
    assert torch.equal(out[:, CONTACTS], expected)
    for a, b in ((1, 4), (4, 7), (7, 10)):
        assert torch.allclose((after[:, b] - after[:, a]).norm(dim=-1), (before[:, b] - before[:, a]).norm(dim=-1),
                              atol=1e-5)


def test_lock_feet_holds_overlapping_heel_and_toe_runs_together(skeleton: Skeleton) -> None:
    motion = crouch_motion(60, seed=10, slide=0.05)
    motion[5:30, 1] = 1.0  # right heel (ankle) planted first ...
    motion[20:50, 3] = 1.0  # ... then the toe, which stays after the heel lifts (the foot pivots on the toe)
    out = lock_feet(motion, skeleton, max_drift=None, height_tolerance=0.1)
    after = forward_kinematics(out, skeleton)
    assert speeds(after, 8)[5:29].max() < 0.01
    assert speeds(after, 11)[20:49].max() < 0.01
    assert torch.equal(out[:, 1] > 0, torch.arange(60).ge(5) & torch.arange(60).lt(29))
    foot = (after[:, 11] - after[:, 8]).norm(dim=-1)  # rigid foot: the bone keeps its length
    assert torch.allclose(foot, foot[0].expand(60), atol=1e-5)


def test_lock_feet_never_leaves_a_foot_joint_under_the_floor(skeleton: Skeleton) -> None:
    motion = crouch_motion(40, seed=5)
    motion[:, 5] -= 0.06  # the lowest foot joint 5 cm under y = 0
    motion[::4, CONTACTS] = 1.0  # flickering contacts: too short to lock
    before = forward_kinematics(motion, skeleton)
    assert before[:, list(FEET), 1].min() < -0.02
    out = lock_feet(motion, skeleton, floor=0.0)
    after = forward_kinematics(out, skeleton)
    assert after[:, list(FEET), 1].min() > -1e-5
    assert torch.equal(out[:, CONTACTS], torch.zeros(40, 4))
    upper = [c for j in range(52) if j not in LEG_JOINTS for c in range(7 + 6 * j, 13 + 6 * j)]
    assert torch.equal(out[:, upper], motion[:, upper])
    assert (after[:, :4] - before[:, :4]).abs().max() == 0  # pelvis, hips, spine1


def test_lock_feet_is_the_identity_without_contacts_or_penetration(skeleton: Skeleton) -> None:
    motion = crouch_motion(30, seed=6, slide=0.5)
    motion[5:25, 1] = 0.4  # below the threshold
    out = lock_feet(motion, skeleton)
    assert torch.equal(out[:, 4:], motion[:, 4:])
    assert torch.allclose(forward_kinematics(out, skeleton), forward_kinematics(motion, skeleton), atol=1e-6)


def test_lock_feet_ignores_contacts_of_a_lifted_foot(skeleton: Skeleton) -> None:
    motion = crouch_motion(30, seed=7, slide=0.1)
    motion[:, 5] += 0.3  # feet 33 cm up: the contact channels cannot mean planted
    motion[:, CONTACTS] = 1.0
    out = lock_feet(motion, skeleton)
    assert torch.equal(out[:, CONTACTS], torch.zeros(30, 4))
    assert torch.equal(out[:, 4:], motion[:, 4:])


def test_lock_feet_batch_matches_single_calls_and_writes_valid_rotations(skeleton: Skeleton) -> None:
    motions = torch.stack([crouch_motion(50, seed=8, slide=0.08), crouch_motion(50, seed=9, slide=-0.05)])
    motions[:, 5:45, CONTACTS] = 1.0
    motions[1, :, 5] -= 0.02
    out = lock_feet(motions, skeleton)
    assert out.shape == motions.shape
    assert out.dtype == motions.dtype
    for v in range(2):
        assert torch.allclose(out[v], lock_feet(motions[v], skeleton), atol=1e-6)
    d6 = out[..., ROTATIONS].reshape(2, 50, 52, 6)
    rows = d6.reshape(2, 50, 52, 2, 3)
    assert torch.allclose(rows.norm(dim=-1), torch.ones(2, 50, 52, 2), atol=1e-5)
    assert (rows[..., 0, :] * rows[..., 1, :]).sum(-1).abs().max() < 1e-5
    assert torch.allclose(rot6d_to_matrix(d6[..., list(LEG_JOINTS), :]).det(), torch.ones(2, 50, 6), atol=1e-5)
    with pytest.raises(ValueError, match="319"):
        lock_feet(motions[..., :315], skeleton)


def test_lock_feet_restores_the_planted_toes_of_a_procedural_dance(skeleton: Skeleton) -> None:
    rng = np.random.default_rng(0)
    dance = perform(STYLES["Hiphop"].dance, np.arange(0.3, 6.0, 0.5), 150, rng, skeleton)
    motion = from_finedance(dance.motion, skeleton)
    motion[:, CONTACTS] = 0.0
    motion[:, 2:4] = torch.from_numpy(dance.planted.astype(np.float32))  # toes planted as choreographed
    drift = torch.arange(150) / FPS * 0.15  # the generator's skate: the body slides 15 cm/s
    motion[:, 4] += drift
    out = lock_feet(motion, skeleton, floor=FLOOR_CLEARANCE)
    before, after = forward_kinematics(motion, skeleton), forward_kinematics(out, skeleton)
    held = out[:-1, 2:4] > 0.5  # contact at t: the toe stays put from t to t + 1
    assert held.sum() > 40
    toes_before = torch.stack([speeds(before, 10), speeds(before, 11)], dim=1)
    toes_after = torch.stack([speeds(after, 10), speeds(after, 11)], dim=1)
    assert toes_before[held].mean() > 0.1
    assert toes_after[held].max() < 0.01
    assert after[:, list(FEET), 1].min() > FLOOR_CLEARANCE - 1e-5
    speed = lambda j: (j[1:, :22] - j[:-1, :22]).norm(dim=-1).mean()  # noqa: E731
    assert abs(float(speed(after) / speed(before)) - 1.0) < 0.1
