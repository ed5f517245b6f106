"""Batched, differentiable rotation conversions (torch).

Conventions: matrices act on column vectors (``v' = R v``); quaternions are **w-first** ``(w, x, y, z)``;
axis-angle is a 3-vector whose direction is the axis and whose norm is the angle in radians; rot6d is the first
two **rows** of the matrix (the pytorch3d convention used by EDGE/FineDance/GCDance), turned back into a matrix by
Gram–Schmidt. All functions accept any leading batch shape and are safe (finite values and gradients) near the
angles 0 and π.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_EPS = 1e-8


def rot6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """(..., 6) rot6d → (..., 3, 3): Gram–Schmidt on the two stored rows, third row = their cross product."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = _unit(a1)
    b2 = _unit(a2 - (b1 * a2).sum(-1, keepdim=True) * b1)
    return torch.stack((b1, b2, _cross(b1, b2)), dim=-2)


def _unit(v: torch.Tensor) -> torch.Tensor:
    """v / √(‖v‖² + ε²) along the last axis: v/‖v‖ to float precision for ‖v‖ ≫ ε, finite at 0, and built from
    elementwise ops only (``F.normalize``'s clamp has no batching rule for ``is_grads_batched``)."""
    return v / (v.square().sum(-1, keepdim=True) + _EPS**2).sqrt()


def _cross(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a × b along the last axis (``torch.cross`` has no batching rule for ``is_grads_batched``)."""
    a1, a2, a3 = a.unbind(-1)
    b1, b2, b3 = b.unbind(-1)
    return torch.stack((a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1), dim=-1)


def matrix_to_rot6d(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) → (..., 6): the first two rows, concatenated."""
    return matrix[..., :2, :].reshape(*matrix.shape[:-2], 6)


def quaternion_to_matrix(quat: torch.Tensor) -> torch.Tensor:
    """(..., 4) w-first quaternion (normalised here) → (..., 3, 3)."""
    w, x, y, z = F.normalize(quat, dim=-1, eps=_EPS).unbind(-1)
    m = torch.stack(
        (
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ),
        dim=-1,
    )
    return m.reshape(*quat.shape[:-1], 3, 3)


def _safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """sqrt(max(x, 0)) with a zero (not infinite) gradient at and below 0."""
    positive = x > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, x, torch.ones_like(x))), torch.zeros_like(x))


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) → (..., 4) w-first unit quaternion with w ≥ 0.

    Computes the four candidate quaternions (one per largest diagonal term) and keeps the best-conditioned one,
    so it stays accurate for every angle including π.
    """
    m = matrix
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    q_abs = _safe_sqrt(
        torch.stack(
            (1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22), dim=-1
        )
    )  # 2|w|, 2|x|, 2|y|, 2|z|
    candidates = torch.stack(
        (
            torch.stack((q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01), dim=-1),
            torch.stack((m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20), dim=-1),
            torch.stack((m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21), dim=-1),
            torch.stack((m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2), dim=-1),
        ),
        dim=-2,
    )  # row k = 2·|q_k|·q
    candidates = candidates / (2.0 * q_abs[..., None].clamp_min(0.1))
    best = q_abs.argmax(dim=-1)
    quat = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    quat = F.normalize(quat, dim=-1, eps=_EPS)
    return torch.where(quat[..., :1] < 0, -quat, quat)


def axis_angle_to_quaternion(axis_angle: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle → (..., 4) w-first unit quaternion."""
    angle = torch.linalg.vector_norm(axis_angle, dim=-1, keepdim=True)
    half = 0.5 * angle
    small = angle < 1e-4
    safe_angle = torch.where(small, torch.ones_like(angle), angle)
    # sin(θ/2)/θ, Taylor series near 0
    scale = torch.where(small, 0.5 - angle * angle / 48.0, torch.sin(half) / safe_angle)
    return torch.cat((torch.cos(half), axis_angle * scale), dim=-1)


def quaternion_to_axis_angle(quat: torch.Tensor) -> torch.Tensor:
    """(..., 4) w-first quaternion → (..., 3) axis-angle with angle in [0, π]."""
    quat = F.normalize(quat, dim=-1, eps=_EPS)
    quat = torch.where(quat[..., :1] < 0, -quat, quat)
    xyz = quat[..., 1:]
    sin_half = torch.linalg.vector_norm(xyz, dim=-1, keepdim=True)
    half = torch.atan2(sin_half, quat[..., :1])
    small = sin_half < 1e-4
    safe_sin = torch.where(small, torch.ones_like(sin_half), sin_half)
    # θ / sin(θ/2) = 2·h / sin(h), Taylor series near 0
    scale = torch.where(small, 2.0 + half * half / 3.0, 2.0 * half / safe_sin)
    return xyz * scale


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle → (..., 3, 3)."""
    return quaternion_to_matrix(axis_angle_to_quaternion(axis_angle))


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) → (..., 3) axis-angle (through the quaternion, accurate near 0 and π)."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def rot6d_to_axis_angle(d6: torch.Tensor) -> torch.Tensor:
    """(..., 6) rot6d → (..., 3) axis-angle."""
    return matrix_to_axis_angle(rot6d_to_matrix(d6))


def axis_angle_to_rot6d(axis_angle: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle → (..., 6) rot6d."""
    return matrix_to_rot6d(axis_angle_to_matrix(axis_angle))


def quaternion_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product of w-first quaternions (rotation ``a`` after ``b``)."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        dim=-1,
    )


def slerp(q0: torch.Tensor, q1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Spherical linear interpolation of w-first quaternions along the shorter arc.

    ``t`` broadcasts against the quaternions' batch shape (give it shape (..., 1) or a float); t = 0 gives
    ``q0``, t = 1 gives ``q1`` (up to sign). Nearly parallel inputs fall back to normalised linear interpolation.
    """
    q0 = F.normalize(q0, dim=-1, eps=_EPS)
    q1 = F.normalize(q1, dim=-1, eps=_EPS)
    t = torch.as_tensor(t, dtype=q0.dtype, device=q0.device)
    if t.dim() == 0 or t.shape[-1] != 1:
        t = t[..., None]
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    near = dot > 0.9995
    theta = torch.acos(torch.where(near, torch.zeros_like(dot), dot))
    sin_theta = torch.where(near, torch.ones_like(theta), torch.sin(theta))
    w0 = torch.where(near, 1.0 - t, torch.sin((1.0 - t) * theta) / sin_theta)
    w1 = torch.where(near, t, torch.sin(t * theta) / sin_theta)
    return F.normalize(w0 * q0 + w1 * q1, dim=-1, eps=_EPS)
