"""Loading Hugging Face ``transformers`` models for music encoders, offline-friendly.

A model is a local directory (``save_pretrained`` output) or a hub id. Local directories and offline mode
(``HF_HUB_OFFLINE`` / ``DANCEGEN_OFFLINE``) load with ``local_files_only=True``; any failure to find the files
becomes one :class:`~dancegen.errors.MissingWeightsError` line. ``allow_random_weights`` builds the
architecture from a config (``config=`` dict overrides) with a fixed seed instead, for tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import MissingWeightsError
from .weights import is_offline


def load_model(
    model_cls: Any,
    config_cls: Any,
    source: str | None,
    *,
    who: str,
    option_hint: str,
    allow_random_weights: bool,
    config: dict[str, Any] | None,
    seed: int,
) -> tuple[Any, dict[str, Any]]:
    """Return ``(model in eval mode, weights identity for config())``."""
    import torch

    if source is not None:
        local = Path(source).expanduser()
        local_only = local.is_dir() or is_offline()
        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # a full ClapModel checkpoint lists every unused text-tower key
        try:
            model = model_cls.from_pretrained(str(local) if local.is_dir() else source, local_files_only=local_only)
            return model.eval(), {"random": False, "source": str(local.resolve()) if local.is_dir() else source,
                                  "commit": getattr(model.config, "_commit_hash", None)}
        except (OSError, ValueError) as exc:
            if not allow_random_weights:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                where = "offline; " if local_only and not local.is_dir() else ""
                raise MissingWeightsError(f"{who}: cannot load model {source!r} ({where}{reason[:160]}); "
                                          f"{option_hint}") from None
        finally:
            hf_logging.set_verbosity(verbosity)
    elif not allow_random_weights:
        raise MissingWeightsError(f"{who}: no model given; {option_hint}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config_cls(**(config or {})))
    return model.eval(), {"random": True, "seed": int(seed), "config": config or {}}
