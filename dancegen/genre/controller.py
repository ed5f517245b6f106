"""The genre-controller interface: texts or genre labels → genre probabilities, predicted genre and C_E.

A :class:`GenreController` is an ``nn.Module``. Its only trainable parameters are those of its classifier head
(none for the label controller); the text encoder behind it is frozen and not part of the module. The model's
adapter MLP α maps the genre embedding C_E (``embedding_dim`` wide) to the FiLM parameters (paper eq. 3–4).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import DancegenError
from .genres import FINEDANCE, GenreSet, GenreSetLike, genre_set_config, get_genre_set


@dataclass(frozen=True)
class GenrePrediction:
    """What :meth:`GenreController.predict` tells a user about one text.

    ``source`` is ``"name"`` when a genre name or alias in the text decided it, ``"names"`` when several did
    (the classifier chose among them), ``"classifier"`` otherwise, ``"label"`` for the label controller.
    ``ambiguous`` means the top probability is below the controller's ``min_confidence`` or the margin to the
    second below ``min_margin``: show ``top3`` instead of silently picking one.
    """

    text: str
    genre: str
    index: int
    probabilities: dict[str, float]
    top3: list[tuple[str, float]]
    ambiguous: bool
    source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``--json`` output)."""
        return {"text": self.text, "genre": self.genre, "index": self.index, "ambiguous": self.ambiguous,
                "source": self.source, "top3": [{"genre": g, "probability": p} for g, p in self.top3],
                "probabilities": self.probabilities}


@dataclass
class GenreOutput:
    """Batch result of :meth:`GenreController.forward` for N texts.

    ``logits`` (N, G): the classifier's raw logits over the controller's G genres (differentiable; what L_C uses).
    ``probabilities`` (N, G) and ``indices`` (N,): after names in the texts are taken into account. ``embedding``
    (N, embedding_dim): C_E for the predicted genres. ``ambiguous`` (N,) bool; ``sources``: one per text (see
    GenrePrediction).
    """

    logits: torch.Tensor
    probabilities: torch.Tensor
    indices: torch.Tensor
    embedding: torch.Tensor
    ambiguous: torch.Tensor
    sources: list[str]


#: Longest genre text accepted (characters); the text encoders read far fewer tokens than this.
MAX_TEXT_CHARS = 1000


def check_texts(texts: Sequence[str], genres: Sequence[str] = FINEDANCE.genres) -> list[str]:
    """Validate a batch of texts: a sequence of non-empty strings of at most :data:`MAX_TEXT_CHARS` characters
    (``genres``: the names an error suggests)."""
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise DancegenError("no genre text given; pass a description or one of: " + ", ".join(genres))
    for text in texts:
        if not isinstance(text, str):
            raise DancegenError(f"genre text must be a string, got {type(text).__name__}")
        if not text.strip():
            raise DancegenError("genre text is empty; describe the dance or music, or give one of: "
                                + ", ".join(genres))
        if len(text) > MAX_TEXT_CHARS:
            raise DancegenError(f"genre text of {len(text)} characters is too long; describe the dance or music in "
                                f"at most {MAX_TEXT_CHARS}")
    return texts


