"""Compile librosa's numba kernels that dancegen uses into NUMBA_CACHE_DIR, in a clean process.

Compiling them inside a busy test process (torch loaded, many threads) crashed with a segmentation fault on
fresh environments; once compiled here, test processes only load the cached machine code.
"""

from __future__ import annotations

import numpy as np

from dancegen.features import build_music_encoder
from dancegen.features.registry import MUSIC_ENCODERS
from dancegen.metrics import music_beats

SR = 15360
audio = np.random.default_rng(0).standard_normal(SR * 6).astype(np.float32) * 0.1
names = [n for n in ("stft", "mfcc", "baseline35", "chroma") if n in MUSIC_ENCODERS.names()]
print(f"numba cache warm-up: {','.join(names)} {build_music_encoder(','.join(names)).encode(audio, SR).shape}, "
      f"beats {len(music_beats(audio, SR))}")
