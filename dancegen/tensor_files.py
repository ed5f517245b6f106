"""safetensors files checked without loading them: tensor names and shapes from the header, and a one-line
description of how a set of tensors differs from the one a model expects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import DancegenError

Shapes = Mapping[str, Sequence[int]]


def tensor_shapes(path: str | Path, what: str) -> dict[str, tuple[int, ...]]:
    """Name → shape of every tensor in the safetensors file ``path``, read from its header (no tensor data is
    read). A missing, truncated or corrupt file raises one :class:`DancegenError` line naming ``what``."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise DancegenError(f"{what} missing: {p}")
    try:
        with safe_open(str(p), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 (no __iter__)
    except Exception as exc:  # SafetensorError (truncated, bad header), OSError
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DancegenError(f"{what} {p} is truncated or not a safetensors file ({reason}); copy it again") from None


def _examples(names: Sequence[str]) -> str:
    return ", ".join(names[:2]) + (", …" if len(names) > 2 else "")


def state_mismatch(expected: Shapes, found: Shapes) -> str | None:
    """How ``found`` (name → shape, e.g. a file's tensors) differs from ``expected`` (a model's state_dict shapes)
    in one short line, or None when names and shapes are the same."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    resized = [k for k in expected if k in found and tuple(found[k]) != tuple(expected[k])]
    parts = []
    if resized:
        k = resized[0]
        parts.append(f"{len(resized)} tensor(s) of another shape (e.g. {k}: {tuple(found[k])} in the file, "
                     f"{tuple(expected[k])} expected)")
    if missing:
        parts.append(f"{len(missing)} missing ({_examples(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected ({_examples(unexpected)})")
    return "; ".join(parts) or None
