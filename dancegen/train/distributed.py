"""``torchrun`` support without DDP: process-group set-up from the environment, batch sharding, parameter broadcast.

No ``DistributedDataParallel`` wrapper is needed: :func:`mtlkit.backward` averages the per-task Jacobians (or
Gramians and weighted gradients) across ranks itself whenever ``torch.distributed`` is initialised with a world
size above one, so every rank applies the same aggregated update and the replicas stay identical.

Every collective has a time limit (``DANCEGEN_DIST_TIMEOUT`` seconds, default 1800): the process group is created
with it, and :func:`barrier` fails with one line naming what it waited for when another rank does not arrive (a
rank that crashed, or one stuck on a slow shared file system), instead of hanging forever. On gloo the barrier is
``monitored_barrier`` (rank 0 names the missing ranks); on NCCL the process group's timeout applies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
from torch import nn

from ..errors import DancegenError


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size and whether this process initialised the process group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


#: Default seconds a rank waits at a collective before failing (env ``DANCEGEN_DIST_TIMEOUT``).
DEFAULT_TIMEOUT = 1800.0


def dist_timeout() -> float:
    """The collective time limit in seconds: ``DANCEGEN_DIST_TIMEOUT`` or :data:`DEFAULT_TIMEOUT`."""
    raw = os.environ.get("DANCEGEN_DIST_TIMEOUT", "")
    if not raw.strip():
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise DancegenError(f"DANCEGEN_DIST_TIMEOUT must be a positive number of seconds, got {raw!r}")
    return value


def init_distributed(device: str) -> DistInfo:
    """Initialise ``torch.distributed`` from torchrun's environment (``WORLD_SIZE`` > 1): gloo on CPU, nccl on
    CUDA. A single process (no ``WORLD_SIZE``) needs nothing."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), local, owns_group=False)
    if not dist.is_available():
        raise DancegenError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local)
    dist.init_process_group(backend, timeout=timedelta(seconds=dist_timeout()))
    return DistInfo(dist.get_rank(), dist.get_world_size(), local, owns_group=True)


def shard(global_batch: int, info: DistInfo) -> slice:
    """This rank's contiguous slice of a global batch (the batch size must divide evenly)."""
    if global_batch % info.world_size:
        raise DancegenError(f"batch size {global_batch} is not divisible by the {info.world_size} processes")
    per = global_batch // info.world_size
    return slice(info.rank * per, (info.rank + 1) * per)


def broadcast_module(module: nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not info.enabled:
        return
    import torch.distributed as dist

    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def barrier(info: DistInfo, what: str = "the other ranks") -> None:
    """Wait for every rank, at most :func:`dist_timeout` seconds; a rank that does not arrive → one
    :class:`DancegenError` line naming ``what`` was awaited."""
    if not info.enabled:
        return
    import torch.distributed as dist

    timeout = dist_timeout()
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(seconds=timeout))
        else:  # NCCL: the process group's timeout (set at init) applies
            dist.barrier()
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DancegenError(f"rank {info.rank}: timed out after {timeout:.0f} s waiting for {what} ({reason}); "
                            "another rank failed or is stuck: read its log (DANCEGEN_DIST_TIMEOUT sets the wait)"
                            ) from None


def shutdown(info: DistInfo) -> None:
    if info.owns_group:
        import torch.distributed as dist

        dist.destroy_process_group()
