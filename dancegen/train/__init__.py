"""GCDance multi-task training: configuration, the training loop (mtlkit-aggregated task losses), run folders.

Checkpoint folders (layout, saving, loading) belong to :mod:`dancegen.checkpoint`, shared with generation."""

from .config import TrainConfig
from .loop import Trainer, lr_at

__all__ = ["TrainConfig", "Trainer", "lr_at"]
