"""GCDance multi-task training: configuration, the training loop (mtlkit-aggregated task losses), checkpoints."""

from .checkpoint import latest_checkpoint, load_flat, load_tree, read_config
from .config import TrainConfig
from .loop import Trainer, lr_at

__all__ = ["TrainConfig", "Trainer", "latest_checkpoint", "load_flat", "load_tree", "lr_at", "read_config"]
