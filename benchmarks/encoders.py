"""Music-encoder throughput: seconds of audio encoded per second of wall time (× real time).

    .venv/bin/python benchmarks/encoders.py [--seconds 60] [--repeats 3] [--threads N]

Input is a synthetic 44.1-kHz stereo song, so every encoder's time includes mixing and resampling. Encoders
that need weights run with random weights (``allow_random_weights=True``): same compute, meaningless features.
The best of ``--repeats`` timed runs is reported, after one warm-up run (numba/JIT, lazy imports): wall time,
and audio seconds per CPU-second of this process (all threads), which is steadier on a shared machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings

import numpy as np

SR = 44100
ENCODERS: list[tuple[str, dict]] = [
    ("stft", {}),
    ("stft", {"mode": "log"}),
    ("mfcc", {}),
    ("mfcc", {"deltas": 2}),
    ("baseline35", {}),
    ("chroma", {}),
    ("wav2clip", {"allow_random_weights": True}),
    ("wav2clip+stft", {"allow_random_weights": True}),
]


def song(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    chord = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    kick = 0.5 * np.exp(-((t % 0.5) * 40.0)) * np.sin(2 * np.pi * 60 * t)
    noise = 0.01 * np.random.default_rng(0).standard_normal(len(t))
    return np.stack([chord + kick + noise, chord + kick - noise]).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    os.environ.setdefault("DANCEGEN_OFFLINE", "1")
    os.environ.setdefault("DANCEGEN_CACHE", tempfile.mkdtemp())
    logging.getLogger("dancegen.features.wav2clip").setLevel(logging.ERROR)  # the random-weights warning
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from dancegen.features import build_music_encoder
    from mtlkit.registry import UnknownNameError

    audio = song(args.seconds)
    rows = []
    for spec, options in ENCODERS:
        try:
            enc = build_music_encoder(spec, **options)
        except UnknownNameError:  # e.g. the dancegen-chroma example plugin is not installed
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            enc.encode(audio[:, : SR * 2], SR)  # warm-up
        best, best_cpu = float("inf"), float("inf")
        for _ in range(args.repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            feats = enc.encode(audio, SR)
            best = min(best, time.perf_counter() - start)
            best_cpu = min(best_cpu, time.process_time() - start_cpu)
        label = spec + "".join(f" {k}={v}" for k, v in options.items() if k != "allow_random_weights")
        rows.append((label, feats.shape[1], best, args.seconds / best, args.seconds / best_cpu))
    print(f"{args.seconds:g} s of 44.1-kHz stereo audio, torch threads {torch.get_num_threads()}, "
          f"device {'cuda' if torch.cuda.is_available() else 'cpu'}")
    print(f"{'encoder':<28} {'dim':>5} {'seconds':>9} {'x real time':>12} {'x real time per CPU-s':>22}")
    for label, dim, secs, speed, cpu_speed in rows:
        print(f"{label:<28} {dim:>5} {secs:>9.3f} {speed:>12.1f} {cpu_speed:>22.1f}")


if __name__ == "__main__":
    main()
