"""Per-task gradients: the K×P Jacobian of a loss vector by batched vector-Jacobian products.

One vmapped backward per chunk of ``chunk_size`` tasks (all K at once by default); when an operation has no
batching rule the chunk falls back to one backward per task. ``chunk_size=1`` with the separate loss ``terms``
runs one backward per task over that loss's own graph: the fastest choice when the tasks' graphs are mostly
disjoint (task heads downstream of a shared representation). Gradients are written straight into a
preallocated (K, P) buffer, one parameter block at a time, so at most one copy of each block is alive.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor

_VMAP_FAILED: set[str] = set()
# Until one batched backward has worked in this process it keeps the graph, so that the per-task fallback can
# still run if it fails half-way; afterwards ``retain_graph=False`` frees the graph (and its activations) at once.
_VMAP_WORKED: set[str] = set()


def _chunks(K: int, chunk_size: int | None) -> list[range]:
    size = K if chunk_size is None else max(1, int(chunk_size))
    return [range(i, min(K, i + size)) for i in range(0, K, size)]


def _grads_for_rows(
    losses: Tensor, inputs: Sequence[Tensor], rows: range, retain_graph: bool, terms: Sequence[Tensor] | None
) -> list[Tensor | None]:
    """Gradients of ``losses[rows]`` w.r.t. ``inputs``, each of shape (len(rows), *input.shape) or None.

    One row at a time differentiates ``terms[k]`` when given (the loss's own graph only), else ``losses[k]``."""
    K = losses.shape[0]
    eye = torch.eye(K, dtype=losses.dtype, device=losses.device)[rows.start : rows.stop]
    if len(rows) > 1 and "vmap" not in _VMAP_FAILED:
        try:
            out: list[Tensor | None] = list(
                torch.autograd.grad(
                    losses, inputs, grad_outputs=eye, is_grads_batched=True,
                    retain_graph=retain_graph or "vmap" not in _VMAP_WORKED, allow_unused=True,
                )
            )
            _VMAP_WORKED.add("vmap")  # from now on the graph is freed by the batched call itself
            return out
        except RuntimeError as exc:  # an op without a batching rule: fall back once, then remember
            _VMAP_FAILED.add("vmap")
            warnings.warn(f"mtlkit: batched per-task gradients unavailable ({exc}); using one backward per task",
                          RuntimeWarning, stacklevel=3)
    per_row: list[list[Tensor | None]] = []
    for n, k in enumerate(rows):
        last = n == len(rows) - 1
        per_row.append(list(torch.autograd.grad(
            losses[k] if terms is None else terms[k], inputs, retain_graph=True if not last else retain_graph,
            allow_unused=True,
        )))
    out = []
    for i in range(len(inputs)):
        gs = [r[i] for r in per_row]
        out.append(None if all(g is None for g in gs) else torch.stack(
            [g if g is not None else torch.zeros_like(inputs[i]) for g in gs]))
    return out


def jacobian(
    losses: Tensor,
    inputs: Sequence[Tensor],
    *,
    chunk_size: int | None = None,
    retain_graph: bool = False,
    terms: Sequence[Tensor] | None = None,
) -> Tensor:
    """The (K, P) Jacobian of the (K,) ``losses`` w.r.t. ``inputs`` (P = total numel), inputs in order.

    Inputs that no loss reaches get zero columns. ``retain_graph`` keeps the graph after the last chunk.
    ``terms``: the K scalar losses that ``losses`` stacks; with ``chunk_size=1`` each row is then one backward
    through that loss's own graph. (Differentiating ``losses[k]`` instead runs the union of all the losses'
    graphs with zero cotangents for the others: autograd does not prune zeros.)
    """
    K = losses.shape[0]
    sizes = [t.numel() for t in inputs]
    P = sum(sizes)
    dtype = functools.reduce(torch.promote_types, [t.dtype for t in inputs])
    device = inputs[0].device
    chunks = _chunks(K, chunk_size)
    J: Tensor | None = None
    for c, rows in enumerate(chunks):
        keep = retain_graph or c < len(chunks) - 1
        grads = _grads_for_rows(losses, inputs, rows, keep, terms)
        if len(inputs) == 1 and len(chunks) == 1 and grads[0] is not None:
            return grads[0].reshape(K, -1).to(dtype)  # one block: no copy at all
        if J is None:
            J = torch.empty(K, P, dtype=dtype, device=device)
        offset = 0
        for i, n in enumerate(sizes):
            g = grads[i]
            block = J[rows.start : rows.stop, offset : offset + n]
            if g is None:
                block.zero_()
            else:
                block.copy_(g.reshape(len(rows), n))
            grads[i] = None  # free each block as soon as it is copied
            offset += n
    assert J is not None
    return J
