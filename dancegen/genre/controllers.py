"""The two built-in genre controllers: ``label`` (exact genre names) and ``text`` (free text → classifier)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import DancegenError, MissingWeightsError
from .controller import GenreController, check_texts
from .descriptions import asset_bytes
from .encoders import MiniLMEncoder, TextEncoder, build_text_encoder, prompt_embeddings
from .genres import FINEDANCE, GenreSet, GenreSetLike, get_genre_set

#: The shipped MiniLM head and MiniLM prompt embeddings (FineDance genres only); rebuilt by
#: ``python -m dancegen.genre.train_head``.
SHIPPED_HEAD = "genre_head_minilm.safetensors"
_LABEL_LOGIT = 20.0  # one-hot logits of the label controller: softmax gives 1 − (G−1)·e^-20 ≈ 1


def _encoder_options(text_encoder: str | dict[str, Any], allow_random_weights: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"name": text_encoder} if isinstance(text_encoder, str) else dict(text_encoder)
    if allow_random_weights and str(options.get("name", "")).lower() == "clip":
        options.setdefault("allow_random_weights", True)
    return options


def _is_shipped_minilm(encoder: TextEncoder) -> bool:
    return isinstance(encoder, MiniLMEncoder) and encoder.weights is None


def read_head_file(blob: bytes) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and string metadata of a safetensors head file given as bytes."""
    from safetensors.torch import load

    header_len = int.from_bytes(blob[:8], "little")
    meta = json.loads(blob[8 : 8 + header_len]).get("__metadata__", {})
    return load(blob), meta


def load_shipped_head() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors (``head.*``, ``prompt_embeddings``) and metadata of the shipped MiniLM head file."""
    try:
        blob = asset_bytes(SHIPPED_HEAD)
    except OSError:
        raise MissingWeightsError(f"the shipped {SHIPPED_HEAD} is missing; run python -m dancegen.genre.train_head"
                                  ) from None
    return read_head_file(blob)


def _genre_table(encoder: TextEncoder, genres: GenreSet) -> torch.Tensor:
    if _is_shipped_minilm(encoder) and genres == FINEDANCE:
        return load_shipped_head()[0]["prompt_embeddings"]
    return prompt_embeddings(encoder, genres=genres)


class LabelController(GenreController):
    """Exact genre names or aliases of its genre set only (Dai, Tai, Hmong…); anything else is an error.

    Probabilities are one-hot; C_E is the frozen text-encoder embedding of ``This is a {genre} type of music.``
    (``embedding="prompt"``, the paper's choice; MiniLM's for the FineDance set ships with dancegen, others are
    computed once and cached on disk) or the G-D one-hot vector (``embedding="onehot"``, no encoder). ``genres``:
    the genre set (``"finedance"``, ``"aist"`` or a dict). No trainable parameters.
    """

    name = "label"
    embedding_dim = 384
    needs_weights = False
    offline = True
    trainable = False

    def __init__(self, text_encoder: str | dict[str, Any] = "minilm", embedding: str = "prompt",
                 allow_random_weights: bool = False, min_confidence: float = 0.5, min_margin: float = 0.2,
                 genres: GenreSetLike = None) -> None:
        if embedding not in ("prompt", "onehot"):
            raise DancegenError(f"label controller embedding must be 'prompt' or 'onehot', got {embedding!r}")
        genre_set = get_genre_set(genres)
        encoder = build_text_encoder(_encoder_options(text_encoder, allow_random_weights))
        table = torch.eye(len(genre_set)) if embedding == "onehot" else _genre_table(encoder, genre_set)
        super().__init__(table, min_confidence, min_margin, genre_set)
        self.encoder, self.embedding, self.allow_random_weights = encoder, embedding, allow_random_weights

    def config(self) -> dict[str, Any]:
        return {**super().config(), "text_encoder": self.encoder.config(), "embedding": self.embedding,
                "allow_random_weights": self.allow_random_weights}

    def logits(self, texts: Sequence[str]) -> torch.Tensor:
        """Fixed one-hot logits (N, G); unknown names raise UnknownGenreError listing the set's genres."""
        indices = torch.tensor([self.genre_set.index(t) for t in check_texts(texts, self.genres)])
        out = torch.zeros(len(indices), self.num_genres, device=self.prompt_embeddings.device)
        out[torch.arange(len(indices)), indices] = _LABEL_LOGIT
        return out

    def resolve(self, texts: list[str], probabilities: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
        return probabilities, ["label"] * len(texts)


class GenreHead(nn.Module):
    """Classifier head on frozen text embeddings → ``num_genres`` logits: Linear (``hidden=0``) or
    Linear → GELU → Dropout → Linear.

    Logits are divided by ``temperature`` (a buffer, fitted on out-of-fold predictions by ``train_head`` so that
    probabilities — and the ``ambiguous`` flag — are calibrated; it does not change the argmax).
    """

    temperature: torch.Tensor

    def __init__(self, in_dim: int, hidden: int = 256, dropout: float = 0.1,
                 num_genres: int = len(FINEDANCE)) -> None:
        super().__init__()
        if hidden < 0:
            raise DancegenError(f"head hidden size must be >= 0, got {hidden}")
        self.in_dim, self.hidden, self.num_genres = in_dim, hidden, num_genres
        if hidden == 0:
            self.net: nn.Module = nn.Linear(in_dim, num_genres)
        else:
            self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                     nn.Linear(hidden, num_genres))
        self.register_buffer("temperature", torch.ones(()))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.net(embeddings) / self.temperature


