"""Motion core: rotation conversions, skeleton, forward kinematics, contacts, mirroring, layout masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dancegen.errors import DancegenError
from dancegen.motion import (
    JOINT_NAMES_52,
    JOINT_NAMES_55,
    PARENTS_52,
    PARENTS_55,
    SMPLH_TO_SMPLX,
    Skeleton,
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    axis_angle_to_rot6d,
    channel_mask,
    foot_contacts,
    forward_kinematics,
    forward_kinematics_matrices,
    from_finedance,
    joint_channels,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rot6d,
    mirror,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    rot6d_to_axis_angle,
    rot6d_to_matrix,
    slerp,
    to_finedance,
)

torch.set_default_dtype(torch.float32)


def random_rotations(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, 4, generator=g, dtype=torch.float64)
    return quaternion_to_matrix(q)


def identity_motion(*shape: int) -> torch.Tensor:
    motion = torch.zeros(*shape, 319)
    motion[..., 7:] = matrix_to_rot6d(torch.eye(3)).repeat(52)
    return motion


def random_motion(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    motion = torch.zeros(*shape, 319)
    motion[..., 4:7] = torch.randn(*shape, 3, generator=g) * 0.3
    aa = torch.randn(*shape, 52, 3, generator=g) * 0.8
    motion[..., 7:] = axis_angle_to_rot6d(aa).reshape(*shape, 312)
    return motion


def test_hierarchy_matches_facts():
    assert len(JOINT_NAMES_52) == 52
    assert len(JOINT_NAMES_55) == 55
    assert list(PARENTS_55) == [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
                                20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38, 21, 40, 41, 21, 43, 44,
                                21, 46, 47, 21, 49, 50, 21, 52, 53]
    assert JOINT_NAMES_55[22:25] == ("jaw", "left_eye", "right_eye")
    assert all(JOINT_NAMES_55[SMPLH_TO_SMPLX[i]] == JOINT_NAMES_52[i] for i in range(52))
    assert JOINT_NAMES_52[7] == "left_ankle"
    assert JOINT_NAMES_52[11] == "right_foot"
    assert JOINT_NAMES_52[22:25] == ("left_index1", "left_index2", "left_index3")
    assert JOINT_NAMES_52[-1] == "right_thumb3"
    assert PARENTS_52[37] == 21


def test_rot6d_and_quaternion_round_trips():
    R = random_rotations(500)
    assert torch.allclose(rot6d_to_matrix(matrix_to_rot6d(R)), R, atol=1e-5)
    assert torch.allclose(quaternion_to_matrix(matrix_to_quaternion(R)), R, atol=1e-5)
    assert torch.allclose(axis_angle_to_matrix(matrix_to_axis_angle(R)), R, atol=1e-5)
    q = matrix_to_quaternion(R)
    assert (q[:, 0] >= 0).all()
    assert torch.allclose(axis_angle_to_quaternion(quaternion_to_axis_angle(q)), q, atol=1e-5)
    # float32 too
    R32 = R.float()
    assert torch.allclose(rot6d_to_matrix(matrix_to_rot6d(R32)), R32, atol=1e-5)
    assert torch.allclose(axis_angle_to_matrix(rot6d_to_axis_angle(matrix_to_rot6d(R32))), R32, atol=1e-5)


@pytest.mark.parametrize("angle", [0.0, 1e-7, 1e-3, math.pi / 2, math.pi - 1e-4, math.pi])
def test_axis_angle_safe_near_zero_and_pi(angle):
    axis = torch.tensor([0.3, -0.5, 0.8], dtype=torch.float64)
    aa = (axis / axis.norm() * angle).requires_grad_(True)
    R = axis_angle_to_matrix(aa)
    back = matrix_to_axis_angle(R)
    assert torch.allclose(axis_angle_to_matrix(back), R, atol=1e-6)
    if angle < math.pi - 1e-3:
        assert torch.allclose(back, aa, atol=1e-6)
    back.sum().backward()
    assert torch.isfinite(aa.grad).all()


def test_known_rotation_and_slerp():
    R = axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2]))
    assert torch.allclose(R @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
    q0 = axis_angle_to_quaternion(torch.tensor([0.0, 0.0, 0.0]))
    q1 = axis_angle_to_quaternion(torch.tensor([0.0, 1.2, 0.0]))
    assert torch.allclose(slerp(q0, q1, 0.0), q0, atol=1e-6)
    assert torch.allclose(slerp(q0, q1, 1.0), q1, atol=1e-6)
    mid = quaternion_to_axis_angle(slerp(q0, q1, 0.5))
    assert torch.allclose(mid, torch.tensor([0.0, 0.6, 0.0]), atol=1e-6)
    # shorter arc: −q1 is the same rotation
    assert torch.allclose(quaternion_to_axis_angle(slerp(q0, -q1, 0.5)), mid, atol=1e-6)
    ts = torch.linspace(0, 1, 5)[:, None]
    assert slerp(q0.expand(5, 4), q1.expand(5, 4), ts).shape == (5, 4)


def test_fk_identity_is_rest_pose():
    skel = Skeleton.default()
    joints = forward_kinematics(identity_motion(3, 4), skel)
    assert joints.shape == (3, 4, 55, 3)
    assert torch.allclose(joints, skel.rest_joints.expand(3, 4, 55, 3), atol=1e-6)
    root = torch.tensor([1.0, 2.0, 3.0])
    rot = torch.eye(3).expand(52, 3, 3)
    assert torch.allclose(forward_kinematics_matrices(rot, root, skel), skel.rest_joints + root, atol=1e-6)


def test_default_skeleton_is_plausible():
    skel = Skeleton.default()
    J = skel.rest_joints
    height = float(J[15, 1] - J[:, 1].min())  # head joint above the lowest foot joint
    assert 1.35 < height < 1.65
    left = [i for i, n in enumerate(JOINT_NAMES_55) if n.startswith("left_")]
    right = [JOINT_NAMES_55.index("right_" + JOINT_NAMES_55[i][5:]) for i in left]
    assert torch.allclose(J[left] * torch.tensor([-1.0, 1, 1]), J[right])
    assert (J[left, 0] > 0).all()
    assert float(J[20, 0]) > 0.5  # T-pose: left wrist far along +x
    assert float(J[JOINT_NAMES_55.index("left_thumb3"), 2]) > float(J[20, 2])  # thumb forward (+z)
    assert skel.source.startswith("approximate")
    assert torch.allclose(skel.offsets[1], J[1] - J[0])


def test_bone_lengths_preserved_under_rotation():
    skel = Skeleton.default()
    joints = forward_kinematics(random_motion(8, 3, seed=1), skel)
    parents = torch.tensor(PARENTS_55[1:])
    rest_len = (skel.rest_joints[1:] - skel.rest_joints[parents]).norm(dim=-1)
    lengths = (joints[..., 1:, :] - joints[..., parents, :]).norm(dim=-1)
    assert torch.allclose(lengths, rest_len.expand_as(lengths), atol=1e-5)


def test_elbow_rotation_moves_wrist():
    skel = Skeleton.default()
    motion = identity_motion(1)
    motion[0, joint_channels("left_elbow")] = axis_angle_to_rot6d(torch.tensor([0.0, math.pi / 2, 0.0]))
    joints = forward_kinematics(motion, skel)[0]
    J = skel.rest_joints
    forearm = float(J[20, 0] - J[18, 0])
    # rotating +90° about y turns the +x forearm to −z
    assert torch.allclose(joints[20], J[18] + torch.tensor([0.0, 0.0, -forearm]), atol=1e-5)
    assert torch.allclose(joints[:20], J[:20], atol=1e-6)  # parents unaffected
    assert torch.allclose(joints[21], J[21], atol=1e-6)


def test_jaw_and_eyes_follow_head():
    skel = Skeleton.default()
    motion = identity_motion(1)
    motion[0, joint_channels("neck")] = axis_angle_to_rot6d(torch.tensor([0.7, 0.2, 0.0]))
    joints = forward_kinematics(motion, skel)[0]
    for i in (22, 23, 24):
        rest = float((skel.rest_joints[i] - skel.rest_joints[15]).norm())
        assert math.isclose(float((joints[i] - joints[15]).norm()), rest, abs_tol=1e-6)
    assert not torch.allclose(joints[22], skel.rest_joints[22], atol=1e-3)


def test_gradient_flows_through_fk():
    motion = random_motion(2, 5, seed=2).requires_grad_(True)
    joints = forward_kinematics(motion, Skeleton.default())
    joints.square().sum().backward()
    grad = motion.grad
    assert torch.isfinite(grad).all()
    assert grad[..., 4:7].abs().sum() > 0
    assert grad[..., 7:13].abs().sum() > 0
    assert grad[..., joint_channels("right_thumb3")].abs().sum() == 0  # leaf rotation moves no joint
    assert grad[..., joint_channels("right_thumb2")].abs().sum() > 0


def test_mirror_twice_is_identity_and_reflects_fk():
    motion = random_motion(2, 6, seed=3)
    motion[..., :4] = torch.rand(2, 6, 4).round()
    assert torch.allclose(mirror(mirror(motion)), motion, atol=1e-6)
    mirrored = mirror(motion)
    assert torch.equal(mirrored[..., :4], motion[..., [1, 0, 3, 2]])
    skel = Skeleton.default()  # symmetric, so FK commutes with mirroring
    j = forward_kinematics(motion, skel)
    jm = forward_kinematics(mirrored, skel)
    perm = [JOINT_NAMES_55.index(n.replace("left_", "@").replace("right_", "left_").replace("@", "right_"))
            for n in JOINT_NAMES_55]
    assert torch.allclose(jm, (j * torch.tensor([-1.0, 1.0, 1.0]))[..., perm, :], atol=1e-5)


def test_contacts_on_walking_motion():
    skel = Skeleton.default()
    T = 20
    motion = identity_motion(T)
    # frames 0–9: the left leg swings (hip angle changes 0.1 rad per frame); afterwards everything stands still
    angles = torch.cat((torch.arange(10) * 0.1, torch.full((10,), 0.9)))
    motion[:, joint_channels("left_hip")] = axis_angle_to_rot6d(torch.stack((angles, 0 * angles, 0 * angles), -1))
    contacts = foot_contacts(forward_kinematics(motion, skel))
    assert contacts.shape == (T, 4)
    assert (contacts[:9, [0, 2]] == 0).all()  # left ankle/foot moving
    assert (contacts[9:-1, [0, 2]] == 1).all()
    assert (contacts[:-1, [1, 3]] == 1).all()  # right foot planted
    assert (contacts[-1] == 0).all()
    # whole body translating at 0.5 m/s (1.7 cm per frame) → no contact
    motion[:, 4] = torch.arange(T) * 0.5 / 30
    motion[:, joint_channels("left_hip")] = axis_angle_to_rot6d(torch.zeros(3))
    assert foot_contacts(forward_kinematics(motion, skel)).sum() == 0


def test_finedance_conversion():
    arr = random_motion(10, seed=4)[:, 4:].numpy()
    arr[:, :3] = 0.0
    motion = from_finedance(arr)
    assert motion.shape == (10, 319)
    assert motion.dtype == torch.float32
    assert torch.equal(to_finedance(motion), torch.from_numpy(arr))
    assert set(motion[:, :4].unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(DancegenError, match="315"):
        from_finedance(np.zeros((10, 319)))


def test_channel_masks():
    body = channel_mask(["body"])
    assert body[:139].all()
    assert not body[139:].any()
    hands = channel_mask("hands")
    assert hands[139:].all()
    assert not hands[:139].any()
    assert channel_mask("left_hand")[139:229].all()
    assert not channel_mask("left_hand")[229:].any()
    lower, upper = channel_mask("lower"), channel_mask("upper")
    assert lower[:7].all()
    assert not upper[:7].any()
    assert not (lower & upper).any()
    assert torch.equal(lower | upper, body)
    m = channel_mask(["left_elbow", 5], include_root=True)
    assert m.sum() == 6 + 6 + 3
    assert m[joint_channels(18)].all()
    assert m[joint_channels(5)].all()
    assert channel_mask("lower", include_contacts=False)[:4].sum() == 0
    with pytest.raises(DancegenError, match="unknown joint"):
        channel_mask(["left_tail"])


def test_skeleton_constructors(tmp_path):
    good = tmp_path / "j.npy"
    np.save(good, Skeleton.default().rest_joints.numpy() * 1.1)
    skel = Skeleton.from_joints_file(good)
    assert skel.source == f"joints-file:{good}"
    assert torch.allclose(skel.rest_joints, Skeleton.default().rest_joints * 1.1)
    np.save(tmp_path / "bad.npy", np.zeros((52, 3)))
    with pytest.raises(DancegenError, match=r"\(55, 3\)"):
        Skeleton.from_joints_file(tmp_path / "bad.npy")
    nan = np.zeros((55, 3))
    nan[3, 1] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(DancegenError, match="NaN"):
        Skeleton.from_joints_file(tmp_path / "nan.npy")
    with pytest.raises(DancegenError, match="not found"):
        Skeleton.from_joints_file(tmp_path / "missing.npy")
    with pytest.raises(DancegenError, match=r"smplx|SMPL-X"):
        Skeleton.from_smplx(tmp_path)
    assert skel.to("cpu").rest_joints.device.type == "cpu"


def _loop_fk(motion: torch.Tensor, skel: Skeleton) -> torch.Tensor:
    """Reference FK, one joint at a time in float64 (G_i = G_p R_i, p_i = p_p + G_p (J_i − J_p))."""
    rot = rot6d_to_matrix(motion[..., 7:].reshape(*motion.shape[:-1], 52, 6).double())
    rest = skel.rest_joints.double()
    glob, pos = [rot[..., 0, :, :]], [rest[0] + motion[..., 4:7].double()]
    for i in range(1, 52):
        p = PARENTS_52[i]
        off = rest[SMPLH_TO_SMPLX[i]] - rest[SMPLH_TO_SMPLX[p]]
        glob.append(glob[p] @ rot[..., i, :, :])
        pos.append(pos[p] + glob[p] @ off)
    face = [pos[15] + glob[15] @ (rest[i] - rest[15]) for i in (22, 23, 24)]
    return torch.stack(pos[:22] + face + pos[22:], dim=-2)


def test_fk_matches_joint_by_joint_reference():
    skel = Skeleton.default()
    motion = random_motion(3, 7, seed=4)
    torch.testing.assert_close(forward_kinematics(motion, skel).double(), _loop_fk(motion, skel), atol=2e-6, rtol=0)
    rot = rot6d_to_matrix(motion[..., 7:].reshape(3, 7, 52, 6))
    torch.testing.assert_close(forward_kinematics_matrices(rot, motion[..., 4:7], skel),
                               forward_kinematics(motion, skel))


def test_fk_per_task_gradients_batch_without_fallback():
    """The losses' graph through FK has batching rules everywhere: mtlkit's vmapped per-task gradients run
    without the slow per-example fallback (an ``index``/``cross``/``normalize`` would trigger it)."""
    import warnings

    from dancegen.losses import task_losses

    skel = Skeleton.default()
    x0 = random_motion(2, 8, seed=5)
    pred = random_motion(2, 8, seed=6).requires_grad_(True)
    losses, _ = task_losses(pred, x0, skel, tasks=("S", "J", "V", "F"))
    torch._C._debug_only_display_vmap_fallback_warnings(True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (batched,) = torch.autograd.grad(losses, pred, torch.eye(4), is_grads_batched=True, retain_graph=True)
    finally:
        torch._C._debug_only_display_vmap_fallback_warnings(False)
    assert not [w for w in caught if "batching rule" in str(w.message)]
    for k in range(4):
        (row,) = torch.autograd.grad(losses[k], pred, retain_graph=True)
        torch.testing.assert_close(batched[k], row)
