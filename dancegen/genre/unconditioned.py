"""The ``none`` genre controller: no genre control at all, the ablation of the paper's genre controller.

C_E is a constant zero vector whatever the genre, so the denoiser's genre FiLM (eq. 3–4) sees no genre and only
the music drives the dance; there is no classifier, so the genre-classification task L_C is off (``dancegen
train --genre-controller none`` trains S, J, V, F unless ``--tasks`` says otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .controller import GenreController, check_texts
from .genres import GenreSetLike, get_genre_set


class NoneController(GenreController):
    """Every genre and every text → the same zero embedding (1-D); probabilities are uniform unless the text
    names genres (which changes the reported genre, never the embedding)."""

    name = "none"
    embedding_dim = 1
    needs_weights = False
    offline = True
    trainable = False

    def __init__(self, min_confidence: float = 0.5, min_margin: float = 0.2, genres: GenreSetLike = None) -> None:
        genre_set = get_genre_set(genres)
        super().__init__(torch.zeros(len(genre_set), 1), min_confidence, min_margin, genre_set)

    def logits(self, texts: Sequence[str]) -> torch.Tensor:
        """Uniform logits (N, G): there is no classifier."""
        return torch.zeros(len(check_texts(texts, self.genres)), self.num_genres, device=self.prompt_embeddings.device)
