"""Editing constraints: which entries of a reference motion to keep while the rest is generated (paper eq. 15).

A :class:`Constraint` names a set of channels (joint groups or joint names in the 319-D layout) and a set of frames;
:meth:`Constraint.mask` turns it into a ``(frames, 319)`` bool mask. Several constraints combine by union
(:func:`constraint_mask`). During sampling the pipeline replaces the masked entries by a draw of q(known, t−1) after
every reverse step and copies them exactly at the end::

    Constraint.keep("body")                 # keep the body (and root, contacts), generate the hands
    Constraint.keep("upper")                # keep the upper body, generate legs, root and contacts
    Constraint.keep("all", frames=slice(0, 30))   # keep the first second, continue it
    Constraint.keyframes([0, 60, 119])      # in-betweening: full poses at these frames

Groups are those of :data:`dancegen.motion.GROUPS` plus ``all`` (every channel); ``body`` and ``lower`` include the
root position and the foot contacts, the others do not (override with ``include_root`` / ``include_contacts``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from .errors import DancegenError
from .motion.layout import FPS, GROUPS, NUM_CHANNELS, channel_mask

#: Group names accepted by :meth:`Constraint.keep` (``all`` = every channel).
KEEP_GROUPS: tuple[str, ...] = ("all", *GROUPS)

Joints = str | int | Sequence[str | int]
Frames = slice | Sequence[int] | None


@dataclass(frozen=True)
class Constraint:
    """Keep ``channels`` (a (319,) bool mask) of a reference motion at ``frames`` (all frames when None).

    ``frames`` is a slice (negative bounds count from the end; an explicit stop past the motion is an error) or a
    sequence of frame indices. ``label`` describes the constraint in summaries.
    """

    channels: torch.Tensor
    frames: slice | tuple[int, ...] | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if self.channels.dtype != torch.bool or tuple(self.channels.shape) != (NUM_CHANNELS,):
            raise DancegenError(f"constraint channels must be a ({NUM_CHANNELS},) bool mask, "
                                f"got {self.channels.dtype} {tuple(self.channels.shape)}")
        if isinstance(self.frames, slice) and self.frames.step not in (None, 1):
            raise DancegenError(f"constraint frame ranges must be contiguous (step 1), got {self.frames}")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def keep(cls, joints: Joints = "all", frames: Frames = None, include_root: bool | None = None,
             include_contacts: bool | None = None) -> Constraint:
        """Keep joint groups (``all``, ``body``, ``upper``, ``lower``, ``hands``, ``left_hand``, ``right_hand``)
        and/or joint names/indices at ``frames`` (a slice, a list of frames, or None for every frame)."""
        items = [joints] if isinstance(joints, (str, int)) else list(joints)
        if not items:
            raise DancegenError("Constraint.keep needs at least one joint group or joint name")
        if "all" in items:
            channels = torch.ones(NUM_CHANNELS, dtype=torch.bool)
            if include_root is False:
                channels[4:7] = False
            if include_contacts is False:
                channels[0:4] = False
        else:
            channels = channel_mask(items, include_root=include_root, include_contacts=include_contacts)
        names = ",".join(str(i) for i in items)
        return cls(channels, _frames_arg(frames), f"keep {names}{_frames_label(frames)}")

    @classmethod
    def keyframes(cls, frames: Iterable[int], joints: Joints = "all") -> Constraint:
        """In-betweening: keep whole poses (or ``joints``) at the given frame indices, generate everything else."""
        idx = tuple(int(f) for f in frames)
        if not idx:
            raise DancegenError("Constraint.keyframes needs at least one frame index")
        base = cls.keep(joints)
        return cls(base.channels, idx, f"keyframes {','.join(map(str, idx))}")

    @classmethod
    def first_seconds(cls, seconds: float = 1.0, joints: Joints = "all") -> Constraint:
        """Keep the first ``seconds`` of the reference (every channel by default) and continue it."""
        if seconds <= 0:
            raise DancegenError(f"seconds must be > 0, got {seconds}")
        return cls.keep(joints, frames=slice(0, max(1, round(seconds * FPS))))

    @classmethod
    def generate_hands(cls) -> Constraint:
        """Keep the body (root, contacts, joints 0–21) and generate the finger joints."""
        return cls.keep("body")

    @classmethod
    def generate_legs(cls) -> Constraint:
        """Keep the upper body (spine, neck, head, arms) and generate legs, root and contacts."""
        return cls.keep("upper")

    # ------------------------------------------------------------------ masks
    def frame_indices(self, num_frames: int) -> torch.Tensor:
        """The (sorted, unique) frame indices this constraint covers in a motion of ``num_frames`` frames."""
        if self.frames is None:
            return torch.arange(num_frames)
        if isinstance(self.frames, slice):
            start, stop = self.frames.start, self.frames.stop
            for bound in (start, stop):
                if bound is not None and bound > num_frames:
                    raise DancegenError(f"{self.label or 'constraint'}: frame {bound} is past the end of a "
                                        f"{num_frames}-frame motion")
            idx = torch.arange(num_frames)[self.frames]
            if idx.numel() == 0:
                raise DancegenError(f"{self.label or 'constraint'}: the frame range {_slice_text(self.frames)} is "
                                    f"empty for a {num_frames}-frame motion")
            return idx
        bad = [f for f in self.frames if not -num_frames <= f < num_frames]
        if bad:
            raise DancegenError(f"{self.label or 'constraint'}: frame(s) {bad} outside a {num_frames}-frame motion "
                                f"(0..{num_frames - 1})")
        return torch.tensor(sorted({f % num_frames for f in self.frames}), dtype=torch.long)

    def mask(self, num_frames: int) -> torch.Tensor:
        """(num_frames, 319) bool: True where the reference value is kept."""
        out = torch.zeros(num_frames, NUM_CHANNELS, dtype=torch.bool)
        out[self.frame_indices(num_frames)] = self.channels
        return out

    def __repr__(self) -> str:
        return f"Constraint({self.label or 'custom'}, channels={int(self.channels.sum())})"


def constraint_mask(constraints: Iterable[Constraint], num_frames: int) -> torch.Tensor:
    """Union of the constraints' masks, (num_frames, 319) bool (all False when there are none)."""
    out = torch.zeros(num_frames, NUM_CHANNELS, dtype=torch.bool)
    for c in constraints:
        if not isinstance(c, Constraint):
            raise DancegenError(f"constraints must be Constraint objects, got {type(c).__name__}")
        out |= c.mask(num_frames)
    return out


