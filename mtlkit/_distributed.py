"""Synchronisation under ``torch.distributed``, so every rank applies the same update.

Per-task gradients from ``autograd.grad`` never fire DDP's hooks, and nonlinear aggregators give different
answers when applied per rank and averaged afterwards. mtlkit therefore averages what the aggregator reads
before aggregating: the per-task gradients (jacobian and gramian backends) or only the K×K Gramian of the
representation gradients (representation backend: per-sample representation gradients occupy disjoint
coordinates across ranks, so local Gramians sum exactly). Equal local batch sizes and losses that are means over
the local batch are assumed, as with DDP.

The per-task gradients travel in one of two ways (``comm``):

- ``"allreduce"``: all-reduce the whole K×P Jacobian, every rank aggregates it (K× a DDP step's bytes).
- ``"sharded"`` (Gramian-based methods): a reduce-scatter (:meth:`Sync.shard_mean_`) leaves each rank the
  averaged K×P/W Jacobian of its own 1/W of the coordinates; the ranks' partial Gramians are summed (K²
  numbers), every rank computes the same weights from the same Gramian, each combines its own shard of the
  update and an all-gather (:meth:`Sync.gather_`) assembles it ((K+1)/2× a DDP step's bytes). Both
  collectives are all-to-alls: byte-optimal, and faster than gloo's own reduce-scatter and all-gather.

With ``grad_scale`` (mixed precision) the skip-or-aggregate decision must be the same on every rank, or the ranks
would run different collectives: ``backward`` takes it from what the reductions made identical — the averaged
losses, the all-reduced J (``"allreduce"``), the summed partial Gramians (``"sharded"``, with one more K×K slab for
the task heads' columns, and the gramian backend) or the summed representation Gramian.
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

    def sum_(self, t: Tensor) -> Tensor:
        """In-place sum across ranks."""
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.SUM, group=self.group)
        return t

    def shard_bounds(self, P: int) -> tuple[int, int, int]:
        """(start, stop, shard size S): this rank's columns [start, stop) of P, in shards of S = ⌈P/W⌉."""
        S = -(-P // self.world_size)
        rank = dist.get_rank(self.group) if self.enabled else 0
        start = min(rank * S, P)
        return start, min(start + S, P), S

    def shard_mean_(self, J: Tensor) -> tuple[Tensor, int, int]:
        """Reduce-scatter of a (K, P) Jacobian: this rank's columns [start, stop) averaged over the ranks, as a
        (K, stop - start) view, with start and stop. One all-to-all per task row: each rank sends K·P·(W−1)/W
        numbers, the bytes of a ring reduce-scatter. ``J`` is consumed: the result is stored in its first
        columns (row k is sent before its storage is reused), so the only extra memory is one row's buffer."""
        K, P = J.shape
        start, stop, S = self.shard_bounds(P)
        if not self.enabled:
            return J, 0, P
        W, n = self.world_size, stop - start
        J = J.contiguous()
        splits = [min((j + 1) * S, P) - min(j * S, P) for j in range(W)]
        buf = J.new_empty(W * n)
        for k in range(K):
            dist.all_to_all_single(buf, J[k], output_split_sizes=[n] * W, input_split_sizes=splits,
                                   group=self.group)
            out = J[k, :n]  # already sent: reuse its storage
            if n:
                torch.add(buf[:n], buf[n : 2 * n], out=out) if W > 1 else out.copy_(buf[:n])
                for j in range(2, W):  # ranks summed in rank order, wherever this shard is formed
                    out.add_(buf[j * n : (j + 1) * n])
                out.div_(W)
        return J[:, :n], start, stop

    def gather_(self, part: Tensor, P: int) -> Tensor:
        """All-gather: every rank's (stop - start,) ``part`` of a (P,) vector (see :meth:`shard_bounds`),
        concatenated; each rank sends its part to every other rank, P·(W−1)/W numbers. The result is
        bit-identical on every rank."""
        if not self.enabled:
            return part
        W = self.world_size
        _, _, S = self.shard_bounds(P)
        splits = [min((j + 1) * S, P) - min(j * S, P) for j in range(W)]
        send = part.contiguous().repeat(W)
        out = part.new_empty(P)
        dist.all_to_all_single(out, send, output_split_sizes=splits, input_split_sizes=[part.numel()] * W,
                               group=self.group)
        return out

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
