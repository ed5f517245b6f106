"""Long-form generation helpers: the window plan over a song and the stitching of overlapping windows.

Windows are ``window`` frames long (120 = 4 s) and start every ``hop`` frames (60 = 2 s), so consecutive windows
overlap by 60 frames. The last window is aligned to end exactly on the song's last frame (its overlap with the
previous window is then between 60 and 119 frames), so every window sees real music and nothing is padded for songs
of at least one window. A song shorter than one window gets a single window over padded music and is trimmed.

Stitching (:class:`Stitcher`): each window is generated root-re-centred on its first frame (as in training); it is
moved into song coordinates by adding the song-space root position of its first frame, read from the previous window
at the overlap start. :meth:`Stitcher.add` cross-fades an overlap (root position and contacts linearly, the 52 joint
rotations by quaternion slerp, the weight of the new window rising from 0 to 1) — the paper's ``inpaint`` joining;
:meth:`Stitcher.write` pastes windows that were already joined while denoising (``blend``, ``consensus``; see
:mod:`dancegen.window_sampler`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from .errors import DancegenError
from .motion.layout import CONTACTS, FPS, NUM_CHANNELS, NUM_JOINTS, ROOT, ROTATIONS, WINDOW
from .motion.rotations import (
    matrix_to_quaternion,
    matrix_to_rot6d,
    quaternion_to_matrix,
    rot6d_to_matrix,
    slerp,
)

#: Frames between window starts (2 s): consecutive 4-s windows share 2 s.
HOP = 60


@dataclass(frozen=True)
class Window:
    """One sampling window: song frames ``[start, start + length)``; ``overlap`` frames shared with the previous
    window (0 for the first), whose frame ``start - previous.start`` is this window's first frame."""

    index: int
    start: int
    length: int
    overlap: int
    chunk: int = 0

    @property
    def end(self) -> int:
        return self.start + self.length

    def to_dict(self) -> dict[str, float | int]:
        """JSON form, with times in seconds."""
        return {**asdict(self), "end": self.end, "start_s": round(self.start / FPS, 4),
                "end_s": round(self.end / FPS, 4)}


def plan_windows(num_frames: int, window: int = WINDOW, hop: int = HOP, window_batch: int = 16) -> list[Window]:
    """Windows covering ``num_frames`` frames (see the module doc), grouped in chunks of ``window_batch``.

    ``num_frames <= window`` gives one window of ``window`` frames (the caller pads the music and trims the motion).
    """
    if num_frames < 1:
        raise DancegenError(f"cannot plan windows for {num_frames} frames")
    if not 0 < hop <= window:
        raise DancegenError(f"window hop must be in 1..{window}, got {hop}")
    if window_batch < 1:
        raise DancegenError(f"window_batch must be >= 1, got {window_batch}")
    if num_frames <= window:
        return [Window(0, 0, window, 0, 0)]
    n = -(-(num_frames - window) // hop) + 1  # ceil((N - W) / hop) + 1
    starts = [i * hop for i in range(n - 1)] + [num_frames - window]
    out = []
    for i, s in enumerate(starts):
        overlap = 0 if i == 0 else starts[i - 1] + window - s
        out.append(Window(i, s, window, overlap, i // window_batch))
    return out


def canonical_rot6d(motion: Tensor) -> Tensor:
    """Motion (..., 319) with every joint's 6D rotation replaced by the first two rows of its Gram–Schmidt
    rotation matrix (a valid rotation; the network's raw output need not be orthonormal)."""
    out = motion.clone()
    rot = motion[..., ROTATIONS].reshape(*motion.shape[:-1], NUM_JOINTS, 6)
    out[..., ROTATIONS] = matrix_to_rot6d(rot6d_to_matrix(rot)).reshape(*motion.shape[:-1], NUM_JOINTS * 6)
    return out


def blend(a: Tensor, b: Tensor, weight: Tensor) -> Tensor:
    """Cross-fade motion ``a`` into ``b`` (both (..., F, 319)) with per-frame weights (F,) of ``b``: contacts and
    root position linearly, joint rotations by quaternion slerp."""
    w = weight.to(a)
    out = torch.empty_like(a)
    lin = w[:, None]
    out[..., CONTACTS] = torch.lerp(a[..., CONTACTS], b[..., CONTACTS], lin)
    out[..., ROOT] = torch.lerp(a[..., ROOT], b[..., ROOT], lin)
    shape = (*a.shape[:-1], NUM_JOINTS, 6)
    qa = matrix_to_quaternion(rot6d_to_matrix(a[..., ROTATIONS].reshape(shape)))
    qb = matrix_to_quaternion(rot6d_to_matrix(b[..., ROTATIONS].reshape(shape)))
    q = slerp(qa, qb, w[:, None, None])
    out[..., ROTATIONS] = matrix_to_rot6d(quaternion_to_matrix(q)).reshape(*a.shape[:-1], NUM_JOINTS * 6)
    return out


def crossfade_weights(overlap: int) -> Tensor:
    """Linear weights of the new window over an overlap: (k + ½) / overlap for k = 0 … overlap − 1."""
    return (torch.arange(overlap, dtype=torch.float32) + 0.5) / overlap


class Stitcher:
    """Accumulates song-space windows (V, length, 319) into one (V, frames, 319) motion on the CPU.

    Only the output buffer grows with the song; each window is blended in and dropped. ``add`` expects windows in
    order, already moved to song coordinates (root offset added).
    """

    def __init__(self, variations: int, frames: int) -> None:
        self.motion = torch.zeros(variations, frames, NUM_CHANNELS)
        self.filled = 0

    def add(self, window: Window, motion: Tensor) -> None:
        """Blend ``motion`` (V, window.length, 319) over ``window.overlap`` frames and append the rest."""
        m = motion.detach().to("cpu", torch.float32)
        s, o = window.start, window.overlap
        if s + o != self.filled and not (window.index == 0 and self.filled == 0):
            raise DancegenError(f"window {window.index} starts at frame {s} with overlap {o}, but frames up to "
                                f"{self.filled} are stitched")
        if o:
            self.motion[:, s:s + o] = blend(self.motion[:, s:s + o], m[:, :o], crossfade_weights(o))
        self.motion[:, s + o:window.end] = m[:, o:]
        self.filled = window.end

    def write(self, start: int, motion: Tensor) -> None:
        """Overwrite frames ``[start, start + length)`` with ``motion`` (V, length, 319), no cross-fade: for windows
        that already agree over their overlaps (consensus sampling). ``start`` must not leave a gap."""
        if start > self.filled:
            raise DancegenError(f"cannot write from frame {start}: frames up to {self.filled} are stitched")
        m = motion.detach().to("cpu", torch.float32)
        self.motion[:, start:start + m.shape[1]] = m
        self.filled = max(self.filled, start + m.shape[1])