def parse_keep(spec: str) -> Constraint:
    """CLI form of a constraint: ``body``, ``upper``, ``lower``, ``hands``, joint names, ``frames=START:END``, or a
    comma-separated mix (``upper,frames=0:60``: the upper body during frames 0–59). Frames are 30-FPS indices."""
    joints: list[str | int] = []
    frames: slice | None = None
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if part.startswith("frames="):
            if frames is not None:
                raise DancegenError(f"--keep {spec!r}: give frames= once per --keep")
            frames = _parse_range(part[len("frames="):], spec)
        else:
            joints.append(int(part) if part.isdigit() else part)
    if not joints and frames is None:
        raise DancegenError(f"--keep {spec!r}: expected a group ({', '.join(KEEP_GROUPS)}), joint names or "
                            "frames=START:END")
    return Constraint.keep(joints or "all", frames=frames)


def parse_frames_list(spec: str) -> list[int]:
    """``"0,60,119"`` → ``[0, 60, 119]`` (for ``--keyframes``)."""
    try:
        out = [int(p) for p in spec.split(",") if p.strip()]
    except ValueError:
        raise DancegenError(f"keyframes {spec!r}: expected comma-separated frame numbers such as 0,60,119") from None
    if not out:
        raise DancegenError("keyframes: give at least one frame number, e.g. 0,60,119")
    return out


def _parse_range(text: str, spec: str) -> slice:
    start, sep, stop = text.partition(":")
    try:
        a = int(start) if start.strip() else None
        b = int(stop) if stop.strip() else None
    except ValueError:
        raise DancegenError(f"--keep {spec!r}: frames must be START:END frame numbers (30 FPS), e.g. frames=0:30"
                            ) from None
    if not sep:
        raise DancegenError(f"--keep {spec!r}: frames must be START:END, e.g. frames=0:30")
    if a is not None and b is not None and b <= a:
        raise DancegenError(f"--keep {spec!r}: END must be greater than START")
    return slice(a, b)


def _frames_arg(frames: Frames) -> slice | tuple[int, ...] | None:
    if frames is None or isinstance(frames, slice):
        return frames
    if isinstance(frames, int):
        return (int(frames),)
    return tuple(int(f) for f in frames)


def _slice_text(s: slice) -> str:
    return f"{'' if s.start is None else s.start}:{'' if s.stop is None else s.stop}"


def _frames_label(frames: Frames) -> str:
    if frames is None:
        return ""
    if isinstance(frames, slice):
        return f" frames {_slice_text(frames)}"
    return f" frames {','.join(str(int(f)) for f in ([frames] if isinstance(frames, int) else frames))}"
