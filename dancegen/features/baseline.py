"""``baseline35``: the 35 hand-crafted music features of EDGE / FineDance, per 30-FPS frame.

librosa at 15360 Hz, hop 512 (every feature centred at time i/30, as in :mod:`.stft`), in this order:
onset-strength envelope (1), MFCC (20, librosa defaults), chroma_cens (12), onset-peak one-hot (1, onset_detect
on the envelope), beat one-hot (1, beat_track on the envelope with tightness 100). EDGE starts the beat tracker
at the AIST++ tempo parsed from the file name, else at ``librosa.beat.tempo`` of the file re-loaded at
22050 Hz; here ``start_bpm`` is an option and by default is estimated from the same 15360-Hz envelope
(``librosa.feature.tempo``), which needs no file name.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import DancegenError
from .encoder import ResamplingEncoder

HOP = 512


class Baseline35Encoder(ResamplingEncoder):
    """EDGE/FineDance 35 features: onset envelope, MFCC, chroma_cens, onset peaks, beats."""

    name: ClassVar[str] = "baseline35"
    nominal_dim: ClassVar[int | None] = 35

    def __init__(self, start_bpm: float | None = None, tightness: float = 100.0) -> None:
        if start_bpm is not None and not 20.0 <= float(start_bpm) <= 400.0:
            raise DancegenError(f"baseline35: start_bpm must be in [20, 400] or None, got {start_bpm}")
        self.start_bpm = None if start_bpm is None else float(start_bpm)
        self.tightness = float(tightness)
        self.sample_rate = 15360

    @property
    def dim(self) -> int:
        return 35

    def encode_prepared(self, y: np.ndarray, frames: int) -> np.ndarray:
        import librosa

        sr = self.sample_rate
        # onset_strength(y=...) and mfcc(y=...) both start from the same dB mel spectrogram: compute it once
        mel_db = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, hop_length=HOP))
        envelope = librosa.onset.onset_strength(S=mel_db, sr=sr, hop_length=HOP)
        mfcc = librosa.feature.mfcc(S=mel_db, sr=sr, n_mfcc=20)
        chroma = librosa.feature.chroma_cens(y=y, sr=sr, hop_length=HOP, n_chroma=12)
        peaks = librosa.onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=HOP)
        bpm = self.start_bpm
        if bpm is None:
            bpm = float(librosa.feature.tempo(onset_envelope=envelope, sr=sr, hop_length=HOP)[0])
        _, beats = librosa.beat.beat_track(
            onset_envelope=envelope, sr=sr, hop_length=HOP, start_bpm=bpm, tightness=self.tightness
        )
        n = len(envelope)
        peak_onehot = np.zeros(n, dtype=np.float32)
        peak_onehot[peaks] = 1.0
        beat_onehot = np.zeros(n, dtype=np.float32)
        beat_onehot[beats] = 1.0
        feats = np.concatenate(
            [envelope[:, None], mfcc.T[:n], chroma.T[:n], peak_onehot[:, None], beat_onehot[:, None]], axis=1
        )
        return feats[:frames]

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "sample_rate": self.sample_rate, "hop": HOP, "start_bpm": self.start_bpm,
                "tightness": self.tightness}
