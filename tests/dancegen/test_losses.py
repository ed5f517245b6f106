"""task_losses: each task's definition, masking, switching and gradients."""

import pytest
import torch

from dancegen.errors import DancegenError
from dancegen.losses import EDGE_WEIGHTS, TASKS, edge_weighted_loss, task_losses
from dancegen.model import MotionNormalizer
from dancegen.motion import Skeleton, axis_angle_to_rot6d, forward_kinematics

SKEL = Skeleton.default()


def _motion(b=2, n=10, seed=0):
    """Plausible 319-D motion: small random joint rotations, a drifting root, random 0/1 contacts."""
    g = torch.Generator().manual_seed(seed)
    aa = 0.3 * torch.randn(b, n, 52, 3, generator=g)
    rot6d = axis_angle_to_rot6d(aa).reshape(b, n, 312)
    root = torch.cumsum(0.02 * torch.randn(b, n, 3, generator=g), dim=1)
    contacts = (torch.rand(b, n, 4, generator=g) > 0.5).float()
    return torch.cat((contacts, root, rot6d), dim=-1)


def _logits(b=2):
    return torch.randn(b, 16, generator=torch.Generator().manual_seed(1)), torch.tensor([3, 7])[:b]


def test_names_and_shape():
    x = _motion()
    logits, labels = _logits()
    losses, names = task_losses(x + 0.01, x, SKEL, logits, labels)
    assert names == list(TASKS) == ["S", "J", "V", "F", "C"]
    assert losses.shape == (5,)
    assert torch.isfinite(losses).all()
    losses, names = task_losses(x + 0.01, x, SKEL, tasks=("V", "S"))
    assert names == ["V", "S"]
    assert losses.shape == (2,)


def test_perfect_prediction_gives_zero_and_perturbation_positive():
    x = _motion()
    x[..., :4] = 0.0  # no predicted contact: L_F is exactly 0 for x as well as for the perturbed copy
    losses, _names = task_losses(x.clone(), x, SKEL, tasks=("S", "J", "V"))
    torch.testing.assert_close(losses, torch.zeros(3))
    y = x.clone()
    y[..., 7:] += 0.05 * torch.randn_like(y[..., 7:])
    losses, _ = task_losses(y, x, SKEL, tasks=("S", "J", "V"))
    assert (losses > 0).all()
    # C: zero-ish for confident right logits, positive for wrong ones
    labels = torch.tensor([3, 7])
    right = torch.full((2, 16), -50.0)
    right[0, 3] = right[1, 7] = 50.0
    lc, _ = task_losses(x, x, SKEL, right, labels, tasks=("C",))
    assert lc.item() < 1e-6
    lc, _ = task_losses(x, x, SKEL, -right, labels, tasks=("C",))
    assert lc.item() > 10


def test_velocity_loss_only_on_channels_from_4():
    x = _motion()
    y = x.clone()
    y[:, ::2, :4] = 1 - y[:, ::2, :4]  # flicker the contacts only: changes velocities of channels 0:4
    (lv,), _ = task_losses(y, x, SKEL, tasks=("V",))
    assert lv.item() == 0.0
    y = x.clone()
    y[:, 3:, 5] += 0.1  # a step in root y from frame 3: one velocity entry differs by 0.1 per sample
    (lv,), _ = task_losses(y, x, SKEL, tasks=("V",))
    b, n = x.shape[:2]
    assert lv.item() == pytest.approx(b * 0.1**2 / (b * (n - 1) * 315), rel=1e-4)


def test_foot_loss_counts_only_predicted_contact_frames():
    x = _motion(b=1, n=8)
    x[..., :4] = 0.0
    (lf,), _ = task_losses(x, x, SKEL, tasks=("F",))
    assert lf.item() == 0.0  # the feet move, but no contact is predicted
    y = x.clone()
    y[0, 2, 0] = 1.0  # left ankle in contact at frame 2 only
    (lf,), _ = task_losses(y, x, SKEL, tasks=("F",))
    joints = forward_kinematics(y, SKEL)
    v = joints[0, 3, 7] - joints[0, 2, 7]
    assert lf.item() == pytest.approx((v**2).sum().item() / (8 * 4 * 3), rel=1e-5)
    y[0, 2, 0] = 0.9  # below the 0.95 threshold
    (lf,), _ = task_losses(y, x, SKEL, tasks=("F",))
    assert lf.item() == 0.0
    # the last frame has no velocity
    y[0, 2, 0], y[0, 7, :] = 0.0, 1.0
    (lf,), _ = task_losses(y, x, SKEL, tasks=("F",))
    assert lf.item() == 0.0


def test_hands_present_masks_hand_channels_and_joints():
    x = _motion()
    y = x.clone()
    y[1, :, 139:] += 0.2 * torch.randn_like(y[1, :, 139:])  # only sample 1's hands are wrong
    hp = torch.tensor([True, False])
    losses, _ = task_losses(y, x, SKEL, tasks=("S", "J", "V"), hands_present=hp)
    torch.testing.assert_close(losses, torch.zeros(3))
    losses, _ = task_losses(y, x, SKEL, tasks=("S", "J", "V"), hands_present=torch.tensor([True, True]))
    assert (losses > 0).all()


def test_normalizer_unnormalises_before_fk():
    x = _motion(b=3, n=10)
    norm = MotionNormalizer.fit(x)
    z = norm.normalize(x)
    z_pred = z.clone()
    z_pred[..., 10] += 0.1
    (lj_norm,), _ = task_losses(z_pred, z, SKEL, tasks=("J",), normalizer=norm)
    (lj_raw,), _ = task_losses(norm.unnormalize(z_pred), x, SKEL, tasks=("J",))
    torch.testing.assert_close(lj_norm, lj_raw)


def test_gradients_flow_to_prediction():
    x = _motion()
    pred = (x + 0.05 * torch.randn_like(x)).requires_grad_(True)
    pred.data[..., :4] = 1.0  # all contacts on: L_F has a gradient too
    logits = torch.randn(2, 16, requires_grad=True)
    losses, names = task_losses(pred, x, SKEL, logits, torch.tensor([1, 2]))
    for k, name in enumerate(names):
        grads = torch.autograd.grad(losses[k], [pred, logits], retain_graph=True, allow_unused=True)
        target = grads[1] if name == "C" else grads[0]
        assert target is not None, name
        assert target.abs().sum() > 0, name


def test_task_switching_and_errors():
    x = _motion()
    with pytest.raises(DancegenError, match="genre_logits"):
        task_losses(x, x, SKEL, tasks=("S", "C"))
    with pytest.raises(DancegenError, match="unknown"):
        task_losses(x, x, SKEL, tasks=("S", "Q"))
    with pytest.raises(DancegenError, match="duplicates"):
        task_losses(x, x, SKEL, tasks=("S", "S"))
    with pytest.raises(DancegenError, match="319"):
        task_losses(x[..., :300], x[..., :300], SKEL)
    s_only, _ = task_losses(x + 0.1, x, SKEL, tasks=("S",))
    all5, names = task_losses(x + 0.1, x, SKEL, *_logits())
    torch.testing.assert_close(s_only[0], all5[names.index("S")])


def test_edge_weighted_loss():
    losses = torch.tensor([1.0, 2.0, 3.0, 4.0])
    names = ["S", "J", "V", "F"]
    expected = 0.636 * 1 + 0.646 * 2 + 2.964 * 3 + 10.942 * 4
    assert edge_weighted_loss(losses, names).item() == pytest.approx(expected)
    assert EDGE_WEIGHTS == {"S": 0.636, "V": 2.964, "J": 0.646, "F": 10.942}
