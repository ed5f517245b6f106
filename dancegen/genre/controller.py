"""The genre-controller interface (to be completed by the genre-controller work)."""

from __future__ import annotations

from abc import ABC
from typing import ClassVar


class GenreController(ABC):
    """Text or genre label → genre probabilities (16), predicted genre and genre embedding C_E."""

    name: ClassVar[str] = ""
