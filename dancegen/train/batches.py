"""Training batches: the window draws of a run, and their loading ahead of the step in DataLoader workers.

The draws stay in the main process and in the run's order (:class:`~dancegen.train.state.EpochSampler` on the
``data`` generator, one global batch per step, this rank's slice loaded); with ``workers > 0`` a
:class:`torch.utils.data.DataLoader` loads the next ``workers × prefetch`` batches in worker processes (pinned
memory on CUDA) while the current step runs. Loading ahead moves the sampler past the step being trained, so the
stream remembers, for every batch, the sampler's and the generator's state right after it was drawn: a checkpoint
stores the state after the last batch *trained*, and a resumed run draws exactly the batches an uninterrupted run
would, whatever the worker count.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from .distributed import DistInfo, shard
from .state import EpochSampler


def collate(items: list[dict[str, Any]]) -> dict[str, Tensor]:
    """Stack a rank's windows: ``motion`` (b, 120, 319), ``music`` (b, 120, D), ``genre`` (b,), ``hands`` (b,)."""
    return {
        "motion": torch.stack([it["motion"] for it in items]),
        "music": torch.stack([it["music"] for it in items]),
        "genre": torch.tensor([it["genre"] for it in items], dtype=torch.long),
        "hands": torch.tensor([bool(it["hands_present"]) for it in items]),
    }


class _Draws:
    """The batch sampler the DataLoader pulls from (in the main process): draws the global batch, records it and
    the sampler state after it, yields this rank's indices."""

    def __init__(self, stream: BatchStream) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[list[int]]:
        s = self.stream
        while True:
            idx = s.sampler.next(s.batch_size)
            s.drawn.append((idx, {**s.sampler.state_dict(), "generator": s.sampler.generator.get_state()}))
            yield idx[shard(s.batch_size, s.dist)].tolist()


class BatchStream:
    """The run's batches in order: :meth:`next` gives ``(global_indices, this rank's collated windows)``;
    :meth:`state` the sampler state after the last batch :meth:`next` returned (what a checkpoint stores).

    ``workers = 0`` loads in the main process when the step asks (nothing ahead); ``workers > 0`` keeps up to
    ``workers × prefetch`` batches loading or loaded ahead.
    """

    def __init__(self, dataset: Dataset, sampler: EpochSampler, batch_size: int, dist: DistInfo, workers: int = 0,
                 prefetch: int = 2, pin_memory: bool = False) -> None:
        self.dataset, self.sampler, self.batch_size, self.dist = dataset, sampler, batch_size, dist
        self.workers = workers
        #: whether batches come in pinned memory (copy them to the GPU with ``non_blocking=True``)
        self.pinned = pin_memory
        self.drawn: deque[tuple[Tensor, dict[str, Any]]] = deque()
        self._state: dict[str, Any] | None = None
        self._loader: DataLoader | None = None
        self._iter: Iterator[dict[str, Tensor]] | None = None
        self._options: dict[str, Any] = {"pin_memory": pin_memory}
        if workers > 0:
            self._options |= {"num_workers": workers, "prefetch_factor": prefetch, "persistent_workers": True}

    def next(self) -> tuple[Tensor, dict[str, Tensor]]:
        """The next global batch's indices and this rank's windows."""
        if self._iter is None:
            # a private generator for the loader's worker seed: creating an iterator must not draw from torch's
            # global RNG (the dropout stream, which a resumed run restores)
            self._loader = DataLoader(self.dataset, batch_sampler=_Draws(self), collate_fn=collate,
                                      generator=torch.Generator().manual_seed(0), **self._options)
            self._iter = iter(self._loader)
        batch = next(self._iter)
        idx, self._state = self.drawn.popleft()
        return idx, batch

    def state(self) -> dict[str, Any]:
        """The sampler's state (``perm``, ``pos``, ``epoch``) and its generator's (``generator``) right after the
        last batch returned; before the first, the sampler's own."""
        if self._state is None:
            return {**self.sampler.state_dict(), "generator": self.sampler.generator.get_state()}
        return self._state

    def close(self) -> None:
        """Stop the workers and rewind the sampler to :meth:`state` (batches loaded ahead are dropped), so reading
        again continues with the batch after the last one returned."""
        state = self.state()
        self._iter = self._loader = None
        self.drawn.clear()
        self.sampler.load_state_dict(state)
        self.sampler.generator.set_state(state["generator"])


__all__ = ["BatchStream", "collate"]
