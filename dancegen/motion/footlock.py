"""Foot-contact clean-up ("foot locking") for generated 319-D motion: planted feet stay put, no foot below the floor.

Generated dances skate: feet marked planted by the contact channels slide and dip under the floor. :func:`lock_feet`
edits the legs only, after the usual foot-skate clean-up (Kovar, Schreiner & Gleicher, "Footskate Cleanup for Motion
Capture Editing", SCA 2002): per-contact lock targets, blended in and out, reached by analytic leg IK.

1. **Lock runs** per foot joint (ankles 7/8, toes 10/11): frames whose contact channel is above the threshold and
   whose joint is within ``height_tolerance`` of its planted height over the floor (a lifted foot is never locked,
   whatever the channel says); gaps of ≤ ``max_gap`` frames are filled, runs shorter than ``min_frames`` dropped,
   and a run whose joint drifts more than ``max_drift`` from its mean is split at its fastest step (a long "contact"
   of a shuffling foot becomes several steps instead of one lock dragging the leg tens of centimetres).
2. **Targets**: a run's joint is held at its mean position (y ≥ floor); an ankle lock and a toe lock that overlap
   are put exactly a foot length apart, so both hold at once. Around a run the offset to the lock fades out over
   ``blend_frames`` frames by smoothstep (across a short gap it cross-fades to the next lock's offset), so nothing
   pops. A foot joint without a lock of its own moves with its partner (the foot translates rigidly: the heel rises
   about a planted toe). Every foot-joint target is clamped to y ≥ floor.
3. **Leg IK** (:mod:`dancegen.motion.ik`): the knee from analytic two-bone IK with the original knee as the pole
   (the leg bends in the same plane); thigh and shin turn by minimal swings; the ankle keeps its global orientation
   unless the toe has a target of its own (held, or under the floor), then it swings to aim the toe there. A locked
   ankle has priority over a locked toe. Local rotations follow as R = G_parentᵀ · G; root, pelvis and everything
   above the hips are untouched, as are frames that need no change.

The output's contact channels are the locks actually enforced, in :func:`~dancegen.motion.contacts.foot_contacts`'
convention (contact at t: the joint stays put from t to t + 1), so "planted" in the file means planted in the motion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .contacts import FOOT_JOINTS
from .ik import global_rotations, joint_positions, swing_rotation, two_bone_ik
from .layout import CONTACTS, NUM_CHANNELS, ROOT, ROTATIONS
from .rotations import matrix_to_rot6d, rot6d_to_matrix
from .skeleton import PARENTS_52, Skeleton

#: (hip, knee, ankle, toe) joint indices of the left and right leg (SMPL-H = SMPL-X for these).
LEGS: tuple[tuple[int, int, int, int], ...] = ((1, 4, 7, 10), (2, 5, 8, 11))
_N_LOWER = 12  # joints 0–11 hold both legs, and every parent precedes its child
_CHUNK = 4096  # frames per batch of leg IK (bounds the temporaries' memory)


@dataclass(frozen=True)
class LockSettings:
    """How contact runs become locks (see the module doc and :func:`plan_locks`).

    ``contact_threshold``: contact channel above which a frame may lock (0.7: at 0.5 three of eight measured dances
    lost more than 10% joint speed); ``height_tolerance``: metres above the joint's planted height still counted as
    on the floor; ``min_frames``/``max_gap``: shortest run kept, longest gap filled; ``max_drift``: a run straying
    farther from its mean is split (None: never); ``blend_frames``: frames over which a lock fades in and out.
    """

    contact_threshold: float = 0.7
    blend_frames: int = 6
    height_tolerance: float = 0.06
    min_frames: int = 4
    max_gap: int = 2
    max_drift: float | None = 0.15


@dataclass(frozen=True)
class LockPlan:
    """Per foot joint (channel order of :data:`FOOT_JOINTS`) and frame (..., T, 4): the enforced lock ``mask``, the
    ``offset`` (..., T, 4, 3) added to the joint's original position, the ``weight`` in [0, 1] of that offset (1 in a
    run and across a cross-faded gap) and the ``hold`` in [0, 1] (1 in a run, fading out around it)."""

    mask: np.ndarray
    offset: np.ndarray
    weight: np.ndarray
    hold: np.ndarray


def smoothstep(u: np.ndarray) -> np.ndarray:
    """3u² − 2u³ on u clipped to [0, 1]: 0 → 1 with zero slope at both ends."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, stops) of the runs of True in a 1-D boolean array (stops exclusive)."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def held(mask: np.ndarray) -> np.ndarray:
    """Contacts (T, …) from lock masks (T, …) in :func:`~dancegen.motion.contacts.foot_contacts`' convention: 1 where
    the joint is locked in this frame and the next (the last frame of a run is the lift-off); the final frame keeps
    its lock."""
    out = mask.copy()
    out[:-1] &= mask[1:]
    return out