class TextController(GenreController):
    """Free text → genre with a small classifier head on frozen text-encoder embeddings.

    A genre name or alias in the text wins over the classifier (see :meth:`GenreController.resolve`). C_E is
    the prompt embedding of the predicted genre (paper). The default head (MiniLM, 1 hidden layer of 256, FineDance
    genres) ships trained on the train split of the genre-description set; ``head`` is a safetensors file from
    ``python -m dancegen.genre.train_head`` for other encoders. ``allow_random_weights`` builds an untrained
    head (and, for CLIP without weights, a random text tower): tests only. The head is trainable through
    :meth:`logits` (L_C).

    ``genres`` other than ``"finedance"`` (e.g. ``"aist"``): no trained head exists, so an untrained (seeded) head of
    the set's size is built — ``dancegen train`` trains it with L_C — and C_E comes from the text encoder's
    embeddings of the set's prompts. A genre name in the text still decides the genre.
    """

    name = "text"
    embedding_dim = 384
    needs_weights = False
    offline = True
    trainable = True

    def __init__(self, text_encoder: str | dict[str, Any] = "minilm", head: str | None = None, hidden: int = 256,
                 allow_random_weights: bool = False, min_confidence: float = 0.5, min_margin: float = 0.2,
                 genres: GenreSetLike = None) -> None:
        genre_set = get_genre_set(genres)
        encoder = build_text_encoder(_encoder_options(text_encoder, allow_random_weights))
        tensors, meta = self._head_tensors(encoder, head, allow_random_weights, genre_set)
        table = (tensors["prompt_embeddings"] if "prompt_embeddings" in tensors
                 else prompt_embeddings(encoder, genres=genre_set))
        if table.ndim != 2 or table.shape[0] != len(genre_set):
            raise DancegenError(f"genre head {head} holds {table.shape[0]} genre prompts but the {genre_set.name} "
                                f"genre set has {len(genre_set)} genres")
        super().__init__(table, min_confidence, min_margin, genre_set)
        self.encoder, self.head_path, self.allow_random_weights = encoder, head, allow_random_weights
        hidden = int(meta.get("hidden", hidden))
        with torch.random.fork_rng(devices=[]):  # a seeded initialisation when no trained weights are given
            torch.manual_seed(0)
            self.head = GenreHead(encoder.dim, hidden, num_genres=len(genre_set))
        state = {k[len("head."):]: v for k, v in tensors.items() if k.startswith("head.")}
        if state:
            try:
                self.head.load_state_dict(state)
            except RuntimeError as exc:
                raise DancegenError(f"genre head weights do not fit a {encoder.dim}-D {encoder.name} encoder "
                                    f"with hidden={hidden} and {len(genre_set)} genres: "
                                    f"{str(exc).splitlines()[0]}") from None
        self.hidden = hidden
        self.eval()

    @staticmethod
    def _head_tensors(encoder: TextEncoder, head: str | None, allow_random_weights: bool,
                      genres: GenreSet) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        if head is not None:
            path = Path(head).expanduser()
            if not path.is_file():
                raise MissingWeightsError(f"genre head file {path} not found; create it with "
                                          "python -m dancegen.genre.train_head --out FILE")
            try:
                return read_head_file(path.read_bytes())
            except Exception as exc:  # safetensors raises its own error types for corrupt files
                raise DancegenError(f"cannot read genre head {path}: {exc}") from None
        if genres != FINEDANCE:  # no trained head exists for other sets: L_C trains this one
            return {}, {}
        if _is_shipped_minilm(encoder):
            return load_shipped_head()
        if allow_random_weights:
            return {}, {}
        raise MissingWeightsError(f"no trained genre head for text encoder {encoder.name!r}; train one with "
                                  f"python -m dancegen.genre.train_head --text-encoder {encoder.name} --out FILE "
                                  "and pass it as head=FILE")

    def config(self) -> dict[str, Any]:
        return {**super().config(), "text_encoder": self.encoder.config(), "head": self.head_path,
                "hidden": self.hidden, "allow_random_weights": self.allow_random_weights}

    def logits(self, texts: Sequence[str]) -> torch.Tensor:
        """Head logits (N, G) on cached frozen embeddings; differentiable w.r.t. the head parameters."""
        texts = check_texts(texts, self.genres)
        param = next(self.head.parameters())
        return self.head(self.encoder.encode(texts).to(param))

    def classify(self, texts: Sequence[str]) -> torch.Tensor:
        """The classifier's own predictions (N,) (no name matching) — what held-out accuracy measures."""
        with torch.no_grad():
            return self.logits(texts).argmax(-1)
