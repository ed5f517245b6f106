"""``evaluate``: one entry for both modes of ``dancegen evaluate`` — a checkpoint (:func:`evaluate_checkpoint`,
generate then score) or a folder of motions made elsewhere (:func:`evaluate_motions`, score as given)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DataError
from .from_checkpoint import check_checkpoint_options, evaluate_checkpoint
from .from_motions import evaluate_motions
from .protocols import Protocol
from .shared import Progress, resolve_device, resolve_protocol


def evaluate(
    data: str | Path,
    protocol: str | Protocol = "gcdance",
    checkpoint: str | Path | None = None,
    motions: str | Path | None = None,
    repeats: int = 1,
    steps: int = 50,
    guidance: float = 2.7,
    seed: int = 0,
    beats: str = "auto",
    condition: str = "label",
    cache_dir: str | Path | None = None,
    device: str = "auto",
    skeleton: str = "default",
    progress: Progress | None = None,
    batch_size: int = 0,
    longform: str | None = None,
    cleanup: str | None = None,
    sampler: str = "ddim",
    weights: str = "ema",
    sets: int | None = None,
    clips_per_song: int | None = None,
) -> dict[str, Any]:
    """Evaluate a checkpoint (``checkpoint``: :func:`evaluate_checkpoint`) or a folder of motions (``motions``:
    :func:`evaluate_motions`) under ``protocol``; returns the report as a JSON-serialisable dict (see
    docs/dancegen/evaluation.md). ``sets``/``clips_per_song`` override a sampled protocol's counts (``gcdance``:
    10 and 15). Generation options given with ``motions`` are checked, then noted as unused."""
    proto = resolve_protocol(protocol).with_sets(sets, clips_per_song)
    resolve_device(device)
    if (checkpoint is None) == (motions is None):
        raise DataError("pass exactly one of --checkpoint DIR (generate with a trained model) or --motions DIR")
    if checkpoint is not None:
        return evaluate_checkpoint(data, checkpoint, proto, repeats=repeats, steps=steps, guidance=guidance, seed=seed,
                                   beats=beats, condition=condition, cache_dir=cache_dir, device=device,
                                   progress=progress, batch_size=batch_size, longform=longform, cleanup=cleanup,
                                   sampler=sampler, weights=weights)
    check_checkpoint_options(repeats, steps, guidance, batch_size, condition, longform, cleanup, sampler, weights)
    report = evaluate_motions(data, motions, proto, beats=beats, cache_dir=cache_dir,  # type: ignore[arg-type]
                              skeleton=skeleton, device=device, seed=seed)
    if repeats > 1:
        report["notes"].append("--repeats applies to --checkpoint only; a motions folder is one set")
    if weights != "ema":
        report["notes"].append("--weights applies to --checkpoint only")
    if longform or cleanup:
        report["notes"].append("--longform/--cleanup apply to --checkpoint only; motions from a folder are scored as "
                               "given")
    return report
