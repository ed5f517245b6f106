"""``mtlkit.backward``: per-task gradients → one aggregated update in every parameter's ``.grad``.

Backends:

- ``jacobian``: the exact K×P Jacobian by batched vector-Jacobian products (``chunk_size`` tasks per vmapped
  backward; sequential fallback), then ``update = aggregator(J)``. Any aggregator.
- ``gramian``: accumulates ``G = Σ_b J_b J_bᵀ`` over parameter blocks of at most ``block_numel`` Jacobian
  entries, dropping each block, then one ordinary backward of ``Σ w_i L_i``. Exact; Gramian-based
  aggregators only; peak memory one block instead of K×P.
- ``representation``: per-task gradients w.r.t. a shared activation ``representation`` (K×(B·D)), weights
  from that Gramian, then one backward of ``Σ w_i L_i`` through the trunk. An approximation of the
  parameter-space method (the weights come from representation-space gradients); the cheapest by far. Losses
  given as K separate scalars are differentiated one at a time, each over its own graph below the
  representation (task heads are usually disjoint); a stacked (K,) tensor gets one vmapped backward.
- ``auto``: the cheapest exact one: ``jacobian``, or ``gramian`` when the Jacobian would exceed
  ``max_jacobian_bytes`` and the aggregator is Gramian-based.

Parameters that only some losses use (task heads) go in ``task_params``: they get their ordinary gradient of
``Σ L_i`` (``task_weighting="unweighted"``, default) or of ``Σ w_i L_i`` (``"weighted"``, original Nash-MTL).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ._aggregator import Aggregator, Weighting, check_gramian, gramian
from ._distributed import Sync
from ._jacobian import jacobian
from ._registry import get_aggregator

Backend = Literal["auto", "jacobian", "gramian", "representation"]
BACKENDS = ("auto", "jacobian", "gramian", "representation")


@dataclass
class BackwardResult:
    """What :func:`backward` did: weights (when defined), per-task gradient norms, pairwise cosines, the
    Gramian they come from (parameter or representation space, see ``space``) and solver diagnostics."""

    backend: str
    space: str
    losses: Tensor
    gramian: Tensor
    weights: Tensor | None
    gradient_norms: Tensor
    cosine: Tensor
    update_norm: float | None
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def regularised(self) -> bool:
        """Whether the solver had to regularise a singular Gramian."""
        return bool(self.diagnostics.get("regularised", False))

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python view for logging (lists and floats)."""
        out: dict[str, Any] = {
            "backend": self.backend, "space": self.space, "losses": self.losses.tolist(),
            "weights": None if self.weights is None else self.weights.tolist(),
            "gradient_norms": self.gradient_norms.tolist(), "cosine": self.cosine.tolist(),
            "update_norm": self.update_norm,
        }
        for key, value in self.diagnostics.items():
            out[key] = value.tolist() if isinstance(value, Tensor) else value
        return out


def _as_params(params: Iterable[Tensor] | nn.Module | None) -> list[Tensor]:
    if params is None:
        return []
    if isinstance(params, nn.Module):
        params = params.parameters()
    if isinstance(params, Tensor):
        params = [params]
    out, seen = [], set()
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"expected tensors or an nn.Module as parameters, got {type(p).__name__}")
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def _stack_losses(losses: Sequence[Tensor] | Tensor) -> tuple[Tensor, list[Tensor] | None]:
    """The (K,) loss vector, and the K scalar losses themselves when they were given separately."""
    terms: list[Tensor] | None = None
    if isinstance(losses, Tensor):
        if losses.dim() != 1:
            raise ValueError(f"losses must be a sequence of scalars or a 1-D tensor, got shape {tuple(losses.shape)}")
        stacked = losses
    else:
        items = list(losses)
        if not items:
            raise ValueError("backward() needs at least one loss")
        for i, loss in enumerate(items):
            if not isinstance(loss, Tensor) or loss.numel() != 1:
                raise ValueError(f"loss {i} is not a scalar tensor")
        terms = [loss.reshape(()) for loss in items]
        stacked = torch.stack(terms)
    if not stacked.requires_grad:
        raise ValueError("no loss requires grad: nothing to differentiate")
    if terms is not None and not all(t.requires_grad for t in terms):
        terms = None  # a constant loss has no graph of its own to differentiate
    return stacked, terms


