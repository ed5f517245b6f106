"""Small vectorised inverse-kinematics helpers (torch, any leading batch shape).

* :func:`global_rotations`: local → global joint rotations along a parent list (G_i = G_parent(i) · R_i);
  :func:`joint_positions`: the joint positions from those (forward kinematics on a prefix of the skeleton).
* :func:`swing_rotation`: the minimal rotation taking one unit vector to another (Rodrigues' formula).
* :func:`two_bone_ik`: the analytic two-bone (hip–knee–ankle) solution by the law of cosines, with the knee kept in
  the plane of a pole point (the classic "two-joint IK with pole vector" of character animation).

Matrices act on column vectors (``v' = R v``), as in :mod:`dancegen.motion.rotations`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .skeleton import PARENTS_52

_TINY = 1e-12


def global_rotations(local: torch.Tensor, parents: Sequence[int] = PARENTS_52) -> torch.Tensor:
    """Local rotations (..., J, 3, 3) → global rotations (..., J, 3, 3), G_i = G_parent(i) · R_i.

    ``parents`` has J entries (−1 for the root) with every parent before its child, so a prefix of
    :data:`PARENTS_52` (e.g. the first 12 joints: pelvis, hips, spine, knees, ankles, feet) works on a prefix of the
    joints.
    """
    if local.shape[-3] != len(parents):
        raise ValueError(f"{len(parents)} parents for {local.shape[-3]} joints")
    out: list[torch.Tensor] = []
    for i, p in enumerate(parents):
        if p >= i:
            raise ValueError(f"joint {i}'s parent {p} does not precede it")
        out.append(local[..., i, :, :] if p < 0 else out[p] @ local[..., i, :, :])
    return torch.stack(out, dim=-3)


def joint_positions(glob: torch.Tensor, rest: torch.Tensor, root: torch.Tensor,
                    parents: Sequence[int] = PARENTS_52) -> torch.Tensor:
    """Joint positions (..., J, 3) from global rotations (..., J, 3, 3), rest joints (J, 3) and root translations
    (..., 3): p_0 = J_0 + root, p_i = p_parent(i) + G_parent(i) · (J_i − J_parent(i)) (as forward kinematics)."""
    out = [rest[0] + root]
    for i, p in enumerate(parents[1:], start=1):
        out.append(out[p] + (glob[..., p, :, :] @ (rest[i] - rest[p])[:, None])[..., 0])
    return torch.stack(out, dim=-2)


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(_TINY)


def _skew(v: torch.Tensor) -> torch.Tensor:
    """(..., 3) → (..., 3, 3) cross-product matrix [v]× (so [v]× w = v × w)."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack((zero, -z, y, z, zero, -x, -y, x, zero), dim=-1).reshape(*v.shape, 3)


def _perpendicular(a: torch.Tensor) -> torch.Tensor:
    """A unit vector ⟂ a: a × x̂ = (0, a_z, −a_y), or a × ŷ = (−a_z, 0, a_x) when a is close to x̂."""
    x, y, z = a.unbind(-1)
    zero = torch.zeros_like(x)
    near_x = (x.abs() > 0.9)[..., None]
    return _unit(torch.where(near_x, torch.stack((-z, zero, x), dim=-1), torch.stack((zero, z, -y), dim=-1)))


def swing_rotation(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Minimal rotation (..., 3, 3) with R a = b for unit vectors a, b (..., 3) (inputs are normalised here).

    Rodrigues' formula for the rotation about a × b: R = I + [v]× + [v]×² / (1 + a·b), v = a × b. For nearly
    anti-parallel vectors (a·b < −1 + ``eps``) it is the half turn about an axis ⟂ a (any one is minimal).
    Use float64 for accuracy near the anti-parallel case.
    """
    a, b = _unit(a), _unit(b)
    v = torch.linalg.cross(a, b, dim=-1)
    c = (a * b).sum(-1)
    flip = c < -1.0 + eps
    k = _skew(v)
    scale = (1.0 / torch.where(flip, torch.ones_like(c), 1.0 + c))[..., None, None]
    eye = torch.eye(3, dtype=a.dtype, device=a.device).expand(k.shape)
    rodrigues = eye + k + (k @ k) * scale
    n = _perpendicular(a)
    half_turn = 2.0 * n[..., :, None] * n[..., None, :] - eye
    return torch.where(flip[..., None, None], half_turn, rodrigues)


def two_bone_ik(
    root: torch.Tensor,
    target: torch.Tensor,
    pole: torch.Tensor,
    l1: float | torch.Tensor,
    l2: float | torch.Tensor,
    fallback: torch.Tensor | None = None,
    eps: float = 1e-4,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Analytic two-bone IK: (middle joint, reached end) positions (..., 3) for a chain root–middle–end.

    The end is placed on the ray root → ``target`` at the target's distance clamped to [|l1 − l2| + eps,
    l1 + l2 − eps] (so it lands exactly on a reachable target); the middle joint (knee) is at distance
    a = (l1² − l2² + d²) / 2d along that ray and h = √(l1² − a²) off it, towards the component of ``pole − root``
    perpendicular to the ray (the pole is typically the original knee, which keeps the bend plane). Where that
    component vanishes (straight leg, pole on the ray) the component of ``fallback`` (a direction, e.g. the
    thigh's forward axis) is used, then any perpendicular.
    """
    l1 = torch.as_tensor(l1, dtype=root.dtype, device=root.device)
    l2 = torch.as_tensor(l2, dtype=root.dtype, device=root.device)
    offset = target - root
    dist = offset.norm(dim=-1, keepdim=True)
    axis = torch.where(dist > _TINY, offset / dist.clamp_min(_TINY), _unit(pole - root))
    d = dist.clamp(min=(l1 - l2).abs() + eps, max=l1 + l2 - eps)
    end = root + axis * d
    along = (l1 * l1 - l2 * l2 + d * d) / (2.0 * d)
    height = (l1 * l1 - along * along).clamp_min(0.0).sqrt()
    bend = _reject(pole - root, axis)
    if fallback is not None:
        bend = torch.where(bend.norm(dim=-1, keepdim=True) > 1e-6, bend, _reject(fallback, axis))
    bend = torch.where(bend.norm(dim=-1, keepdim=True) > 1e-9, bend, _perpendicular(axis))
    middle = root + axis * along + _unit(bend) * height
    return middle, end


def _reject(v: torch.Tensor, axis: torch.Tensor) -> torch.Tensor:
    """The component of v perpendicular to the unit ``axis``."""
    return v - (v * axis).sum(-1, keepdim=True) * axis
