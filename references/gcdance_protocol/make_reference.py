"""Reference values of BAS, PFC and PBC under the official evaluation conventions, for
tests/dancegen/test_protocols_paper.py.

Re-implements, in the published code's own style (loops over clips and music beats, its array steps in its order),
the formulas of:

* Bailando ``utils/beat_align_score.py`` and GCDance ``eval/eval_beat.py`` (``calc_db`` / ``BA``): speed = mean over
  joints of the per-frame displacement, ``scipy.ndimage.gaussian_filter(·, 5)``, motion beats =
  ``scipy.signal.argrelextrema(·, np.less)``, music beats truncated to the first ``T − 1`` frames, score = mean over
  music beats of ``exp(−min d² / 2 / 9)``; GCDance's version adds 0 for a beat when the clip has no motion beat.
  GCDance scores ``full_pose`` (all 55 joints); Bailando all 24 SMPL joints.
* EDGE ``eval/eval_pfc.py`` as GCDance's ``eval/eval_pfc.py`` runs it: ``up_dir = 2`` (z) on y-up joints, joints
  ``[:22]``, DT = 1/30, feet ``[7, 10, 8, 11]``; mean over clips × 10000.
* GCDance ``eval/eval_pbc.py``: ``up_dir = 2``, all joints, accelerations of joints 13, 14, 12, upper-body joints
  ``[20, 22, 21, 23, 15]``; mean over clips × 10000.

It needs only numpy and scipy (not dancegen): ``python references/gcdance_protocol/make_reference.py`` writes
``reference.json`` next to it. The inputs are deterministic (:func:`inputs`); the test rebuilds them by importing
this file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.signal import argrelextrema

OUT = Path(__file__).with_name("reference.json")
FRAMES = 120
JOINTS = 55


def inputs() -> dict[str, object]:
    """Three dancing clips (120, 55, 3), y up, metres; per clip music-beat frames (some past frame 118, which the
    reference drops); a still clip for BAS's no-motion-beat case; a 24-joint clip for Bailando's BAS."""
    t = np.arange(FRAMES, dtype=np.float64)[:, None, None]
    j = np.arange(JOINTS, dtype=np.float64)[None, :, None]
    axis = np.arange(3, dtype=np.float64)[None, None, :]
    clips = []
    for k in range(3):
        period = 14.0 + 6.0 * k
        base = np.stack([0.3 * np.sin(j[0, :, 0] * 0.7 + a) for a in range(3)], axis=-1)[None]
        base = base + np.array([0.0, 0.9, 0.0])
        wiggle = 0.04 * np.sin(2 * np.pi * t / period + 0.3 * j + 1.1 * axis + k)
        drift = 0.002 * (k + 1) * t * np.array([1.0, 0.0, 0.5])
        bounce = 0.03 * np.abs(np.sin(np.pi * t / (period / 2))) * np.array([0.0, 1.0, 0.0])
        clips.append(base + wiggle + drift + bounce)
    beats = [[5, 19, 33, 47, 61, 75, 89, 103, 117, 119, 125],
             [0, 12, 30, 48, 66, 84, 102, 118],
             [7, 27, 47, 67, 87, 107, 130]]
    still = np.repeat(clips[0][:1], FRAMES, axis=0)
    smpl24 = clips[1][:, :24] + 0.01 * np.cos(t[:, :, :] / 9.0)
    return {"clips": clips, "beats": beats, "still": still, "smpl24": smpl24}


def calc_db(keypoints: np.ndarray, joints: int) -> tuple[tuple[np.ndarray], int]:
    """Motion beats and the speed length, the reference way (keypoints flattened then reshaped per frame)."""
    keypoints = np.array(keypoints).reshape(-1, joints, 3)
    kinetic_vel = np.mean(np.sqrt(np.sum((keypoints[1:] - keypoints[:-1]) ** 2, axis=2)), axis=1)
    kinetic_vel = gaussian_filter(kinetic_vel, 5)
    motion_beats = argrelextrema(kinetic_vel, np.less)
    return motion_beats, len(kinetic_vel)


def ba(music_beats: np.ndarray, motion_beats: tuple[np.ndarray]) -> float:
    """Beat alignment of one clip; 0 for a music beat when there is no motion beat (GCDance's guard)."""
    score = 0.0
    for bb in music_beats:
        if len(motion_beats[0]) > 0:
            score += np.exp(-np.min((motion_beats[0] - bb) ** 2) / 2 / 9)
    return float(score / len(music_beats))


def bas_clip(joints: np.ndarray, beats: list[int]) -> float:
    n = joints.shape[1]
    dance_beats, length = calc_db(joints.reshape(len(joints), -1), n)
    one_hot = np.zeros(max(max(beats) + 1, length), dtype=bool)  # the reference's beat one-hot column
    one_hot[beats] = True
    music = np.arange(len(one_hot[:length]))[one_hot[:length]]
    return ba(music, dance_beats)


def pfc_set(clips: list[np.ndarray]) -> tuple[float, list[float]]:
    up_dir = 2
    flat_dirs = [i for i in range(3) if i != up_dir]
    dt = 1 / 30
    scores = []
    for full in clips:
        joint3d = full[:, :22, :]
        root_v = (joint3d[1:, 0, :] - joint3d[:-1, 0, :]) / dt
        root_a = (root_v[1:] - root_v[:-1]) / dt
        root_a[:, up_dir] = np.maximum(root_a[:, up_dir], 0)
        root_a = np.linalg.norm(root_a, axis=-1)
        root_a /= root_a.max()
        feet = joint3d[:, [7, 10, 8, 11]]
        foot_v = np.linalg.norm(feet[2:, :, flat_dirs] - feet[1:-1, :, flat_dirs], axis=-1)
        foot_mins = np.zeros((len(foot_v), 2))
        foot_mins[:, 0] = np.minimum(foot_v[:, 0], foot_v[:, 1])
        foot_mins[:, 1] = np.minimum(foot_v[:, 2], foot_v[:, 3])
        scores.append(float((foot_mins[:, 0] * foot_mins[:, 1] * root_a).mean()))
    return float(np.mean(scores) * 10000), [s * 10000 for s in scores]


def _acc(joint: np.ndarray, dt: float) -> np.ndarray:
    v = (joint[1:] - joint[:-1]) / dt
    a = np.linalg.norm((v[1:] - v[:-1]) / dt, axis=-1)
    return a / a.max() if a.max() != 0 else a


def pbc_set(clips: list[np.ndarray]) -> float:
    up_dir = 2
    flat_dirs = [i for i in range(3) if i != up_dir]
    dt = 1 / 30
    scores = []
    for joint3d in clips:
        root_v = (joint3d[1:, 0, :] - joint3d[:-1, 0, :]) / dt
        root_a = (root_v[1:] - root_v[:-1]) / dt
        root_a[:, up_dir] = np.maximum(root_a[:, up_dir], 0)
        root_a = np.linalg.norm(root_a, axis=-1)
        root_a /= root_a.max()
        accs = [_acc(joint3d[:, i, :], dt) for i in (13, 14, 12)]
        feet = joint3d[:, [7, 10, 8, 11]]
        foot_v = np.linalg.norm(feet[2:, :, flat_dirs] - feet[1:-1, :, flat_dirs], axis=-1)
        foot_mins = np.stack([np.minimum(foot_v[:, 0], foot_v[:, 1]), np.minimum(foot_v[:, 2], foot_v[:, 3])], 1)
        body = joint3d[:, [20, 22, 21, 23, 15]]
        body_v = np.linalg.norm(body[2:] - body[1:-1], axis=-1)
        body_mins = np.stack([np.minimum(body_v[:, 0], body_v[:, 1]), np.minimum(body_v[:, 2], body_v[:, 3]),
                              body_v[:, 4]], 1)
        loss = (0.01 * body_mins[:, 0] * accs[0] + 0.01 * body_mins[:, 1] * accs[1]
                + 0.1 * body_mins[:, 2] * accs[2] - foot_mins[:, 0] * foot_mins[:, 1] * root_a)
        scores.append(float(loss.mean()))
    return float(np.mean(scores) * 10000)


def main() -> None:
    data = inputs()
    clips, beats = data["clips"], data["beats"]
    bas = [bas_clip(c, b) for c, b in zip(clips, beats)]  # type: ignore[arg-type]
    pfc, pfc_clips = pfc_set(clips)  # type: ignore[arg-type]
    out = {
        "source": "references/gcdance_protocol/make_reference.py (formulas of Bailando utils/beat_align_score.py, "
                  "GCDance eval/eval_beat.py, eval/eval_pfc.py, eval/eval_pbc.py)",
        "bas_all_joints_per_clip": bas,
        "bas_all_joints_mean": float(np.mean(bas)),
        "bas_still_clip": bas_clip(data["still"], beats[0]),  # type: ignore[arg-type,index]
        "bas_body_joints_mean": float(np.mean([bas_clip(c[:, :22], b) for c, b in zip(clips, beats)])),
        "bas_smpl24": bas_clip(data["smpl24"], beats[1]),  # type: ignore[arg-type,index]
        "pfc_z_up": pfc,
        "pfc_z_up_per_clip": pfc_clips,
        "pbc_z_up": pbc_set(clips),  # type: ignore[arg-type]
    }
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
