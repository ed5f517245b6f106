"""Numpy music synthesis for the procedural data set: drums, bass, pad and a melody on an isochronous beat grid.

Every beat carries a percussive onset (accented on the bar's downbeat), so the saved beat times are what a beat
tracker hears. Deterministic for a given ``numpy.random.Generator`` state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .styles import MusicStyle

STEPS_PER_BEAT = 4


@dataclass(frozen=True)
class Song:
    """A synthesised song: mono float32 ``audio`` at ``sr`` Hz and the ground-truth ``beats`` (seconds)."""

    audio: np.ndarray
    sr: int
    beats: np.ndarray
    bpm: float
    meter: int


def _t(seconds: float, sr: int) -> np.ndarray:
    return np.arange(int(seconds * sr)) / sr


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal(n)


def _highpass(x: np.ndarray) -> np.ndarray:
    return np.diff(x, prepend=0.0)


def _lowpass(x: np.ndarray, k: int) -> np.ndarray:
    return np.convolve(x, np.ones(k) / k, mode="same")


def _kick(sr: int, rng: np.random.Generator, low: float = 45.0) -> np.ndarray:
    t = _t(0.35, sr)
    freq = low + 100.0 * np.exp(-t * 35.0)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t * 9.0)
    click = _highpass(_noise(rng, t.size)) * np.exp(-t * 300.0) * 0.4
    return body + click


def _snare(sr: int, rng: np.random.Generator, clap: bool = False) -> np.ndarray:
    t = _t(0.25, sr)
    noise = _highpass(_noise(rng, t.size)) * 0.5
    if clap:
        env = sum(np.exp(-np.clip(t - d, 0, None) * 60.0) * (t >= d) for d in (0.0, 0.011, 0.022)) / 2
        return noise * env
    return noise * np.exp(-t * 22.0) + 0.6 * np.sin(2 * np.pi * 185.0 * t) * np.exp(-t * 25.0)


def _hat(sr: int, rng: np.random.Generator, decay: float = 70.0) -> np.ndarray:
    t = _t(0.12, sr)
    return _highpass(_highpass(_noise(rng, t.size))) * 0.25 * np.exp(-t * decay)


def _tom(sr: int, rng: np.random.Generator, f0: float, decay: float = 7.0) -> np.ndarray:
    t = _t(0.5, sr)
    freq = f0 * (1.0 + 0.6 * np.exp(-t * 25.0))
    thump = _lowpass(_noise(rng, t.size), 12) * np.exp(-t * 60.0) * 2.0
    return np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t * decay) + thump


def _woodblock(sr: int, f0: float) -> np.ndarray:
    t = _t(0.12, sr)
    return np.sin(2 * np.pi * f0 * t) * np.exp(-t * 45.0) + 0.4 * np.sin(2 * np.pi * 2.76 * f0 * t) * np.exp(-t * 80)


def _gong(sr: int, rng: np.random.Generator, f0: float) -> np.ndarray:
    t = _t(1.2, sr)
    partials = (1.0, 1.52, 2.31, 2.9)
    bend = 1.0 + 0.06 * (1 - np.exp(-t * 4.0))  # the opera gong's upward pitch glide
    x = sum(np.sin(2 * np.pi * np.cumsum(f0 * p * bend) / sr) / (k + 1) for k, p in enumerate(partials))
    return 0.5 * x * np.exp(-t * 3.0) + _highpass(_noise(rng, t.size)) * 0.15 * np.exp(-t * 30.0)


def _cymbal(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(0.6, sr)
    return _highpass(_noise(rng, t.size)) * 0.3 * np.exp(-t * 9.0)


def drum_kit(kit: str, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-shot samples (low, mid, high) of a percussion kit; pitches vary a little per song."""
    j = rng.uniform(0.92, 1.08)
    if kit == "electro":
        return _kick(sr, rng, 42 * j), _snare(sr, rng, clap=True), _hat(sr, rng, 90.0)
    if kit == "acoustic":
        return _kick(sr, rng, 55 * j), _snare(sr, rng), _hat(sr, rng, 35.0)
    if kit == "funk":
        return _kick(sr, rng, 50 * j), _snare(sr, rng), _hat(sr, rng, 60.0)
    if kit == "chinese":  # tanggu drum, bangzi woodblock, small cymbals
        return _tom(sr, rng, 95 * j, 6.0), _woodblock(sr, 1100 * j), 0.6 * _woodblock(sr, 2300 * j)
    if kit == "dai":  # elephant-foot drum, mang gong, cymbals
        return _tom(sr, rng, 75 * j, 5.0), 0.5 * _gong(sr, rng, 260 * j)[: sr // 3], _hat(sr, rng, 25.0)
    if kit == "dap":  # Uyghur frame drum: doum (centre), tek (rim), jingles
        return _tom(sr, rng, 85 * j, 10.0), 0.8 * _woodblock(sr, 1500 * j), _hat(sr, rng, 40.0)
    if kit == "miao":  # wooden drum and bamboo clappers
        return _tom(sr, rng, 110 * j, 8.0), 0.8 * _woodblock(sr, 900 * j), 0.5 * _woodblock(sr, 1800 * j)
    raise ValueError(f"unknown drum kit {kit!r}")


def _midi_hz(note: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(note) - 69.0) / 12.0)


