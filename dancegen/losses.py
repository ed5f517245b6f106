"""GCDance's task losses (paper eq. 5–8 plus genre classification), computed from one denoiser forward pass.

The vector [L_S, L_J, L_V, L_F, L_C] is what the multi-task aggregators of :mod:`mtlkit` balance; the no-MTL
baseline sums it with EDGE's fixed weights (:data:`EDGE_WEIGHTS`).

Spaces: x̂0 and x0 are the model's normalised 319-D motion. L_S and L_V compare them as they are (as the reference
code does). L_J and L_F need metres: pass the ``normalizer`` and both are unnormalised before forward kinematics.
Without a normaliser FK runs on the values given, which reproduces the reference code's quirk when those are
normalised (EDGE/GCDance run FK on min-max-normalised motion).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import DancegenError
from .model.normalizer import MotionNormalizer
from .motion import FOOT_JOINTS, Skeleton, forward_kinematics
from .motion.layout import BODY_CHANNELS, NUM_CHANNELS

#: Task names: S sample (x0) MSE, J joint positions, V velocity, F foot contact, C genre classification.
TASKS: tuple[str, ...] = ("S", "J", "V", "F", "C")
#: EDGE's fixed loss weights, the no-MTL baseline: 0.636 L_S + 2.964 L_V + 0.646 L_J + 10.942 L_F.
EDGE_WEIGHTS: dict[str, float] = {"S": 0.636, "V": 2.964, "J": 0.646, "F": 10.942}
#: Predicted contact above this marks a foot as static (L_F).
CONTACT_THRESHOLD = 0.95

_FIRST_HAND_JOINT_55 = 25  # SMPL-X: hand joints are 25–54


def _masked_mse(diff: Tensor, weight: Tensor | None) -> Tensor:
    """Mean of diff² over all entries, or over the entries where ``weight`` (broadcastable) is 1."""
    sq = diff.pow(2)
    if weight is None:
        return sq.mean()
    w = weight.to(sq.dtype).expand_as(sq)
    return (sq * w).sum() / w.sum().clamp(min=1)


def _check_tasks(tasks: Sequence[str]) -> list[str]:
    names = list(tasks)
    unknown = [n for n in names if n not in TASKS]
    if unknown or not names:
        raise DancegenError(f"unknown or empty task list {names}; tasks are named among {', '.join(TASKS)}")
    if len(set(names)) != len(names):
        raise DancegenError(f"task list has duplicates: {names}")
    return names


def task_loss_terms(
    x0_pred: Tensor,
    x0: Tensor,
    skeleton: Skeleton,
    genre_logits: Tensor | None = None,
    genre_labels: Tensor | None = None,
    tasks: Sequence[str] = TASKS,
    hands_present: Tensor | None = None,
    normalizer: MotionNormalizer | None = None,
) -> dict[str, Tensor]:
    """The task losses as separate scalars {name: L}, in the order of ``tasks`` (see :func:`task_losses`).

    Separate scalars let :func:`mtlkit.backward` differentiate each over its own graph.

    * L_S = MSE(x̂0, x0) over the 319 channels (eq. 5).
    * L_J = MSE of forward-kinematics joint positions (55 SMPL-X joints, metres) pred vs GT (eq. 6).
    * L_V = MSE of first time-differences of channels 4: (no contacts) (eq. 7).
    * L_F = MSE against 0 of predicted foot-joint velocities (joints 7, 8, 10, 11) on frames whose predicted
      contact (channels 0:4, same order) exceeds 0.95; the last frame's velocity is 0, the mean runs over all
      B·T·4·3 entries as in the reference code (eq. 8).
    * L_C = cross-entropy of the text → genre classifier's ``genre_logits`` (B, G) against ``genre_labels`` (B,).

    ``hands_present`` (B,) bool excludes the hand channels (139:) and hand joints (SMPL-X 25–54) of samples whose
    data has no hands (e.g. AIST++ SMPL) from L_S, L_V and L_J.
    """
    names = _check_tasks(tasks)
    if x0_pred.shape != x0.shape or x0.ndim < 2 or x0.shape[-1] != NUM_CHANNELS:
        raise DancegenError(f"x0_pred and x0 must share a (..., T, 319) shape, got {tuple(x0_pred.shape)} and "
                            f"{tuple(x0.shape)}")
    channel_w = joint_w = None
    if hands_present is not None:
        hp = torch.as_tensor(hands_present, dtype=torch.bool, device=x0.device)
        if x0.ndim != 3 or hp.shape != (x0.shape[0],):
            raise DancegenError(f"hands_present must be ({x0.shape[0]},) bool for (B, T, 319) motion")
        channel_w = torch.ones(x0.shape[0], 1, NUM_CHANNELS, device=x0.device)
        channel_w[:, :, BODY_CHANNELS:] = hp[:, None, None].float()
        joint_w = torch.ones(x0.shape[0], 1, 55, 1, device=x0.device)
        joint_w[:, :, _FIRST_HAND_JOINT_55:] = hp[:, None, None, None].float()

    out: dict[str, Tensor] = {}
    if "S" in names:
        out["S"] = _masked_mse(x0_pred - x0, channel_w)
    if "V" in names:
        if x0.shape[-2] < 2:
            raise DancegenError("the velocity loss needs at least 2 frames")
        v_pred = x0_pred[..., 1:, 4:] - x0_pred[..., :-1, 4:]
        v_true = x0[..., 1:, 4:] - x0[..., :-1, 4:]
        out["V"] = _masked_mse(v_pred - v_true, None if channel_w is None else channel_w[..., 4:])
    if "J" in names or "F" in names:
        pred_raw = normalizer.unnormalize(x0_pred) if normalizer is not None else x0_pred
        joints_pred = forward_kinematics(pred_raw, skeleton)
        if "J" in names:
            true_raw = normalizer.unnormalize(x0) if normalizer is not None else x0
            out["J"] = _masked_mse(joints_pred - forward_kinematics(true_raw, skeleton), joint_w)
        if "F" in names:
            # (..., T, 4, 3) by slices: an index's backward (index_put) has no batching rule for per-task grads
            feet = torch.cat([joints_pred.narrow(-2, j, 1) for j in FOOT_JOINTS], dim=-2)
            vel = torch.cat((feet[..., 1:, :, :] - feet[..., :-1, :, :], torch.zeros_like(feet[..., :1, :, :])), -3)
            static = (x0_pred[..., :4] > CONTACT_THRESHOLD).detach()
            out["F"] = (vel * static[..., None].to(vel.dtype)).pow(2).mean()
    if "C" in names:
        if genre_logits is None or genre_labels is None:
            raise DancegenError("task 'C' needs genre_logits and genre_labels (a text controller with a classifier)")
        if genre_logits.ndim != 2 or genre_labels.shape != genre_logits.shape[:1]:
            raise DancegenError(f"genre_logits must be (B, G) and genre_labels (B,), got "
                                f"{tuple(genre_logits.shape)} and {tuple(genre_labels.shape)}")
        out["C"] = F.cross_entropy(genre_logits, genre_labels.long())
    return {n: out[n] for n in names}


def task_losses(
    x0_pred: Tensor,
    x0: Tensor,
    skeleton: Skeleton,
    genre_logits: Tensor | None = None,
    genre_labels: Tensor | None = None,
    tasks: Sequence[str] = TASKS,
    hands_present: Tensor | None = None,
    normalizer: MotionNormalizer | None = None,
) -> tuple[Tensor, list[str]]:
    """The task-loss vector (K,) in the order of ``tasks``, and the task names: :func:`task_loss_terms`, stacked."""
    terms = task_loss_terms(x0_pred, x0, skeleton, genre_logits, genre_labels, tasks, hands_present, normalizer)
    return torch.stack(list(terms.values())), list(terms)


def edge_weighted_loss(losses: Tensor, names: Sequence[str], weights: dict[str, float] = EDGE_WEIGHTS) -> Tensor:
    """Σ w_k L_k with fixed weights (EDGE's by default); tasks without a weight (e.g. C) count with weight 1."""
    if losses.shape != (len(names),):
        raise DancegenError(f"losses {tuple(losses.shape)} do not match the {len(names)} task names")
    w = torch.tensor([weights.get(n, 1.0) for n in names], dtype=losses.dtype, device=losses.device)
    return (w * losses).sum()