class GenreController(nn.Module, ABC):
    """Texts (descriptions or genre labels) → genre probabilities (N, G), predicted genres and C_E (N, D).

    G is the size of the controller's :class:`~dancegen.genre.genres.GenreSet` (``genres`` option: ``"finedance"``
    — the default, 16 genres — ``"aist"`` — 10 — or a :meth:`GenreSet.to_dict` dict); ``config()`` stores it, so a
    checkpoint rebuilds the same set. Interface used by the model, the trainer and the CLI:

    - ``logits(texts) -> (N, G)``: differentiable classifier logits; the classification loss L_C is
      ``cross_entropy(controller.logits(descriptions), labels)`` and its gradient reaches the head, whose
      parameters are ``controller.parameters()`` (empty for controllers without a head). Text embeddings of the
      frozen encoder are cached, so calling it every step on the same descriptions costs only the head.
    - ``forward(texts, soft=False) -> GenreOutput``: probabilities after names are resolved (a genre name or
      alias in the text wins over the classifier), predicted indices and C_E.
    - ``embed(genres) -> (N, D)``: C_E for label indices (N,) — the training condition — or, for a float
      (N, G) probability matrix, the probability-weighted mix of the genre embeddings (genre blending).
    - ``predict(text) -> GenrePrediction`` for users; ``config()`` / :func:`build_genre_controller` rebuild a
      controller from a checkpoint.

    Class attributes for ``dancegen plugins``: ``name``, ``embedding_dim`` (the default configuration's; an
    instance holds its own), ``needs_weights``, ``offline``, ``trainable`` (has a classifier head).
    C_E rows are ``prompt_embeddings`` (G, D), a non-persistent buffer that follows ``.to(device)``.
    """

    name: ClassVar[str] = ""
    embedding_dim: int = 0
    needs_weights: ClassVar[bool] = False
    offline: ClassVar[bool] = True
    trainable: ClassVar[bool] = False
    genre_set: GenreSet
    prompt_embeddings: torch.Tensor

    def __init__(self, genre_embeddings: torch.Tensor, min_confidence: float = 0.5, min_margin: float = 0.2,
                 genres: GenreSetLike = None) -> None:
        super().__init__()
        self.genre_set = get_genre_set(genres)
        count = len(self.genre_set)
        if genre_embeddings.ndim != 2 or genre_embeddings.shape[0] != count:
            raise ValueError(f"genre embeddings must be ({count}, D), got {tuple(genre_embeddings.shape)}")
        if not (0.0 <= min_confidence <= 1.0 and 0.0 <= min_margin <= 1.0):
            raise DancegenError("min_confidence and min_margin must lie in [0, 1]")
        self.register_buffer("prompt_embeddings", genre_embeddings.detach().float().clone(), persistent=False)
        self.embedding_dim = int(genre_embeddings.shape[1])
        self.min_confidence, self.min_margin = float(min_confidence), float(min_margin)
        self.eval()  # inference by default; a trainer switches the model (and this head) to .train()

    @property
    def genres(self) -> tuple[str, ...]:
        """The controller's genre names, in index order."""
        return self.genre_set.genres

    @property
    def num_genres(self) -> int:
        return len(self.genre_set)

    @abstractmethod
    def logits(self, texts: Sequence[str]) -> torch.Tensor:
        """Differentiable classifier logits (N, G) for ``texts`` (names in the text are not applied here)."""

    def config(self) -> dict[str, Any]:
        """JSON-serialisable constructor options plus ``name`` and ``embedding_dim`` (see from_config); ``genres``
        is the genre set (a built-in's name, else its dict)."""
        return {"name": self.name, "embedding_dim": self.embedding_dim, "num_genres": self.num_genres,
                "genres": genre_set_config(self.genre_set), "min_confidence": self.min_confidence,
                "min_margin": self.min_margin}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GenreController:
        """Rebuild from :meth:`config` (informational keys are ignored; a config without ``genres`` — from
        before genre sets — is the FineDance set)."""
        params = set(inspect.signature(cls.__init__).parameters) - {"self"}
        config = dict(config)
        # a plugin controller without genre-set support takes the FineDance genres only
        if "genres" not in params and "genres" in config and get_genre_set(config.pop("genres")) != FINEDANCE:
            raise DancegenError(f"genre controller {cls.name!r} supports only the FineDance genres")
        unknown = set(config) - params - {"name", "embedding_dim", "num_genres"}
        if unknown:
            raise DancegenError(f"genre controller {cls.name!r}: unknown options {sorted(unknown)}; "
                                f"valid: {sorted(params)}")
        return cls(**{k: v for k, v in config.items() if k in params})

    def embed(self, genres: torch.Tensor) -> torch.Tensor:
        """C_E: rows of ``prompt_embeddings`` for indices (N,), or ``probs @ prompt_embeddings`` for (N, G)."""
        table, count = self.prompt_embeddings, self.num_genres
        if genres.dtype in (torch.int32, torch.int64, torch.uint8, torch.int16):
            if genres.numel() and (int(genres.min()) < 0 or int(genres.max()) >= count):
                raise DancegenError(f"genre index out of range 0..{count - 1}")
            return table[genres.to(table.device).long()]
        if genres.shape[-1] != count:
            raise DancegenError(f"genre weights must have {count} columns, got {tuple(genres.shape)}")
        return genres.to(table) @ table

    def resolve(self, texts: list[str], probabilities: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
        """Apply genre names found in the texts: one name → one-hot; several → classifier renormalised over them."""
        probs = probabilities.detach().clone()
        sources = []
        for i, text in enumerate(texts):
            found = self.genre_set.find_in_text(text)
            if not found:
                sources.append("classifier")
                continue
            mask = torch.zeros(self.num_genres, dtype=torch.bool, device=probs.device)
            mask[found] = True
            row = torch.where(mask, probs[i], torch.zeros_like(probs[i]))
            if len(found) == 1 or float(row.sum()) <= 0:
                row = mask.to(probs.dtype) / len(found)
            probs[i] = row / row.sum()
            sources.append("name" if len(found) == 1 else "names")
        return probs, sources

    def ambiguous(self, probabilities: torch.Tensor) -> torch.Tensor:
        """(N,) bool: top probability < min_confidence or top − second < min_margin."""
        top2 = probabilities.topk(2, dim=-1).values
        return (top2[:, 0] < self.min_confidence) | (top2[:, 0] - top2[:, 1] < self.min_margin)

    def forward(self, texts: Sequence[str], soft: bool = False) -> GenreOutput:
        """Genre probabilities, predictions and C_E for ``texts`` (``soft``: probability-weighted C_E)."""
        texts = check_texts(texts, self.genres)
        raw = self.logits(texts)
        probs, sources = self.resolve(texts, raw.detach().float().softmax(-1))
        indices = probs.argmax(-1)
        embedding = self.embed(probs if soft else indices)
        return GenreOutput(raw, probs, indices, embedding, self.ambiguous(probs), sources)

    @torch.no_grad()
    def predict_many(self, texts: Sequence[str]) -> list[GenrePrediction]:
        """:meth:`predict` for a batch."""
        texts = check_texts(texts, self.genres)
        was_training = self.training
        self.eval()  # no dropout in user-facing predictions
        try:
            out = self.forward(texts)
        finally:
            self.train(was_training)
        results, names = [], self.genres
        for i, text in enumerate(texts):
            p = out.probabilities[i].cpu()
            values, order = p.topk(min(3, len(names)))
            results.append(GenrePrediction(
                text=text, genre=names[int(out.indices[i])], index=int(out.indices[i]),
                probabilities={g: round(float(v), 6) for g, v in zip(names, p)},
                top3=[(names[int(j)], round(float(v), 6)) for v, j in zip(values, order)],
                ambiguous=bool(out.ambiguous[i]), source=out.sources[i]))
        return results

    def predict(self, text: str) -> GenrePrediction:
        """The genre of one text, with probabilities, top 3 and an ``ambiguous`` flag."""
        return self.predict_many([text])[0]

    def extra_repr(self) -> str:
        return f"name={self.name!r}, embedding_dim={self.embedding_dim}, genres={self.genre_set.name!r}"