def _harmonic_sum(phase: np.ndarray, n_harm: int, weight: np.ndarray, decay_per_k: np.ndarray | None = None,
                  odd_only: bool = False) -> np.ndarray:
    """Σ_k weight[k-1]·g^(k-1)·sin(k·phase) by the Chebyshev recurrence sin((k+1)x) = 2cos(x)sin(kx) − sin((k−1)x).

    ``decay_per_k`` (a per-sample factor g, or None for 1) makes upper harmonics fade faster.
    """
    two_cos = 2.0 * np.cos(phase)
    s_prev, s_k = np.zeros_like(phase), np.sin(phase)
    gain = np.ones_like(phase)
    acc = np.zeros_like(phase)
    for k in range(1, n_harm + 1):
        if not odd_only or k % 2 == 1:
            acc += weight[k - 1] * gain * s_k
        s_prev, s_k = s_k, two_cos * s_k - s_prev
        if decay_per_k is not None:
            gain = gain * decay_per_k
    return acc


def tone(kind: str, freq: float, dur: float, sr: int, rng: np.random.Generator, max_harm: int = 8) -> np.ndarray:
    """One note of timbre ``kind`` (additive synthesis, harmonics kept below Nyquist)."""
    t = _t(dur, sr)
    n_harm = max(1, min(max_harm, int(0.45 * sr / freq)))
    vib = {"flute": (5.0, 0.006), "bowed": (6.0, 0.012), "reed": (5.5, 0.004)}.get(kind, (0.0, 0.0))
    phase = 2 * np.pi * freq * (t + vib[1] * np.sin(2 * np.pi * vib[0] * t) / max(2 * np.pi * vib[0], 1e-9))
    k = np.arange(1, n_harm + 1, dtype=float)
    if kind in ("pluck", "piano"):
        decay = {"pluck": 4.0, "piano": 2.0}[kind]
        x = _harmonic_sum(phase, n_harm, 1.0 / k ** 1.2, np.exp(-t * decay * 0.4)) * np.exp(-t * decay * 1.4)
        return x * np.minimum(1.0, t / 0.004)
    if kind == "square":
        x = _harmonic_sum(phase, n_harm, 1.0 / k, odd_only=True)
    elif kind in ("saw", "bowed", "brass"):
        x = _harmonic_sum(phase, n_harm, 1.0 / k)
        if kind == "brass":
            x = np.tanh(2.0 * x)
    elif kind == "flute":
        x = np.sin(phase) + 0.15 * np.sin(2 * phase) + 0.05 * _lowpass(_noise(rng, t.size), 4)
    elif kind == "reed":  # lusheng / hulusi: the note with its fifth
        x = _harmonic_sum(phase, n_harm, 1.0 / k ** 1.5) + 0.6 * np.sin(1.5 * phase)
    else:
        raise ValueError(f"unknown timbre {kind!r}")
    attack = {"bowed": 0.08, "flute": 0.04, "brass": 0.02}.get(kind, 0.01)
    env = np.minimum(1.0, t / attack) * np.minimum(1.0, (dur - t) / 0.05) * np.exp(-t * 0.8)
    return x * env


def _add(out: np.ndarray, sample: np.ndarray, start: int, gain: float) -> None:
    if start >= out.size:
        return
    end = min(out.size, start + sample.size)
    out[start:end] += gain * sample[: end - start]


def _bass_tone(kind: str, freq: float, dur: float, sr: int) -> np.ndarray:
    t = _t(dur, sr)
    if kind == "sub":
        x = np.sin(2 * np.pi * freq * t) + 0.2 * np.sin(4 * np.pi * freq * t)
    elif kind == "synth":
        x = np.tanh(2.0 * np.sin(2 * np.pi * freq * t))
    else:  # walking upright bass / drone
        x = sum(np.sin(2 * np.pi * freq * h * t) / h ** 2 for h in (1, 2, 3))
    decay = 0.5 if kind == "drone" else 3.0
    return x * np.exp(-t * decay) * np.minimum(1.0, t / 0.01) * np.minimum(1.0, (dur - t) / 0.03)