def _accumulate(params: Sequence[Tensor], grads: Sequence[Tensor | None]) -> None:
    for p, g in zip(params, grads, strict=True):
        if g is None:
            continue
        g = g.to(p.dtype).view_as(p)
        if p.grad is None:
            p.grad = g.clone() if g._base is not None else g
        else:
            p.grad.add_(g)


def _split(update: Tensor, params: Sequence[Tensor]) -> list[Tensor]:
    return list(torch.split(update, [p.numel() for p in params]))


def _cosine(G: Tensor) -> tuple[Tensor, Tensor]:
    norms = G.diagonal().clamp_min(0).sqrt()
    denom = norms[:, None] * norms[None, :]
    cos = torch.where(denom > 0, G / denom.clamp_min(torch.finfo(G.dtype).tiny), torch.zeros_like(G))
    return norms, cos.clamp(-1.0, 1.0)


def _weights(agg: Aggregator, G: Tensor, losses: Tensor) -> Tensor:
    if not isinstance(agg, Weighting):
        raise ValueError(f"aggregator {agg.name or type(agg).__name__!r} is not Gramian-based: use backend='jacobian'")
    return agg.weights(G, losses).double()


def _task_grads(losses: Tensor, task_params: list[Tensor], w: Tensor | None, retain_graph: bool) -> list[Tensor | None]:
    weights = torch.ones_like(losses) if w is None else w.to(losses.dtype)
    return list(torch.autograd.grad(losses, task_params, grad_outputs=weights, retain_graph=retain_graph,
                                    allow_unused=True))


