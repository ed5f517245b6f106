"""Synchronisation under ``torch.distributed``, so every rank applies the same update.

Per-task gradients from ``autograd.grad`` never fire DDP's hooks, and nonlinear aggregators give different
answers when applied per rank and averaged afterwards. mtlkit therefore averages what the aggregator reads
before aggregating: the per-task gradients (jacobian and gramian backends, K× the usual traffic) or only the
K×K Gramian of the representation gradients (representation backend: per-sample representation gradients
occupy disjoint coordinates across ranks, so local Gramians sum exactly). Equal local batch sizes and losses
that are means over the local batch are assumed, as with DDP.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch import Tensor


class Sync:
    """All-reduce helpers bound to a process group; a no-op object when not distributed."""

    def __init__(self, enabled: bool | None = None, group: dist.ProcessGroup | None = None) -> None:
        active = dist.is_available() and dist.is_initialized()
        if enabled is None:
            enabled = active and dist.get_world_size(group) > 1
        elif enabled and not active:
            raise ValueError("sync=True but torch.distributed is not initialised")
        self.enabled = bool(enabled)
        self.group = group
        self.world_size = dist.get_world_size(group) if self.enabled else 1

    def mean_(self, t: Tensor) -> Tensor:
        """In-place average across ranks."""
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.SUM, group=self.group)
            t.div_(self.world_size)
        return t

    def mean_all_(self, tensors: Iterable[Tensor | None]) -> None:
        """Average several tensors across ranks with one all-reduce (flattened into one buffer)."""
        present = [t for t in tensors if t is not None]
        if not self.enabled or not present:
            return
        by_dtype: dict[torch.dtype, list[Tensor]] = {}
        for t in present:
            by_dtype.setdefault(t.dtype, []).append(t)
        for group in by_dtype.values():
            flat = torch.cat([t.reshape(-1) for t in group])
            self.mean_(flat)
            offset = 0
            for t in group:
                t.copy_(flat[offset : offset + t.numel()].view_as(t))
                offset += t.numel()

    def representation_gramian_(self, G: Tensor) -> Tensor:
        """Global Gramian of representation gradients from local ones: Σ_r G_r / W² (in place)."""
        if self.enabled:
            dist.all_reduce(G, op=dist.ReduceOp.SUM, group=self.group)
            G.div_(self.world_size**2)
        return G

    def broadcast_(self, t: Tensor) -> Tensor:
        """In place: every rank gets the group's first rank's ``t`` (randomised methods agree across ranks)."""
        if self.enabled:
            src = 0 if self.group is None else dist.get_global_rank(self.group, 0)
            dist.broadcast(t, src=src, group=self.group)
        return t
