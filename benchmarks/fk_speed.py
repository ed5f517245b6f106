"""Forward-kinematics throughput on CPU: batch 64 × 120 frames of random 319-D motion (forward and backward)."""

from __future__ import annotations

import time

import torch

from dancegen.motion import Skeleton, axis_angle_to_rot6d, forward_kinematics


def main(batch: int = 64, frames: int = 120, repeats: int = 20) -> None:
    torch.manual_seed(0)
    motion = torch.zeros(batch, frames, 319)
    motion[..., 7:] = axis_angle_to_rot6d(torch.randn(batch, frames, 52, 3) * 0.5).reshape(batch, frames, 312)
    skel = Skeleton.default()
    forward_kinematics(motion, skel)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        forward_kinematics(motion, skel)
    fwd = (time.perf_counter() - start) / repeats
    motion.requires_grad_(True)
    start = time.perf_counter()
    for _ in range(repeats):
        forward_kinematics(motion, skel).sum().backward()
    both = (time.perf_counter() - start) / repeats
    n = batch * frames
    print(f"threads={torch.get_num_threads()} batch {batch}x{frames}: forward {fwd * 1e3:.1f} ms "
          f"({n / fwd:,.0f} frames/s); forward+backward {both * 1e3:.1f} ms ({n / both:,.0f} frames/s)")


if __name__ == "__main__":
    main()