def backward(
    losses: Sequence[Tensor] | Tensor,
    params: Iterable[Tensor] | nn.Module,
    aggregator: Aggregator | str,
    backend: Backend = "auto",
    *,
    representation: Tensor | Sequence[Tensor] | None = None,
    task_params: Iterable[Tensor] | nn.Module | None = None,
    task_weighting: Literal["unweighted", "weighted"] = "unweighted",
    chunk_size: int | None = None,
    block_numel: int = 1 << 27,
    max_jacobian_bytes: int = 1 << 31,
    retain_graph: bool = False,
    sync: bool | None = None,
    process_group: object | None = None,
) -> BackwardResult:
    """Aggregate the gradients of K task losses and accumulate the update into each parameter's ``.grad``.

    Args:
        losses: K scalar losses (or a (K,) tensor).
        params: the shared parameters (an iterable or an ``nn.Module``); parameters without ``requires_grad``
            are skipped. With ``backend="representation"`` these are the parameters upstream of
            ``representation``.
        aggregator: an :class:`Aggregator` or a registered name (built with default options).
        backend: ``"auto"``, ``"jacobian"``, ``"gramian"`` or ``"representation"`` (see the module docs).
        representation: the shared activation(s) for the representation backend.
        task_params: parameters used by only some losses (heads); ordinary gradients, see ``task_weighting``.
        task_weighting: ``"unweighted"`` (gradient of Σ L_i) or ``"weighted"`` (of Σ w_i L_i).
        chunk_size: tasks per vmapped backward (None = all K at once; for the representation backend with
            separate losses, None = one backward per loss over its own graph).
        block_numel: the gramian backend's largest Jacobian block (entries).
        max_jacobian_bytes: ``auto`` switches to ``gramian`` above this Jacobian size.
        retain_graph: keep the autograd graph afterwards.
        sync: average across ``torch.distributed`` ranks (None = when initialised with world size > 1).
        process_group: the process group for ``sync``.

    Returns:
        A :class:`BackwardResult`.
    """
    agg = get_aggregator(aggregator) if isinstance(aggregator, str) else aggregator
    if not isinstance(agg, Aggregator):
        raise TypeError(f"aggregator must be an mtlkit Aggregator or a registered name, got {type(agg).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if task_weighting not in ("unweighted", "weighted"):
        raise ValueError(f"task_weighting must be 'unweighted' or 'weighted', got {task_weighting!r}")
    L, terms = _stack_losses(losses)
    shared = _as_params(params)
    heads = _as_params(task_params)
    if {id(p) for p in shared} & {id(p) for p in heads}:
        raise ValueError("a parameter is listed both in params and in task_params")
    if not shared:
        raise ValueError("no shared parameter requires grad")
    gramian_based = isinstance(agg, Weighting) and agg.properties.gramian_based
    if backend == "auto":
        nbytes = L.shape[0] * sum(p.numel() for p in shared) * shared[0].element_size()
        backend = "gramian" if gramian_based and nbytes > max_jacobian_bytes else "jacobian"
    if backend in ("gramian", "representation") and not gramian_based:
        raise ValueError(f"backend {backend!r} needs a Gramian-based aggregator; "
                         f"{agg.name or type(agg).__name__!r} needs the Jacobian: use backend='jacobian'")
    sync_ = Sync(sync, process_group)
    L_detached = sync_.mean_(L.detach().double().clone())
    if backend == "jacobian":
        return _jacobian_backend(L, L_detached, shared, heads, agg, task_weighting, chunk_size, retain_graph, sync_,
                                 terms)
    if backend == "gramian":
        return _gramian_backend(L, L_detached, shared, heads, agg, task_weighting, chunk_size, block_numel,
                                retain_graph, sync_, terms)
    if representation is None:
        raise ValueError("backend='representation' needs representation=<the shared activation tensor(s)>")
    reps = [representation] if isinstance(representation, Tensor) else list(representation)
    if not all(isinstance(r, Tensor) and r.requires_grad for r in reps):
        raise ValueError("representation must be tensor(s) inside the autograd graph (requires_grad=True)")
    return _representation_backend(L, L_detached, shared, heads, reps, agg, task_weighting, chunk_size,
                                   retain_graph, sync_, terms)


def _finish(backend: str, space: str, L: Tensor, G: Tensor, w: Tensor | None, agg: Aggregator,
            update_norm: float | None) -> BackwardResult:
    norms, cos = _cosine(G)
    return BackwardResult(backend, space, L, G, w, norms, cos, update_norm, dict(agg.diagnostics))


def _jacobian_backend(L: Tensor, L_d: Tensor, shared: list[Tensor], heads: list[Tensor], agg: Aggregator,
                      task_weighting: str, chunk_size: int | None, retain_graph: bool, sync: Sync,
                      terms: list[Tensor] | None) -> BackwardResult:
    inputs = shared + heads
    J = jacobian(L, inputs, chunk_size=chunk_size, retain_graph=retain_graph, terms=terms)
    sync.mean_(J)
    P = sum(p.numel() for p in shared)
    J_shared = J[:, :P] if heads else J
    G = check_gramian(gramian(J_shared))
    w: Tensor | None = None
    if isinstance(agg, Weighting):
        w = _weights(agg, G, L_d)
        update = w.to(J.dtype) @ J_shared
    else:
        update = agg(J_shared, L_d)
    _accumulate(shared, _split(update, shared))
    if heads:
        if task_weighting == "weighted" and w is None:
            raise ValueError("task_weighting='weighted' needs an aggregator with weights")
        hw = torch.ones(J.shape[0], dtype=J.dtype, device=J.device) if task_weighting == "unweighted" else w
        _accumulate(heads, _split(hw.to(J.dtype) @ J[:, P:], heads))
    return _finish("jacobian", "parameters", L_d, G, w, agg, float(update.norm()))


def _apply_synced(L: Tensor, w: Tensor, shared: list[Tensor], heads: list[Tensor], grads: list[Tensor | None],
                  task_weighting: str, retain_graph: bool, sync: Sync,
                  head_rows: list[list[Tensor | None]] | None = None) -> None:
    """Average the shared gradients over ranks and accumulate them; then the task heads' own gradients (from the
    per-task ``head_rows`` when they were computed already, else by one more backward)."""
    sync.mean_all_(grads)
    _accumulate(shared, grads)
    if not heads:
        return
    if head_rows is None:
        head_grads = _task_grads(L, heads, w if task_weighting == "weighted" else None, retain_graph)
    else:
        c = w.tolist() if task_weighting == "weighted" else [1.0] * len(head_rows)
        head_grads = []
        for i in range(len(heads)):
            parts = [row[i] * ck for row, ck in zip(head_rows, c) if row[i] is not None]
            head_grads.append(torch.stack(parts).sum(0) if len(parts) > 1 else parts[0] if parts else None)
    sync.mean_all_(head_grads)
    _accumulate(heads, head_grads)


def _blocks(params: list[Tensor], K: int, block_numel: int) -> list[list[Tensor]]:
    blocks: list[list[Tensor]] = [[]]
    size = 0
    for p in params:
        if blocks[-1] and size + K * p.numel() > block_numel:
            blocks.append([])
            size = 0
        blocks[-1].append(p)
        size += K * p.numel()
    return blocks


def _gramian_backend(L: Tensor, L_d: Tensor, shared: list[Tensor], heads: list[Tensor], agg: Aggregator,
                     task_weighting: str, chunk_size: int | None, block_numel: int, retain_graph: bool,
                     sync: Sync, terms: list[Tensor] | None) -> BackwardResult:
    K = L.shape[0]
    G = torch.zeros(K, K, dtype=torch.float64, device=L.device)
    for block in _blocks(shared, K, block_numel):
        Jb = sync.mean_(jacobian(L, block, chunk_size=chunk_size, retain_graph=True, terms=terms))
        G += gramian(Jb)
        del Jb
    G = check_gramian(G)
    w = _weights(agg, G, L_d)
    weighted = (w.to(L.dtype) * L).sum()
    grads = list(torch.autograd.grad(weighted, shared, retain_graph=retain_graph or bool(heads), allow_unused=True))
    _apply_synced(L, w, shared, heads, grads, task_weighting, retain_graph, sync)
    update_norm = float(torch.sqrt(torch.clamp(w @ G @ w, min=0)))
    return _finish("gramian", "parameters", L_d, G, w, agg, update_norm)


def _per_task_rows(terms: list[Tensor], reps: list[Tensor], heads: list[Tensor]
                   ) -> tuple[Tensor, list[list[Tensor | None]]]:
    """One backward per loss over its own graph: the (K, Σ numel) Jacobian w.r.t. the representation(s) and each
    loss's gradients w.r.t. the heads in the same pass (None where a loss does not reach a head)."""
    sizes = [r.numel() for r in reps]
    dtype = functools.reduce(torch.promote_types, [r.dtype for r in reps])
    Jz = torch.empty(len(terms), sum(sizes), dtype=dtype, device=reps[0].device)
    head_rows = []
    for k, term in enumerate(terms):
        g = torch.autograd.grad(term, [*reps, *heads], retain_graph=True, allow_unused=True)
        offset = 0
        for gr, n in zip(g, sizes):
            block = Jz[k, offset : offset + n]
            block.zero_() if gr is None else block.copy_(gr.reshape(-1))
            offset += n
        head_rows.append(list(g[len(reps):]))
    return Jz, head_rows


def _representation_backend(L: Tensor, L_d: Tensor, shared: list[Tensor], heads: list[Tensor], reps: list[Tensor],
                            agg: Aggregator, task_weighting: str, chunk_size: int | None, retain_graph: bool,
                            sync: Sync, terms: list[Tensor] | None) -> BackwardResult:
    head_rows = None
    if terms is not None and chunk_size in (None, 1):  # the losses' graphs below the representation are usually
        Jz, head_rows = _per_task_rows(terms, reps, heads)  # disjoint heads: one backward each, heads included
    else:
        Jz = jacobian(L, reps, chunk_size=chunk_size, retain_graph=True)
    G = sync.representation_gramian_(gramian(Jz))
    G = check_gramian(G)
    w = _weights(agg, G, L_d)
    gz = _split(w.to(Jz.dtype) @ Jz, reps)
    del Jz
    keep = retain_graph or (bool(heads) and head_rows is None)
    grads = list(torch.autograd.grad(reps, shared, grad_outputs=[g.view_as(r) for g, r in zip(gz, reps)],
                                     retain_graph=keep, allow_unused=True))
    _apply_synced(L, w, shared, heads, grads, task_weighting, retain_graph, sync, head_rows)
    return _finish("representation", "representation", L_d, G, w, agg, None)
