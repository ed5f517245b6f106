"""``dancegen evaluate --checkpoint``: generate the protocol's test clips with a trained checkpoint (``repeats``
times) and score them next to the GT row."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..motion.layout import CONTACTS
from .music import Songs
from .protocols import Clip, Protocol
from .shared import (
    EvalSet,
    Progress,
    build_report,
    check_data,
    prepare,
    resolve_device,
    resolve_protocol,
    score_row,
)

CONDITIONS = ("label", "text")
PROMPT = "This is a {genre} type of music."


WEIGHTS = ("ema", "raw")


def check_checkpoint_options(repeats: int = 1, steps: int = 50, guidance: float = 2.7, batch_size: int = 0,
                             condition: str = "label", longform: str | None = None,
                             cleanup: str | None = None, sampler: str = "ddim", weights: str = "ema") -> None:
    """One-line error for the first bad generation option, before anything is loaded."""
    from ..pipeline import check_generation_options

    if weights not in WEIGHTS:
        raise DataError(f"unknown weights {weights!r}; choose ema (the EMA denoiser, default) or raw")
    if repeats < 1 or steps < 1 or batch_size < 0:
        raise DataError(f"repeats and steps must be >= 1 and batch size >= 0, got {repeats}, {steps} and {batch_size}")
    if condition not in CONDITIONS:
        raise DataError(f"unknown condition {condition!r}; choose one of {', '.join(CONDITIONS)}")
    check_generation_options(longform, cleanup, steps=steps, guidance=guidance, sampler=sampler)


def clips_batched(proto: Protocol, clips: list[Clip]) -> bool:
    """Whether ``clips`` are sampled in batches by :mod:`dancegen.clip_batch` (one window each, raw model output)
    rather than one pipeline call each (long-form sampling and clean-up): every clip fits one 4-s window and the
    protocol is not a whole-song one."""
    from ..motion.layout import WINDOW

    return not proto.whole_song and all(c.frames <= WINDOW for c in clips)


def generate(pipe: Any, clips: list[Clip], songs: Songs, condition: str, steps: int, guidance: float, seed: int,
             batch_size: int, progress: Callable[[int, int], None], batched: bool = True, longform: str = "blend",
             cleanup: str = "feet", sampler: str = "ddim") -> tuple[list[np.ndarray], list[list[int]] | None]:
    """One generated motion per clip (clip i with seed ``seed + i``, on its song's audio) and, unless batched, each
    clip's window boundaries. ``batched``: :mod:`dancegen.clip_batch` (clips of one window, raw); otherwise one
    pipeline call per clip with ``longform`` and ``cleanup``."""
    from ..clip_batch import ClipRequest, generate_clips
    from ..metrics.longform import window_boundaries

    def cond(c: Clip) -> dict[str, str]:
        return {"genre": c.genre} if condition == "label" else {"text": PROMPT.format(genre=c.genre)}

    if batched:
        reqs = [ClipRequest(songs[c.sequence_id].clip_wave(c), songs[c.sequence_id].wave[1], seed=seed + i, **cond(c))
                for i, c in enumerate(clips)]
        out = generate_clips(pipe, reqs, steps=steps, guidance=guidance, batch_size=batch_size, progress=progress,
                             sampler=sampler)
        return [m[: c.frames].numpy() for m, c in zip(out, clips)], None
    motions, bounds = [], []
    for i, c in enumerate(clips):
        song = songs[c.sequence_id]
        result = pipe(song.clip_wave(c), song.wave[1], steps=steps, guidance=guidance, seed=seed + i,
                      longform=longform, cleanup=cleanup, sampler=sampler, **cond(c))
        motions.append(result.motion[0, : c.frames].numpy())
        bounds.append(window_boundaries(result.windows))
        progress(i + 1, len(clips))
    return motions, bounds


def evaluate_checkpoint(
    data: str | Path,
    checkpoint: str | Path,
    protocol: str | Protocol = "gcdance",
    *,
    repeats: int = 1,
    steps: int = 50,
    guidance: float = 2.7,
    seed: int = 0,
    beats: str = "auto",
    condition: str = "label",
    cache_dir: str | Path | None = None,
    device: str = "auto",
    progress: Progress | None = None,
    batch_size: int = 0,
    longform: str | None = None,
    cleanup: str | None = None,
    sampler: str = "ddim",
    weights: str = "ema",
) -> dict[str, Any]:
    """Generate the test clips of ``data`` under ``protocol`` with ``checkpoint`` and score them; returns the report
    (see docs/dancegen/evaluation.md). Every sampled set (``gcdance``: 10 draws of 15 consecutive slices per song;
    other protocols: one set of every clip) is generated ``repeats`` times; row ``r`` (set-major), clip ``i``: seed
    ``seed + 100003·r + i``. ``weights``: ``ema`` (default) or ``raw`` denoiser weights; ``device``: ``auto``
    (CUDA when available), ``cpu``, ``cuda``, ``cuda:N``.

    Clips of at most one 4-s window are generated ``batch_size`` at a time (:mod:`dancegen.clip_batch`; the same
    motions as one by one; 0 = 16 on CUDA, 1 on the CPU, where batching measured no faster:
    benchmarks/clip_batch.py), raw. Longer clips and the ``songs``/``aist`` protocols' whole songs go through the
    pipeline one by one with ``longform`` (how windows are joined, default ``blend``) and ``cleanup`` (default
    ``feet`` for ``songs``, ``none`` — raw model output, as published tables score it — otherwise)."""
    from ..pipeline import DancePipeline

    t0 = time.perf_counter()
    proto = resolve_protocol(protocol)
    check_checkpoint_options(repeats, steps, guidance, batch_size, condition, longform, cleanup, sampler, weights)
    requested = device
    device = resolve_device(device)
    batch_size = batch_size or (16 if str(device).startswith("cuda") else 1)
    root = check_data(data)
    pipe = DancePipeline.from_checkpoint(Path(checkpoint).expanduser(), device=device, ema=weights == "ema")
    ev = prepare(root, proto, pipe.skeleton, beats, cache_dir, t0, seed)
    batched = clips_batched(proto, ev.test_clips)
    # published tables score raw model output: only the whole-song protocol cleans up by default
    gen_longform, gen_cleanup = longform or "blend", cleanup or ("feet" if proto.whole_song else "none")
    rows: list[dict[str, float | None]] = []
    per_song: list[list[dict[str, Any]]] = []
    gen_notes: list[str] = []
    gen_seconds = 0.0
    jobs = [(clip_set, r) for clip_set in ev.sets for r in range(repeats)]
    total = sum(len(s.clips) for s, _ in jobs)
    done = 0
    for row, (clip_set, _r) in enumerate(jobs):
        clips = clip_set.clips
        t1 = time.perf_counter()

        def tick(n: int, _total: int, base: int = done) -> None:
            if progress:
                progress("generate", base + n, total)

        seed_r = seed + 100_003 * row
        motions, bounds = generate(pipe, clips, ev.songs, condition, steps, guidance, seed_r, batch_size, tick,
                                   batched, gen_longform, gen_cleanup, sampler)
        done += len(clips)
        gen_seconds += time.perf_counter() - t1
        values, notes, songs_r = _score(ev, clips, motions, bounds, [seed_r + i for i in range(len(clips))])
        if songs_r is not None:
            per_song.append(songs_r)
        rows.append(values)
        gen_notes.extend(x for x in notes if x not in gen_notes)
    what = "song" if proto.whole_song else "clip"
    source = {"kind": "checkpoint", "path": str(checkpoint), "checkpoint_id": pipe.checkpoint_id,
              "weights": weights, "steps": steps, "sampler": sampler, "guidance": guidance, "condition": condition,
              "longform": None if batched else gen_longform, "cleanup": "none" if batched else gen_cleanup,
              "seeds": f"seed + 100003·row + {what} index (seed={seed}; rows: sets × repeats, set-major)"}
    report_notes = []
    if batched and (longform or cleanup):
        report_notes.append(f"--longform/--cleanup do not apply to {proto.name}: every clip is one 4-s window, "
                            "sampled in batches without clean-up (raw model output, as published evaluations score)")
    return build_report(ev, source, len(ev.sets[0].clips), rows, gen_notes, per_song, report_notes, device,
                        gen_seconds, requested)


def _score(ev: EvalSet, clips: list[Clip], motions: list[np.ndarray], bounds: list[list[int]] | None,
           seeds: list[int]) -> tuple[dict[str, float | None], list[str], list[dict[str, Any]] | None]:
    """One row: whole songs with their own contact channels and window boundaries, clips as a set against the
    protocol's reference for them."""
    joints = ev.joints_of(motions)
    if ev.proto.whole_song:
        return score_row(ev, clips, joints, contacts=[m[:, CONTACTS] for m in motions], boundaries=bounds,
                         seeds=seeds)
    return score_row(ev, clips, joints)
