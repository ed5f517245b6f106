"""Beat alignment score (BAS, Bailando / FineDance / GCDance): how close each music beat is to a motion beat.

Motion beats are the strict local minima of the Gaussian-smoothed mean joint speed; music beats are librosa
beat-tracker frames on the percussive onset envelope at 30 frames per second. For each music beat ``b``,
``d = min_k |b − motion_beat_k|`` in frames and the clip score is ``mean_b exp(−d² / (2·3²))``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import DataError
from ..motion.layout import FPS
from .joints import as_clips

SMOOTH_SIGMA = 5.0
BEAT_SIGMA = 3.0
HOP_LENGTH = 512
SAMPLE_RATE = FPS * HOP_LENGTH  # 15360 Hz: one hop is one motion frame


def _motion_beats(pos: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    speed = np.linalg.norm(pos[1:] - pos[:-1], axis=-1).mean(axis=1)  # (T−1,)
    smooth = gaussian_filter(speed, SMOOTH_SIGMA)  # mode "reflect", truncate 4.0
    inner = smooth[1:-1]
    return np.flatnonzero((inner < smooth[:-2]) & (inner < smooth[2:])) + 1  # strict minima; ends never count


def motion_beats(joints: np.ndarray) -> np.ndarray:
    """Motion-beat frame indices of one clip ``(T, J, 3)``.

    Speed ``s[t] = mean_j |p[t+1, j] − p[t, j]|`` for ``t = 0 … T−2``; smoothed with
    ``scipy.ndimage.gaussian_filter(s, 5)`` (defaults); beats are the strict local minima (as
    ``argrelextrema(·, np.less)``: the first and last samples never count).
    """
    clips, batched = as_clips(joints, min_frames=2)
    if batched:
        raise DataError("motion_beats takes one clip (T, J, 3); call it per clip for a batch")
    return _motion_beats(clips[0])


def _clip_score(pos: np.ndarray, beats: np.ndarray) -> float:
    beats = np.asarray(beats).reshape(-1)
    if beats.size and not np.issubdtype(beats.dtype, np.integer):
        if not np.allclose(beats, np.round(beats)):
            raise DataError("music beats must be integer frame indices (at the motion's frame rate)")
        beats = np.round(beats).astype(np.int64)
    n_speed = pos.shape[0] - 1
    beats = beats[(beats >= 0) & (beats < n_speed)]  # the reference truncates the beat track to T−1 frames
    if beats.size == 0:
        raise DataError(f"no music beat falls inside the clip's first {n_speed} frames; BAS is undefined")
    found = _motion_beats(pos)
    if found.size == 0:
        return 0.0  # no motion beat: every music beat scores 0 (as in GCDance's evaluation)
    dist = np.abs(beats[:, None] - found[None, :]).min(axis=1)
    return float(np.exp(-(dist.astype(np.float64) ** 2) / (2 * BEAT_SIGMA**2)).mean())


def beat_align_score(
    joints: np.ndarray | Sequence[np.ndarray], music_beats: np.ndarray | Sequence[np.ndarray]
) -> float:
    """BAS of one clip ``(T, J, 3)`` with its music-beat frames, or the mean over a batch of clips.

    For a batch (``(N, T, J, 3)`` or a list) pass one beat array per clip. Music beats at frames ``≥ T−1`` (or
    negative) are dropped. A clip without motion beats scores 0; a clip without any music beat raises.
    """
    clips, batched = as_clips(joints, min_frames=3)
    if not batched:
        return _clip_score(clips[0], np.asarray(music_beats))
    if len(music_beats) != len(clips):
        raise DataError(f"got {len(clips)} clips but {len(music_beats)} music-beat arrays; pass one per clip")
    return float(np.mean([_clip_score(clip, np.asarray(b)) for clip, b in zip(clips, music_beats)]))


def music_beats(audio: np.ndarray, sr: int, fps: int = FPS) -> np.ndarray:
    """Music-beat frame indices at ``fps`` frames per second for a mono waveform ``audio`` sampled at ``sr`` Hz.

    The reference feature extractor: resample to ``fps · 512`` Hz (15360 Hz at 30 FPS; 30720 Hz at 60 FPS as
    Bailando's AIST++ preprocessing), so a 512-sample hop is one motion frame; keep the percussive part
    (``librosa.effects.hpss``), onset envelope ``librosa.onset.onset_strength`` with ``aggregate=np.median``, then
    ``librosa.beat.beat_track`` on that envelope (defaults; hop 512).
    """
    import librosa

    y = np.asarray(audio, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise DataError(f"audio must be a non-empty mono 1-D waveform, got shape {y.shape}")
    if sr <= 0 or fps <= 0:
        raise DataError(f"sample rate and fps must be positive, got {sr} and {fps}")
    if not np.isfinite(y).all():
        raise DataError("audio contains NaN or infinite samples")
    rate = fps * HOP_LENGTH
    if sr != rate:
        y = librosa.resample(y, orig_sr=sr, target_sr=rate)
    _, percussive = librosa.effects.hpss(y)
    envelope = librosa.onset.onset_strength(y=percussive, sr=rate, aggregate=np.median, hop_length=HOP_LENGTH)
    _, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=rate, hop_length=HOP_LENGTH)
    return np.asarray(beats, dtype=np.int64)