def clean_mask(mask: np.ndarray, min_frames: int = 4, max_gap: int = 2) -> np.ndarray:
    """Fill gaps of at most ``max_gap`` frames between runs of a 1-D boolean mask, then drop runs shorter than
    ``min_frames`` (a morphological close, then an open by length)."""
    out = mask.astype(bool).copy()
    starts, stops = runs(out)
    for stop, start in zip(stops[:-1], starts[1:]):
        if start - stop <= max_gap:
            out[stop:start] = True
    starts, stops = runs(out)
    for start, stop in zip(starts, stops):
        if stop - start < min_frames:
            out[start:stop] = False
    return out


def split_drifting(pos: np.ndarray, mask: np.ndarray, max_drift: float, gap: int, min_frames: int) -> np.ndarray:
    """Split runs of ``mask`` whose joint strays more than ``max_drift`` m (horizontally) from the run's mean
    position: recursively, at the run's fastest frame, leaving ``gap`` unlocked frames there for the foot to move to
    its next lock. Pieces shorter than ``min_frames`` are dropped. ``pos`` is (T, 3)."""
    out = mask.copy()
    flat = pos[:, [0, 2]]
    stack = list(zip(*runs(mask)))
    while stack:
        start, stop = stack.pop()
        piece = flat[start:stop]
        if np.linalg.norm(piece - piece.mean(0), axis=-1).max() <= max_drift:
            continue
        cut = start + 1 + int(np.argmax(np.linalg.norm(np.diff(piece, axis=0), axis=-1)))
        lo, hi = max(start, cut - gap // 2), min(stop, cut + gap - gap // 2)
        out[lo:hi] = False
        for a, b in ((start, lo), (hi, stop)):
            if b - a >= min_frames:
                stack.append((a, b))
            else:
                out[a:b] = False
    return out


@dataclass(frozen=True)
class Runs:
    """One joint's lock runs: ``starts``, ``stops`` (exclusive) and the ``locks`` (n, 3) held positions."""

    starts: np.ndarray
    stops: np.ndarray
    locks: np.ndarray


def run_locks(pos: np.ndarray, mask: np.ndarray, floor: float) -> Runs:
    """The runs of ``mask`` (T,) and each run's lock: the joint's mean position (T, 3) over it, y ≥ ``floor``."""
    starts, stops = runs(mask)
    csum = np.concatenate((np.zeros((1, 3)), np.cumsum(pos, axis=0)))
    locks = (csum[stops] - csum[starts]) / np.maximum(stops - starts, 1)[:, None]
    locks[:, 1] = np.maximum(locks[:, 1], floor)
    return Runs(starts, stops, locks)


def reconcile_foot(ankle: Runs, toe: Runs, ankle_pos: np.ndarray, toe_pos: np.ndarray, foot_length: float,
                   floor: float) -> None:
    """Make overlapping ankle and toe locks exactly a foot length apart (in place), so both can hold at once.

    Overlapping runs of the two joints form a forest (a run overlaps at most one run of the other joint that
    started before it): in order of start, each run's lock moves along the ray from its parent's lock onto the
    sphere of radius ``foot_length`` around it, pitched up if that would put it under the floor (heading from the
    ray, or from the original foot over the overlap where the ray is near vertical). ``ankle_pos`` and ``toe_pos``
    are the joints' original positions (T, 3).
    """
    both, pos = (ankle, toe), (ankle_pos, toe_pos)
    order = sorted((int(start), joint, k) for joint, r in enumerate(both) for k, start in enumerate(r.starts))
    for start, joint, k in order:  # on a tie the ankle's run counts as the earlier one
        other = both[1 - joint]
        parent = int(np.searchsorted(other.starts, start, side="right" if joint == 1 else "left")) - 1
        if parent < 0 or other.stops[parent] <= start:
            continue
        stop = min(int(other.stops[parent]), int(both[joint].stops[k]))
        foot = (pos[joint][start:stop] - pos[1 - joint][start:stop]).mean(0)
        centre = other.locks[parent]
        ray = both[joint].locks[k] - centre
        both[joint].locks[k] = centre + foot_length * _above_floor(ray, foot, centre[1], foot_length, floor)


def _above_floor(direction: np.ndarray, fallback: np.ndarray, base_y: float, length: float,
                 floor: float) -> np.ndarray:
    """Unit ``direction`` (3,), pitched up just enough that base_y + length · d_y ≥ floor, keeping its heading (that
    of ``fallback`` where the direction is near vertical)."""
    d = direction / max(float(np.linalg.norm(direction)), 1e-12)
    min_y = float(np.clip((floor - base_y) / length, -1.0, 1.0))
    if d[1] >= min_y:
        return d
    flat, other = np.array([d[0], 0.0, d[2]]), np.array([fallback[0], 0.0, fallback[2]])
    flat = flat + max(0.0, 1.0 - float(np.linalg.norm(flat)) / 0.3) * other / max(float(np.linalg.norm(other)), 1e-12)
    flat /= max(float(np.linalg.norm(flat)), 1e-12)
    return flat * np.sqrt(1.0 - min_y * min_y) + np.array([0.0, min_y, 0.0])


def lock_offsets(pos: np.ndarray, locks: Runs, blend_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One joint's offsets (T, 3) from its positions (T, 3) to its locks, their weights (T,) and holds (T,).

    Inside a run the joint goes to the run's lock: weight and hold 1. Outside, the offset at the nearest run end,
    d = lock − pos(end), fades out by smoothstep over ``blend_frames`` (weight = hold = the fade); in a gap of at
    most 2·``blend_frames`` frames it cross-fades from the previous run's d to the next one's instead (weight 1,
    hold still the fade).
    """
    T = len(pos)
    offset, weight, hold = np.zeros((T, 3)), np.zeros(T), np.zeros(T)
    starts, stops = locks.starts, locks.stops
    if len(starts) == 0:
        return offset, weight, hold
    seg = np.full(T, -1)
    for k, (start, stop) in enumerate(zip(starts, stops)):
        seg[start:stop] = k
    inside = seg >= 0
    offset[inside] = locks.locks[seg[inside]] - pos[inside]
    weight[inside] = hold[inside] = 1.0

    t = np.flatnonzero(~inside)
    prev = np.searchsorted(stops, t, side="right") - 1  # last run ending at or before t (−1: none)
    nxt = np.searchsorted(starts, t, side="right")  # first run starting after t (len: none)
    has_prev, has_next = prev >= 0, nxt < len(starts)
    prev_c, next_c = np.clip(prev, 0, None), np.clip(nxt, None, len(starts) - 1)
    d_prev = locks.locks[prev_c] - pos[stops[prev_c] - 1]
    d_next = locks.locks[next_c] - pos[starts[next_c]]
    k_prev = t - (stops[prev_c] - 1)  # ≥ 1 frames after the previous run
    k_next = starts[next_c] - t  # ≥ 1 frames before the next run
    gap = np.maximum(starts[next_c] - stops[prev_c], 0)  # (meaningful where both runs exist)
    blend = max(blend_frames, 0)
    w_prev = np.where(has_prev, 1.0 - smoothstep(k_prev / (blend + 1.0)), 0.0)
    w_next = np.where(has_next, 1.0 - smoothstep(k_next / (blend + 1.0)), 0.0)
    hold[t] = np.maximum(w_prev, w_next)
    short = has_prev & has_next & (gap <= 2 * blend)
    u = smoothstep(k_prev / (gap + 1.0))
    w_prev = np.where(short, 1.0 - u, w_prev)
    w_next = np.where(short, u, w_next)
    offset[t] = w_prev[:, None] * d_prev + w_next[:, None] * d_next
    weight[t] = w_prev + w_next
    return offset, weight, hold


def foot_lengths(skeleton: Skeleton) -> tuple[float, ...]:
    """Ankle–toe bone length of each leg in :data:`LEGS` (metres)."""
    rest = skeleton.rest_joints.double()
    return tuple(float((rest[toe] - rest[ankle]).norm()) for _, _, ankle, toe in LEGS)


def planted_heights(skeleton: Skeleton) -> np.ndarray:
    """(4,) height over the sole of each foot joint (channel order) in the rest pose: where it sits, above the floor
    level, on a flat planted foot (toes 0, ankles the rest ankle–toe height difference)."""
    rest = skeleton.rest_joints.double().numpy()
    height = {}
    for _, _, ankle, toe in LEGS:
        sole = min(rest[ankle, 1], rest[toe, 1])
        height[ankle], height[toe] = rest[ankle, 1] - sole, rest[toe, 1] - sole
    return np.array([height[j] for j in FOOT_JOINTS])


def plan_locks(joints: np.ndarray, contacts: np.ndarray, skeleton: Skeleton, floor: float = 0.0,
               settings: LockSettings | None = None) -> LockPlan:
    """The locks of one sequence: ``joints`` (T, ≥12, 3), ``contacts`` (T, 4) → :class:`LockPlan`.

    With ``settings`` (default :class:`LockSettings`), a frame can lock a foot joint when its contact is above
    ``contact_threshold`` and the joint is at most ``height_tolerance`` m above its planted height
    (:func:`planted_heights`) over the floor; the mask is cleaned (:func:`clean_mask`), drifting runs split
    (:func:`split_drifting`, unless ``max_drift`` is None), each run's lock taken (:func:`run_locks`) and made
    consistent within each foot (:func:`reconcile_foot`), and the offsets blended (:func:`lock_offsets`).
    """
    st = settings or LockSettings()
    contact_threshold, blend_frames, height_tolerance = st.contact_threshold, st.blend_frames, st.height_tolerance
    min_frames, max_gap, max_drift = st.min_frames, st.max_gap, st.max_drift
    feet = joints[:, list(FOOT_JOINTS)]
    ceiling = floor + planted_heights(skeleton) + height_tolerance
    candidate = (contacts > contact_threshold) & (feet[..., 1] <= ceiling)
    T = len(joints)
    mask = np.zeros((T, 4), dtype=bool)
    for c in range(4):
        mask[:, c] = clean_mask(candidate[:, c], min_frames, max_gap)
        if max_drift is not None:
            mask[:, c] = split_drifting(feet[:, c], mask[:, c], max_drift, max(2, blend_frames), min_frames)
    locks = [run_locks(feet[:, c], mask[:, c], floor) for c in range(4)]
    for (_, _, ankle, toe), length in zip(LEGS, foot_lengths(skeleton)):
        ca, ct = FOOT_JOINTS.index(ankle), FOOT_JOINTS.index(toe)
        reconcile_foot(locks[ca], locks[ct], feet[:, ca], feet[:, ct], length, floor)
    offset, weight, hold = np.zeros((T, 4, 3)), np.zeros((T, 4)), np.zeros((T, 4))
    for c in range(4):
        offset[:, c], weight[:, c], hold[:, c] = lock_offsets(feet[:, c], locks[c], blend_frames)
    return LockPlan(mask, offset, weight, hold)


def lock_feet(motion: torch.Tensor, skeleton: Skeleton, floor: float = 0.0, **settings: Any) -> torch.Tensor:
    """Foot-locked copy of ``motion`` (T, 319) or (V, T, 319) (variations independent); same shape, dtype, device.

    See the module docstring for the method. ``floor`` is the height (y) at which the lowest foot joint of a planted
    foot sits; ``settings`` are :class:`LockSettings` fields (``contact_threshold``, ``blend_frames`` …). Only the
    hip, knee and ankle rotations of frames that need a change are rewritten; the contact channels become the
    enforced locks (:func:`held`). The input is not modified; the result is detached (a post-process, not
    differentiable). Works on CPU in float64 whatever the input's device and dtype (about 0.3 s for 21,600 frames on
    2 cores).
    """
    if motion.shape[-1] != NUM_CHANNELS or motion.dim() not in (2, 3):
        raise ValueError(f"motion must be (T, {NUM_CHANNELS}) or (V, T, {NUM_CHANNELS}), got {tuple(motion.shape)}")
    if motion.numel() == 0:
        return motion.detach().clone()
    batch = motion.detach().to("cpu").reshape(-1, *motion.shape[-2:])  # small 3×3 algebra: CPU, float64
    V, T = batch.shape[:2]
    out = batch.clone(memory_format=torch.contiguous_format)
    flat = out.view(V * T, NUM_CHANNELS)
    rest = skeleton.rest_joints[:_N_LOWER].to(torch.float64)
    joints = torch.cat([_lower_body(flat[torch.as_tensor(rows)], rest)[1] for rows in _chunks(np.arange(V * T))])
    joints_np, contacts_np = joints.numpy(), flat[:, CONTACTS].numpy()
    st = LockSettings(**settings)
    plans = [plan_locks(joints_np[v * T : (v + 1) * T], contacts_np[v * T : (v + 1) * T], skeleton, floor, st)
             for v in range(V)]
    plan = LockPlan(*(np.concatenate([getattr(p, f) for p in plans]) for f in ("mask", "offset", "weight", "hold")))

    todo = {}  # per leg, the frames whose targets differ from the motion or whose foot is under the floor
    for leg in LEGS:
        ca, ct = FOOT_JOINTS.index(leg[2]), FOOT_JOINTS.index(leg[3])
        todo[leg] = ((plan.weight[:, [ca, ct]] > 0) | (plan.hold[:, [ca, ct]] > 0)).any(1) | (
            joints_np[:, leg[2:], 1] < floor).any(1)
    rot6d = flat[:, ROTATIONS].view(V * T, 52, 6)  # written in place
    for rows in _chunks(np.flatnonzero(np.logical_or(*todo.values()))):
        glob, pos = _lower_body(flat[torch.as_tensor(rows)], rest)
        for leg in LEGS:
            sel = todo[leg][rows]
            part = LockPlan(*(torch.as_tensor(getattr(plan, f)[rows[sel]]) for f in ("mask", "offset", "weight",
                                                                                         "hold")))
            new_local, changed = _solve_leg(leg, glob[sel], pos[sel], part, rest, floor)
            target = torch.as_tensor(rows[sel])[changed]
            for j in leg[:3]:
                rot6d[target, j] = matrix_to_rot6d(new_local[j][changed]).to(out.dtype)
    flat[:, CONTACTS] = torch.as_tensor(np.concatenate([held(p.mask) for p in plans])).to(out.dtype)
    return out.reshape(motion.shape).to(motion.device)


def _chunks(rows: np.ndarray) -> list[np.ndarray]:
    """``rows`` in consecutive pieces of at most :data:`_CHUNK` (bounds the memory of the float64 temporaries)."""
    return [rows[i : i + _CHUNK] for i in range(0, len(rows), _CHUNK)]


def _lower_body(motion: torch.Tensor, rest: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Global rotations (N, 12, 3, 3) and positions (N, 12, 3) of joints 0–11 of 319-D frames (N, 319), float64."""
    x = motion[:, : ROTATIONS.start + 6 * _N_LOWER].to(torch.float64)
    glob = global_rotations(rot6d_to_matrix(x[:, ROTATIONS.start :].reshape(-1, _N_LOWER, 6)), PARENTS_52[:_N_LOWER])
    return glob, joint_positions(glob, rest, x[:, ROOT], PARENTS_52[:_N_LOWER])


def _solve_leg(
    leg: tuple[int, int, int, int],
    glob: torch.Tensor,
    joints: torch.Tensor,
    plan: LockPlan,
    rest: torch.Tensor,
    floor: float,
) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
    """New local rotations {hip, knee, ankle: (N, 3, 3)} of one leg over N frames (globals (N, ≥12, 3, 3), joints
    (N, ≥12, 3), ``plan`` of tensors (N, 4, …)) and the frames (N,) where they differ from the old ones."""
    hip, knee, ankle, toe = leg
    ca, ct = FOOT_JOINTS.index(ankle), FOOT_JOINTS.index(toe)
    l1, l2, l_foot = ((rest[b] - rest[a]).norm() for a, b in ((hip, knee), (knee, ankle), (ankle, toe)))
    H, K, A, Tp = (joints[:, j] for j in leg)
    off_a, off_t = plan.offset[:, ca], plan.offset[:, ct]
    w_a, w_t = plan.weight[:, ca, None], plan.weight[:, ct, None]
    # a locked ankle is exact; else a locked toe is (the ankle goes on its sphere); in between, by hold
    toe_first = plan.hold[:, ct, None] * (1.0 - plan.hold[:, ca, None])
    toe_first = torch.where(plan.mask[:, ca, None], 0.0, torch.where(plan.mask[:, ct, None], 1.0, toe_first))

    # ankle target: its own lock, else its toe's (the foot moves rigidly), at foot length from a held toe (when the
    # ankle is not held itself); never under the floor
    a_target = A + off_a + (1.0 - w_a) * off_t
    t_lock = Tp + off_t
    to_ankle = a_target - t_lock
    on_sphere = t_lock + l_foot * to_ankle / to_ankle.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    a_target = a_target + toe_first * (on_sphere - a_target)
    a_target = torch.cat((a_target[:, :1], a_target[:, 1:2].clamp_min(floor), a_target[:, 2:]), dim=-1)
    fallback = glob[:, hip, :, 2]  # the thigh's forward axis (+z of the rest body): where a straight knee bends
    K_new, A_new = two_bone_ik(H, a_target, K, l1, l2, fallback)
    thigh = swing_rotation(K - H, K_new - H)
    shin = swing_rotation((thigh @ (A - K)[..., None])[..., 0], A_new - K_new)
    g_hip = thigh @ glob[:, hip]
    g_knee = shin @ thigh @ glob[:, knee]

    # toe: where it has a target of its own (locked, or under the floor) the ankle swings to aim it there
    t_target = Tp + off_t + (1.0 - w_t) * (A_new - A)
    own = (w_t[:, 0] > 0) | (t_target[:, 1] < floor)
    aim = _aim_above_floor(A_new, t_target, l_foot, floor, Tp - A)
    g_ankle = torch.where(own[:, None, None], swing_rotation(Tp - A, aim) @ glob[:, ankle], glob[:, ankle])

    new_local = {
        hip: glob[:, PARENTS_52[hip]].transpose(-1, -2) @ g_hip,
        knee: g_hip.transpose(-1, -2) @ g_knee,
        ankle: g_knee.transpose(-1, -2) @ g_ankle,
    }
    return new_local, (a_target != A).any(-1) | own


def _aim_above_floor(
    ankle: torch.Tensor, target: torch.Tensor, length: torch.Tensor, floor: float, current: torch.Tensor
) -> torch.Tensor:
    """Unit direction from ``ankle`` towards ``target`` whose end at ``length`` stays at y ≥ floor: the pitch is
    raised, the heading kept; where the aim is near vertical the heading blends into that of ``current`` (the old
    foot vector)."""
    u = target - ankle
    u = u / u.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    min_y = ((floor - ankle[..., 1]) / length).clamp(-1.0, 1.0)
    low = u[..., 1] < min_y
    flat, cur = u.clone(), current.clone()
    flat[..., 1] = cur[..., 1] = 0.0
    cur = cur / cur.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    flat = flat + (1.0 - flat.norm(dim=-1, keepdim=True) / 0.3).clamp_min(0.0) * cur
    flat = flat / flat.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    raised = flat * (1.0 - min_y * min_y).clamp_min(0.0).sqrt()[..., None]
    raised[..., 1] = min_y
    return torch.where(low[..., None], raised, u)
