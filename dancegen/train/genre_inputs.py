"""The genre side of a training step: C_E for each window's genre label, and — when L_C is on — the text
classifier's logits for one description per window, drawn from the genre-description set."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import DancegenError
from ..genre.controller import GenreController
from .config import TrainConfig


class GenreInputs:
    """Wraps a :class:`~dancegen.genre.controller.GenreController` for training."""

    def __init__(self, controller: GenreController, use_classifier: bool, name: str) -> None:
        self.controller, self.use_classifier, self.name = controller, use_classifier, name
        if use_classifier and not any(p.requires_grad for p in controller.parameters()):
            raise DancegenError(f"task C (genre classification) needs a genre controller with a trainable "
                                f"classifier head; {name!r} has none: use --genre-controller text or drop task C")

    @classmethod
    def build(cls, cfg: TrainConfig, device: str) -> GenreInputs:
        from ..genre.registry import GENRE_CONTROLLERS, build_genre_controller

        opts = dict(cfg.controller_options)
        item_cls = GENRE_CONTROLLERS.get(cfg.genre_controller).cls
        accepted = set(inspect.signature(item_cls.__init__).parameters)
        if cfg.allow_random_weights and "allow_random_weights" in accepted:
            opts.setdefault("allow_random_weights", True)
        if "device" in accepted:
            opts.setdefault("device", "cpu")  # the frozen text encoder; its cached embeddings move with the head
        try:
            controller = build_genre_controller(cfg.genre_controller, **opts)
        except (TypeError, ValueError) as exc:
            raise DancegenError(f"genre controller {cfg.genre_controller!r}: {exc}") from None
        return cls(controller, cfg.uses_classifier, cfg.genre_controller)

    @property
    def embedding_dim(self) -> int:
        return int(self.controller.embedding_dim)

    def describe(self) -> dict[str, Any]:
        """What a checkpoint stores to rebuild the controller."""
        return {"name": self.name, "embedding_dim": self.embedding_dim, "config": self.controller.config(),
                "trained_classifier": self.use_classifier}

    def draw_texts(self, labels: Tensor, generator: torch.Generator) -> list[str] | None:
        """One training-split description of each label's genre in the controller's genre set (FineDance's
        description set, or an AIST++-style set's own texts); None when L_C is off: nothing is drawn."""
        if not self.use_classifier:
            return None
        from ..genre.descriptions import sample_descriptions

        return sample_descriptions(labels, generator, split="train", genres=self.controller.genre_set)

    def condition(self, labels: Tensor, texts: list[str] | None, device: str) -> tuple[Tensor, Tensor | None]:
        """C_E (B, D) for the genre labels and, with L_C on, the classifier logits (B, G) of ``texts`` (G genres)."""
        emb = self.controller.embed(labels).to(device)
        if texts is None:
            return emb, None
        return emb, self.controller.logits(texts).to(device)

    def split_params(self, model: nn.Module, cfg: TrainConfig) -> tuple[list[Tensor], list[Tensor]]:
        """(aggregated parameters, task-specific parameters) per ``cfg.shared`` (see TrainConfig)."""
        trunk: list[Tensor] = [p for p in model.parameters() if p.requires_grad]
        head: list[Tensor] = [p for p in self.controller.parameters() if p.requires_grad] if self.use_classifier else []
        if cfg.shared == "trunk":
            return trunk, head
        return trunk + head, []