def synthesize(style: MusicStyle, seconds: float, sr: int, rng: np.random.Generator) -> Song:
    """Synthesise ``seconds`` of music in ``style``; beats start at a small random offset."""
    n = round(seconds * sr)
    out = np.zeros(n)
    bpm = float(rng.uniform(*style.tempo))
    period = 60.0 / bpm
    offset = float(rng.uniform(0.05, 0.4))
    n_beats = int(np.floor((seconds - offset) / period)) + 1
    beats = offset + period * np.arange(n_beats)
    beats = beats[beats < seconds - 1e-6]
    steps_per_bar = style.meter * STEPS_PER_BEAT
    swing_shift = np.array([0.0, 1.0, 2.0, 1.0]) * style.swing / 12.0  # off-beat eighth moves toward 2/3

    def step_time(bar: int, step: int) -> float:
        beat, sub = divmod(step, STEPS_PER_BEAT)
        return offset + period * (bar * style.meter + beat + sub / STEPS_PER_BEAT + swing_shift[sub])

    n_bars = int(np.ceil(len(beats) / style.meter)) + 1
    low, mid, high = drum_kit(style.kit, sr, rng)
    patterns = [style.low[rng.integers(len(style.low))], style.mid[rng.integers(len(style.mid))],
                style.high[rng.integers(len(style.high))]]
    gains = (1.0, 0.7, 0.35)
    accent = np.zeros(steps_per_bar)
    accent[::STEPS_PER_BEAT] = 1.0  # every beat gets an onset: the beat marker on the low voice
    for bar in range(n_bars):
        for voice, (sample, pattern, gain) in enumerate(zip((low, mid, high), patterns, gains)):
            for step, ch in enumerate(pattern[:steps_per_bar]):
                if ch == "." and not (voice == 0 and accent[step]):
                    continue
                level = 1.0 if ch == "X" else 0.7 if ch == "x" else 0.45
                if voice == 0 and step == 0:
                    level = 1.0
                _add(out, sample, round(step_time(bar, step) * sr), gain * level * rng.uniform(0.9, 1.0))
        if style.kit in ("chinese", "dai") and bar % 4 == 0:
            _add(out, _cymbal(sr, rng), round(step_time(bar, 0) * sr), 0.5)

    # Harmony: chord roots on scale degrees, one chord per bar.
    tonic = int(rng.integers(style.tonic[0], style.tonic[1] + 1))
    scale = np.asarray(style.scale)
    progression = rng.choice([0, 0, 3, 4, 5, 1], size=4) if len(scale) >= 6 else rng.choice([0, 0, 2, 3, 4], size=4)
    progression[0] = 0
    bar_dur = period * style.meter
    for bar in range(n_bars):
        degree = int(progression[bar % 4]) % len(scale)
        root = tonic - 12 + scale[degree]
        start = round(step_time(bar, 0) * sr)
        if style.bass == "walking":
            for b in range(style.meter):
                note = root + scale[(degree + b * 2) % len(scale)] - scale[degree]
                _add(out, _bass_tone("walking", float(_midi_hz(note)), period * 0.95, sr),
                     round(step_time(bar, b * STEPS_PER_BEAT) * sr), 0.5)
        elif style.bass == "drone":
            _add(out, _bass_tone("drone", float(_midi_hz(tonic - 12)), bar_dur, sr), start, 0.25)
        elif style.bass != "none":
            for b in (0, style.meter // 2) if style.meter > 2 else (0,):
                _add(out, _bass_tone(style.bass, float(_midi_hz(root)), period * 1.5, sr),
                     round(step_time(bar, b * STEPS_PER_BEAT) * sr), 0.45)
        if style.pad:
            chord = [root + 12 + scale[(degree + i) % len(scale)] - scale[degree] + 12 * ((degree + i) // len(scale))
                     for i in (0, 2, 4)]
            for note in chord:
                _add(out, tone("saw", float(_midi_hz(note)), bar_dur, sr, rng, max_harm=3) * 0.5, start, 0.04)

    # Melody: a random walk on the scale, notes on the style's sixteenth positions.
    degree_pos = int(rng.integers(len(scale)))
    octave = 1
    motif = [s for s in style.note_steps if rng.random() < 0.75] or [0]
    for bar in range(n_bars):
        steps = motif if bar % 4 != 3 else style.note_steps
        for i, step in enumerate(steps):
            if bar % 8 == 7 and i > 0:
                break  # breathe at the end of a phrase
            degree_pos += int(rng.choice([-2, -1, -1, 0, 1, 1, 2]))
            degree_pos = int(np.clip(degree_pos, -len(scale), 2 * len(scale)))
            octave_shift, deg = divmod(degree_pos, len(scale))
            note = tonic + 12 * octave + 12 * octave_shift + scale[deg]
            nxt = steps[i + 1] if i + 1 < len(steps) else steps_per_bar
            dur = max(0.12, (nxt - step) / STEPS_PER_BEAT * period * 0.95)
            gain = 0.22 if step % STEPS_PER_BEAT == 0 else 0.16
            _add(out, tone(style.lead, float(_midi_hz(note)), dur, sr, rng), round(step_time(bar, step) * sr),
                 gain)

    fade = np.minimum(1.0, (n - np.arange(n)) / (0.05 * sr))
    out *= fade
    out /= max(1e-6, float(np.abs(out).max())) / 0.9
    return Song(out.astype(np.float32), sr, beats, bpm, style.meter)
