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

A loss-based method (:class:`~mtlkit.LossWeighting`: DWA, uncertainty weighting, …) needs no per-task gradient:
whatever the backend, ``backward`` runs ONE backward of its objective ``Σ w_i L_i`` (+ its regulariser) into the
parameters, the task heads and the method's own learnable parameters.

A constant-weight method (its weights depend on neither the gradients nor the losses: :class:`~mtlkit.Linear`,
which declares them by ``constant_weights(K, like)``) needs none either: with ``backend="auto"`` (the default)
``backward`` runs ONE backward of ``Σ w_i L_i`` — the same ``.grad`` as ``w @ J`` to rounding, about K times
cheaper — and the result has ``backend == "one_backward"``, ``space == "constant"`` and no Gramian, gradient
norms or cosines. Naming a backend (``"jacobian"``, ``"gramian"``, ``"representation"``) asks for the per-task
gradients and their diagnostics: it computes them as before.

Parameters that only some losses use (task heads) go in ``task_params``: they get their ordinary gradient of
``Σ L_i`` (``task_weighting="unweighted"``, the default for gradient methods) or of ``Σ w_i L_i``
(``"weighted"``, original Nash-MTL, and the default for loss-based methods).

``groups`` aggregates each group of shared parameters separately (one weighting per group: GradVac's and
torchjd's per-layer strategy), on the jacobian and gramian backends.

Under ``torch.distributed``, ``comm`` picks how the jacobian and gramian backends exchange the per-task
gradients: ``"allreduce"`` (the whole K×P Jacobian) or ``"sharded"`` (reduce-scatter it, sum the shards' partial
Gramians, combine each shard locally, all-gather the update; Gramian-based methods only); ``"auto"`` is
``"sharded"`` whenever every aggregator is Gramian-based. See ``_distributed``.

Mixed precision (``grad_scale=s``, e.g. from ``torch.amp.GradScaler``): the backward passes differentiate
``s·L_i`` (in float32 at least), so fp16 gradients are scaled as ``scaler.scale(loss)`` scales them; the per-task
gradients are unscaled (J/s, G/s², representation Gramian /s², in float32 or float64) before the aggregator sees
them, so that the aggregator and its state (Nash's warm start, DWA's history, …) see what they would see without
scaling; loss-based methods get the unscaled losses; ``result.losses`` are unscaled. The ``.grad`` written is
``s × update`` (task heads and a method's own parameters included): ``scaler.unscale_``, gradient clipping,
``scaler.step`` and ``scaler.update`` work unchanged. A non-finite loss or per-task gradient (J, the Gramian or the
representation Gramian, judged after the cross-rank reduction, so every rank decides alike) neither raises nor
reaches the aggregator: every ``.grad`` is filled with ``inf`` and ``result.skipped`` is True, so that
``scaler.step`` skips the step and ``scaler.update`` lowers the scale. One-backward paths (loss-based and
constant-weight methods) let non-finite gradients flow into ``.grad`` as a plain backward does; they skip
(without calling the method) only on non-finite losses. Gradients computed after the weights (the trunk's on
the representation backend, the heads' on the gramian and representation backends) are not part of that
decision: non-finite ones flow into ``.grad`` too, and ``scaler.step`` skips the step all the same.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import torch
from torch import Tensor, nn

from ._aggregator import Aggregator, Weighting, check_gramian, gramian, input_checks_enabled
from ._aggregator_plugins import get_aggregator
from ._distributed import Sync
from ._jacobian import jacobian
from ._loss_weighting import LossWeighting

if TYPE_CHECKING:
    from torch.distributed import ProcessGroup

Backend = Literal["auto", "jacobian", "gramian", "representation"]
TaskWeighting = Literal["unweighted", "weighted"]
Comm = Literal["auto", "allreduce", "sharded"]
BACKENDS = ("auto", "jacobian", "gramian", "representation")
COMMS = ("auto", "allreduce", "sharded")


@dataclass
class BackwardResult:
    """What :func:`backward` did: weights (when defined), per-task gradient norms, pairwise cosines, the
    Gramian they come from (parameter or representation space, see ``space``) and solver diagnostics.

    Loss-based methods compute no per-task gradient: ``gramian``, ``gradient_norms`` and ``cosine`` are None
    (``space == "losses"``); nor do constant-weight methods under ``backend="auto"`` (``backend ==
    "one_backward"``, ``space == "constant"``, ``update_norm`` the norm of the one gradient). With ``groups``,
    ``groups`` holds one result per group and the top-level Gramian is
    the whole one (the sum of the groups'), ``weights`` None.

    ``skipped`` (only with ``grad_scale``): a loss or per-task gradient was not finite, the aggregator was not
    called, every ``.grad`` holds ``inf`` (so ``GradScaler.step`` skips the step) and ``gramian``, ``weights``,
    norms and cosines are None. On the constant-weight one-backward path it also says that the one gradient was
    not finite (that gradient is in ``.grad`` as computed).
    """

    backend: str
    space: str
    losses: Tensor
    gramian: Tensor | None
    weights: Tensor | None
    gradient_norms: Tensor | None
    cosine: Tensor | None
    update_norm: float | None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    groups: list[BackwardResult] | None = None
    skipped: bool = False

    @property
    def regularised(self) -> bool:
        """Whether the solver had to regularise a singular Gramian."""
        return bool(self.diagnostics.get("regularised", False))

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python view for logging (lists and floats)."""
        def plain(t: Tensor | None) -> Any:
            return None if t is None else t.tolist()

        out: dict[str, Any] = {
            "backend": self.backend, "space": self.space, "losses": self.losses.tolist(),
            "weights": plain(self.weights), "gradient_norms": plain(self.gradient_norms),
            "cosine": plain(self.cosine), "update_norm": self.update_norm, "skipped": self.skipped,
        }
        for key, value in self.diagnostics.items():  # a method's own "weights" etc. must not mask the result's
            out[f"method_{key}" if key in out else key] = value.tolist() if isinstance(value, Tensor) else value
        if self.groups is not None:
            out["groups"] = [g.as_dict() for g in self.groups]
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


Scale = float | Tensor  # the factor of ``grad_scale``: a Python float or a 0-dim tensor on the losses' device


def _resolve_scale(grad_scale: float | Tensor | None, like: Tensor) -> tuple[bool, Scale | None]:
    """(whether ``grad_scale`` was given, the factor to multiply by: None for none or a Python 1.0)."""
    if grad_scale is None:
        return False, None
    if isinstance(grad_scale, Tensor):
        if grad_scale.numel() != 1 or not grad_scale.is_floating_point():
            raise ValueError(f"grad_scale must be a one-element floating-point tensor, got {grad_scale.dtype} of "
                             f"shape {tuple(grad_scale.shape)}")
        s = grad_scale.detach().reshape(()).to(like.device)
        if s.device.type == "cpu" and not (math.isfinite(float(s)) and float(s) > 0):  # free to read on the CPU
            raise ValueError(f"grad_scale must be finite and positive, got {float(s)}")
        return True, s
    if isinstance(grad_scale, bool) or not isinstance(grad_scale, (int, float)):
        raise TypeError(f"grad_scale must be a float, a one-element tensor or None, got {type(grad_scale).__name__}")
    value = float(grad_scale)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"grad_scale must be finite and positive, got {value}")
    return True, None if value == 1.0 else value


def _scaled(x: Tensor, s: Scale | None) -> Tensor:
    """``x·s`` in float32 at least (an fp16 loss times 65536 overflows), as ``GradScaler.scale`` computes it."""
    if s is None:
        return x
    dtype = torch.promote_types(x.dtype, torch.float32)
    return x.to(dtype) * (s.to(dtype) if isinstance(s, Tensor) else s)


def _mul(x: Tensor, s: Scale | None) -> Tensor:
    """``x·s`` in x's dtype (the update written into ``.grad``); x itself when there is no factor."""
    return x if s is None else x * (s.to(x.dtype) if isinstance(s, Tensor) else s)


def _unscale(J: Tensor, s: Scale | None) -> Tensor:
    """``J / s`` in place, in float32 at least (a float32 copy of fp16/bf16 gradients)."""
    if s is None:
        return J
    if J.dtype not in (torch.float32, torch.float64):
        J = J.float()
    return J.div_(s.to(J.dtype) if isinstance(s, Tensor) else s)


def _unscale_gramian(G: Tensor, s: Scale | None) -> Tensor:
    """``G / s²`` in place (float64)."""
    if s is None:
        return G
    return G.div_(s.double().square() if isinstance(s, Tensor) else s * s)


def _finite(t: Tensor) -> bool:
    """Whether every entry of ``t`` is finite: one float64 sum (NaN and Inf propagate), read once; a sum that
    overflowed on finite entries is settled element-wise."""
    if t.numel() == 0 or math.isfinite(float(t.sum(dtype=torch.float64))):
        return True
    return bool(torch.isfinite(t).all())


def _skip(backend: str, space: str, L_d: Tensor, params: Sequence[Tensor]) -> BackwardResult:
    """``grad_scale`` met a non-finite loss or per-task gradient: every ``.grad`` becomes ``inf`` (so that
    ``GradScaler`` finds it, skips the step and lowers the scale) and the aggregator is not called."""
    with torch.no_grad():
        for p in params:
            if p.grad is None:
                p.grad = torch.full_like(p, math.inf)
            else:
                p.grad.fill_(math.inf)
    return BackwardResult(backend, space, L_d, None, None, None, None, None, {}, None, skipped=True)


def _cosine(G: Tensor) -> tuple[Tensor, Tensor]:
    norms = G.diagonal().clamp_min(0).sqrt()
    denom = norms[:, None] * norms[None, :]
    cos = torch.where(denom > 0, G / denom.clamp_min(torch.finfo(G.dtype).tiny), torch.zeros_like(G))
    return norms, cos.clamp(-1.0, 1.0)


def _weights(agg: Aggregator, G: Tensor, losses: Tensor, sync: Sync) -> Tensor:
    if not isinstance(agg, Weighting):
        raise ValueError(f"aggregator {agg.name or type(agg).__name__!r} is not Gramian-based: use backend='jacobian'")
    w = agg.weights(G, losses).double()
    if agg.properties.randomised:  # every rank applies the first rank's draw, whatever the generators' seeds
        sync.broadcast_(w)
    return w


def _task_grads(losses: Tensor, task_params: list[Tensor], w: Tensor | None, retain_graph: bool) -> list[Tensor | None]:
    weights = torch.ones_like(losses) if w is None else w.to(losses.dtype)
    return list(torch.autograd.grad(losses, task_params, grad_outputs=weights, retain_graph=retain_graph,
                                    allow_unused=True))


def constant_weights(aggregator: Aggregator, K: int, like: Tensor) -> Tensor | None:
    """The (K,) float64 weights of a method whose weights depend on neither the gradients nor the losses (it
    defines ``constant_weights(K, like)``, e.g. :class:`~mtlkit.Linear`), else None: :func:`backward` then needs
    one backward of ``Σ w_i L_i`` instead of K per-task gradients."""
    fn = getattr(aggregator, "constant_weights", None)
    if fn is None or isinstance(aggregator, LossWeighting):
        return None
    w = fn(K, like)
    return None if w is None else w.detach().to(dtype=torch.float64, device=like.device)


def _resolve_groups(params: Iterable[Tensor] | nn.Module | None,
                    groups: Sequence[Iterable[Tensor] | nn.Module] | None) -> tuple[list[Tensor], list[int] | None]:
    """The shared parameters in order, and the number of parameters of each group (None without groups)."""
    if groups is None:
        if params is None:
            raise ValueError("backward() needs params (the shared parameters) or groups")
        return _as_params(params), None
    lists = [_as_params(g) for g in groups]
    if not lists or any(not g for g in lists):
        raise ValueError("groups must be a non-empty list of non-empty parameter groups (with requires_grad)")
    flat = [p for g in lists for p in g]
    if len({id(p) for p in flat}) != len(flat):
        raise ValueError("a parameter is in two groups")
    if params is not None and {id(p) for p in _as_params(params)} != {id(p) for p in flat}:
        raise ValueError("params and the union of groups differ: pass one or the other")
    return flat, [len(g) for g in lists]


def _resolve_aggregators(aggregator: Aggregator | str | Sequence[Aggregator | str], n_groups: int | None
                         ) -> list[Aggregator]:
    """One aggregator per group (or one in all); names are built with default options."""
    items = [aggregator] if isinstance(aggregator, (str, Aggregator)) else list(aggregator)
    aggs = [get_aggregator(a) if isinstance(a, str) else a for a in items]
    for a in aggs:
        if not isinstance(a, Aggregator):
            raise TypeError(f"aggregator must be an mtlkit Aggregator or a registered name, got {type(a).__name__}")
    if n_groups is None:
        if len(aggs) != 1:
            raise ValueError(f"{len(aggs)} aggregators given without groups: pass one")
        return aggs
    if len(aggs) == 1 and n_groups > 1:
        a = aggs[0]
        if isinstance(aggregator, str):
            return [a] + [get_aggregator(aggregator) for _ in range(n_groups - 1)]
        if a.properties.stateful:
            raise ValueError(f"aggregator {a.name or type(a).__name__!r} is stateful: one instance would mix the "
                             f"groups' state; pass one instance per group (aggregator=[...], {n_groups} of them)")
        return aggs * n_groups
    if len(aggs) != n_groups:
        raise ValueError(f"{len(aggs)} aggregators for {n_groups} groups: pass one, or one per group")
    return aggs


def backward(
    losses: Sequence[Tensor] | Tensor,
    params: Iterable[Tensor] | nn.Module | None,
    aggregator: Aggregator | str | Sequence[Aggregator | str],
    backend: Backend = "auto",
    *,
    groups: Sequence[Iterable[Tensor] | nn.Module] | None = None,
    representation: Tensor | Sequence[Tensor] | None = None,
    task_params: Iterable[Tensor] | nn.Module | None = None,
    task_weighting: TaskWeighting | None = None,
    chunk_size: int | None = None,
    block_numel: int = 1 << 27,
    max_jacobian_bytes: int = 1 << 31,
    retain_graph: bool = False,
    sync: bool | None = None,
    process_group: ProcessGroup | None = None,
    comm: Comm = "auto",
    grad_scale: float | Tensor | None = None,
) -> BackwardResult:
    """Aggregate the gradients of K task losses and accumulate the update into each parameter's ``.grad``.

    Args:
        losses: K scalar losses (or a (K,) tensor).
        params: the shared parameters (an iterable or an ``nn.Module``); parameters without ``requires_grad``
            are skipped. With ``backend="representation"`` these are the parameters upstream of
            ``representation``. May be None when ``groups`` is given.
        aggregator: an :class:`Aggregator` or a registered name (built with default options); with ``groups``,
            optionally one per group (required for stateful methods).
        backend: ``"auto"``, ``"jacobian"``, ``"gramian"`` or ``"representation"`` (see the module docs);
            ignored by loss-based methods (one backward). With ``"auto"`` a constant-weight method (``linear``)
            takes one backward of ``Σ w_i L_i`` too; an explicit backend computes its per-task gradients (for
            the diagnostics: gradient norms, cosines).
        groups: aggregate each group of shared parameters separately (jacobian and gramian backends).
        representation: the shared activation(s) for the representation backend.
        task_params: parameters used by only some losses (heads); ordinary gradients, see ``task_weighting``.
        task_weighting: ``"unweighted"`` (gradient of Σ L_i) or ``"weighted"`` (of Σ w_i L_i); None: weighted
            for loss-based methods, unweighted otherwise.
        chunk_size: tasks per vmapped backward (None = all K at once; for the representation backend with
            separate losses, None = one backward per loss over its own graph).
        block_numel: the gramian backend's largest Jacobian block (entries).
        max_jacobian_bytes: ``auto`` switches to ``gramian`` above this Jacobian size.
        retain_graph: keep the autograd graph afterwards (otherwise it is freed, activations included).
        sync: average across ``torch.distributed`` ranks (None = when initialised with world size > 1).
        process_group: the process group for ``sync``.
        comm: how the jacobian and gramian backends exchange per-task gradients across ranks: ``"allreduce"``
            (the K×P Jacobian; any aggregator), ``"sharded"`` (reduce-scatter, K×K Gramian all-reduce,
            all-gather of the update; Gramian-based aggregators only) or ``"auto"`` (``"sharded"`` when every
            aggregator is Gramian-based). Results agree to rounding; see the distributed docs for the bytes.
        grad_scale: the loss scale ``s`` of mixed-precision training (a float or a one-element tensor, e.g.
            ``scaler.scale(torch.ones((), device=dev))`` or ``scaler.get_scale()`` of a
            ``torch.amp.GradScaler``). The backward passes differentiate ``s·L_i``; the aggregator sees the
            unscaled per-task gradients (J/s, G/s²) and losses; ``.grad`` receives ``s × update``, ready for
            ``scaler.unscale_`` / ``scaler.step``. A non-finite loss or per-task gradient does not raise: the
            aggregator is not called, every ``.grad`` is filled with ``inf`` and ``result.skipped`` is True
            (decided on the host even with input checks off). None (default): no scaling; non-finite input
            raises. See the module docs for the one-backward paths and the distributed case.

    Returns:
        A :class:`BackwardResult`.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if comm not in COMMS:
        raise ValueError(f"unknown comm {comm!r}; choose one of {', '.join(COMMS)}")
    if task_weighting not in (None, "unweighted", "weighted"):
        raise ValueError(f"task_weighting must be 'unweighted' or 'weighted', got {task_weighting!r}")
    L, terms = _stack_losses(losses)
    if not L.is_floating_point():
        raise TypeError(f"losses must be floating-point, got {L.dtype}")
    shared, sizes = _resolve_groups(params, groups)
    aggs = _resolve_aggregators(aggregator, None if sizes is None else len(sizes))
    heads = _as_params(task_params)
    if {id(p) for p in shared} & {id(p) for p in heads}:
        raise ValueError("a parameter is listed both in params and in task_params")
    if not shared:
        raise ValueError("no shared parameter requires grad")
    loss_based = [isinstance(a, LossWeighting) and a.properties.loss_based for a in aggs]
    if any(loss_based):
        if sizes is not None:
            raise ValueError("a loss-based method weighs the losses, not gradients: groups do not apply to it")
        tw = task_weighting or "weighted"
    else:
        tw = task_weighting or "unweighted"
    if sizes is not None and tw == "weighted":
        raise ValueError("task_weighting='weighted' is ambiguous with groups (one weighting per group)")
    fixed = None
    if backend == "auto" and sizes is None and not any(loss_based):
        fixed = constant_weights(aggs[0], L.shape[0], L)
    gramian_based = all(isinstance(a, Weighting) and a.properties.gramian_based for a in aggs)
    if backend == "auto":
        nbytes = L.shape[0] * sum(p.numel() for p in shared) * shared[0].element_size()
        backend = "gramian" if gramian_based and nbytes > max_jacobian_bytes else "jacobian"
    if backend in ("gramian", "representation") and not gramian_based and not any(loss_based):
        name = next(a.name or type(a).__name__ for a in aggs if not isinstance(a, Weighting)
                    or not a.properties.gramian_based)
        raise ValueError(f"backend {backend!r} needs a Gramian-based aggregator; "
                         f"{name!r} needs the Jacobian: use backend='jacobian'")
    all_weightings = all(isinstance(a, Weighting) and a.properties.gramian_based for a in aggs)
    if comm == "sharded" and backend in ("jacobian", "gramian") and not all_weightings and not any(loss_based):
        raise ValueError("comm='sharded' needs Gramian-based aggregators (weights from the Gramian); "
                         "use comm='allreduce'")
    amp, s = _resolve_scale(grad_scale, L)
    sync_ = Sync(sync, process_group)
    sharded = sync_.enabled and comm != "allreduce" and all_weightings
    L_detached = sync_.mean_(L.detach().double().clone())
    if amp and not _finite(L_detached):  # averaged over ranks: every rank skips alike; no method sees the losses
        own: list[Tensor] = [p for a in aggs for p in a.parameters() if p.requires_grad] if any(loss_based) else []
        name = "losses" if any(loss_based) else "one_backward" if fixed is not None else backend
        space = {"losses": "losses", "one_backward": "constant", "representation": "representation"}.get(
            name, "parameters")
        return _skip(name, space, L_detached, shared + heads + own)
    if any(loss_based):
        agg = aggs[0]
        assert isinstance(agg, LossWeighting)
        return _loss_backend(L, L_detached, shared, heads, agg, tw, retain_graph, sync_, s)
    if fixed is not None:
        return _constant_backend(L, L_detached, shared, heads, aggs[0], fixed, tw, retain_graph, sync_, amp, s)
    if s is not None:  # the per-task backends differentiate s·L_i
        terms = None if terms is None else [_scaled(t, s) for t in terms]
        L = _scaled(L, s) if terms is None else torch.stack(terms)
    if backend == "jacobian":
        if sharded:
            return _jacobian_sharded(L, L_detached, shared, sizes, heads, aggs, tw, chunk_size, retain_graph, sync_,
                                     terms, amp, s)
        return _jacobian_backend(L, L_detached, shared, sizes, heads, aggs, tw, chunk_size, retain_graph, sync_,
                                 terms, amp, s)
    if backend == "gramian":
        return _gramian_backend(L, L_detached, shared, sizes, heads, aggs, tw, chunk_size, block_numel,
                                retain_graph, sync_, terms, sharded, amp, s)
    if sizes is not None:
        raise ValueError("groups apply to the jacobian and gramian backends (the representation backend has one "
                         "Gramian for the whole trunk)")
    if representation is None:
        raise ValueError("backend='representation' needs representation=<the shared activation tensor(s)>")
    reps = [representation] if isinstance(representation, Tensor) else list(representation)
    if not all(isinstance(r, Tensor) and r.requires_grad for r in reps):
        raise ValueError("representation must be tensor(s) inside the autograd graph (requires_grad=True)")
    return _representation_backend(L, L_detached, shared, heads, reps, aggs[0], tw, chunk_size,
                                   retain_graph, sync_, terms, amp, s)


def _loss_backend(L: Tensor, L_d: Tensor, shared: list[Tensor], heads: list[Tensor], agg: LossWeighting,
                  task_weighting: str, retain_graph: bool, sync: Sync, s: Scale | None = None) -> BackwardResult:
    """One backward of the method's objective (times ``s``) into the shared parameters, the heads (weighted) and
    the method's own parameters; unweighted heads take one more backward of Σ L_i (times ``s``). A non-finite loss
    raises (with input checks on) before the method sees it, as on the other paths."""
    if s is None and input_checks_enabled() and not _finite(L_d):
        raise ValueError("a loss is NaN or Inf (its gradient is not finite)")
    w = agg.loss_weights(L_d)
    objective = _scaled(agg.objective(L, w), s)
    own = [p for p in agg.parameters() if p.requires_grad]
    inputs = shared + (heads if task_weighting == "weighted" else []) + own
    unweighted_heads = bool(heads) and task_weighting == "unweighted"
    if not sync.enabled:  # straight into .grad, as a plain backward does (no second buffer, no extra add)
        torch.autograd.backward(objective, inputs=inputs, retain_graph=retain_graph or unweighted_heads)
        if unweighted_heads:
            torch.autograd.backward(_scaled(L.sum(), s), inputs=heads, retain_graph=retain_graph)
    else:  # the gradients of this call alone are averaged across ranks, then accumulated
        grads = list(torch.autograd.grad(objective, inputs, retain_graph=retain_graph or unweighted_heads,
                                         allow_unused=True))
        if unweighted_heads:
            grads += list(torch.autograd.grad(_scaled(L.sum(), s), heads, retain_graph=retain_graph,
                                              allow_unused=True))
            inputs = inputs + heads
        sync.mean_all_(grads)
        _accumulate(inputs, grads)
    w_d = w.detach().double()
    return BackwardResult("losses", "losses", L_d, None, w_d, None, None, None, dict(agg.diagnostics))


def _constant_backend(L: Tensor, L_d: Tensor, shared: list[Tensor], heads: list[Tensor], agg: Aggregator, w: Tensor,
                      task_weighting: str, retain_graph: bool, sync: Sync, amp: bool = False,
                      s: Scale | None = None) -> BackwardResult:
    """Constant weights: ONE backward of ``Σ w_i L_i`` (times ``s``) into the shared parameters (and weighted
    heads); unweighted heads take one more backward of ``Σ L_i``. Parameters a loss does not reach get zeros,
    non-finite losses or gradients raise, as on the per-task path (with ``grad_scale``: they flow into ``.grad``
    and the result says ``skipped``)."""
    checks = input_checks_enabled() and not amp
    if checks and not bool(torch.isfinite(L_d).all()):
        raise ValueError("a loss is NaN or Inf (its gradient is not finite)")
    weighted_heads = heads if task_weighting == "weighted" else []
    unweighted_heads = bool(heads) and task_weighting == "unweighted"
    inputs = shared + weighted_heads
    objective = _scaled((w.to(L.dtype) * L).sum(), s)
    grads = list(torch.autograd.grad(objective, inputs, retain_graph=retain_graph or unweighted_heads,
                                     allow_unused=True))
    if unweighted_heads:
        grads += list(torch.autograd.grad(_scaled(L.sum(), s), heads, retain_graph=retain_graph, allow_unused=True))
        inputs = inputs + heads
    grads = [torch.zeros_like(p) if g is None else g for p, g in zip(inputs, grads)]
    sync.mean_all_(grads)
    sq = torch.stack(torch._foreach_norm(grads[: len(shared)])).double().square().sum()
    update_norm = float(sq.sqrt())
    if s is not None:
        update_norm /= float(s)
    if checks and not math.isfinite(update_norm):
        raise ValueError("the update contains NaN or Inf (a task gradient is not finite)")
    _accumulate(inputs, grads)
    diagnostics = {**agg.diagnostics, "one_backward": True}
    return BackwardResult("one_backward", "constant", L_d, None, w, None, None, update_norm, diagnostics,
                          skipped=amp and not math.isfinite(update_norm))


def _finish(backend: str, space: str, L: Tensor, G: Tensor, w: Tensor | None, agg: Aggregator,
            update_norm: float | None) -> BackwardResult:
    norms, cos = _cosine(G)
    return BackwardResult(backend, space, L, G, w, norms, cos, update_norm, dict(agg.diagnostics))


def _grouped(backend: str, L: Tensor, parts: list[BackwardResult], update_norm: float | None) -> BackwardResult:
    """One result for several groups: the whole Gramian (sum of the groups'), per-group results inside."""
    G = sum((r.gramian for r in parts if r.gramian is not None), torch.zeros_like(cast(Tensor, parts[0].gramian)))
    norms, cos = _cosine(G)
    return BackwardResult(backend, "parameters", L, G, None, norms, cos, update_norm, {}, parts)


def _spans(shared: list[Tensor], sizes: list[int] | None) -> list[tuple[int, int, int, int]]:
    """Per group: (first param, last param + 1, first column, last column + 1) in the shared Jacobian."""
    counts = [len(shared)] if sizes is None else sizes
    out, p0, c0 = [], 0, 0
    for n in counts:
        cols = sum(p.numel() for p in shared[p0 : p0 + n])
        out.append((p0, p0 + n, c0, c0 + cols))
        p0, c0 = p0 + n, c0 + cols
    return out


def _jacobian_backend(L: Tensor, L_d: Tensor, shared: list[Tensor], sizes: list[int] | None, heads: list[Tensor],
                      aggs: list[Aggregator], task_weighting: str, chunk_size: int | None, retain_graph: bool,
                      sync: Sync, terms: list[Tensor] | None, amp: bool = False, s: Scale | None = None
                      ) -> BackwardResult:
    """With ``grad_scale``: the averaged J (the same on every rank) decides the skip, then is unscaled in place;
    ``.grad`` gets ``s × update``."""
    inputs = shared + heads
    J = jacobian(L, inputs, chunk_size=chunk_size, retain_graph=retain_graph, terms=terms)
    sync.mean_(J)
    if amp:
        if not _finite(J):
            return _skip("jacobian", "parameters", L_d, inputs)
        J = _unscale(J, s)
    spans = _spans(shared, sizes)
    Gs = [check_gramian(gramian(J[:, c0:c1])) for _, _, c0, c1 in spans]  # every group's, before any method runs
    parts, sq_norm = [], 0.0
    for agg, G, (p0, p1, c0, c1) in zip(aggs, Gs, spans):
        J_g = J[:, c0:c1]
        w: Tensor | None = None
        if isinstance(agg, Weighting):
            w = _weights(agg, G, L_d, sync)
            update = w.to(J.dtype) @ J_g
        else:
            update = agg(J_g, L_d)
            if agg.properties.randomised:
                sync.broadcast_(update)
        _accumulate(shared[p0:p1], _split(_mul(update, s), shared[p0:p1]))
        norm = float(update.norm())
        sq_norm += norm * norm
        parts.append(_finish("jacobian", "parameters", L_d, G, w, agg, norm))
    if heads:
        P = sum(p.numel() for p in shared)
        w = parts[0].weights
        if task_weighting == "weighted" and w is None:
            raise ValueError("task_weighting='weighted' needs an aggregator with weights")
        hw = torch.ones(J.shape[0], dtype=J.dtype, device=J.device) if task_weighting == "unweighted" else w
        _accumulate(heads, _split(_mul(cast(Tensor, hw).to(J.dtype) @ J[:, P:], s), heads))
    return parts[0] if sizes is None else _grouped("jacobian", L_d, parts, sq_norm**0.5)


def _partial_gramian(J: Tensor) -> Tensor:
    """``J Jᵀ`` in float64 for a (K, n) block that may have no column (a rank's empty share of a group)."""
    if J.shape[1] == 0:
        return torch.zeros(J.shape[0], J.shape[0], dtype=torch.float64, device=J.device)
    return gramian(J)


def _jacobian_sharded(L: Tensor, L_d: Tensor, shared: list[Tensor], sizes: list[int] | None, heads: list[Tensor],
                      aggs: list[Aggregator], task_weighting: str, chunk_size: int | None, retain_graph: bool,
                      sync: Sync, terms: list[Tensor] | None, amp: bool = False, s: Scale | None = None
                      ) -> BackwardResult:
    """The jacobian backend with ``comm="sharded"``: reduce-scatter J so that this rank holds the averaged
    columns [start, stop) of every task, sum the ranks' partial Gramians (one K×K all-reduce per group, in one
    call), weights from the global Gramian (the same on every rank), this rank's slice of ``w @ J`` (and of the
    heads' update), then one all-gather of the (P,) update. Bytes per rank: K·P·(W−1)/W + P·(W−1)/W + G·K²
    (ring all-reduce of the Gramians).

    With ``grad_scale`` the shard is unscaled in place and the skip is decided from the summed Gramians (the same
    on every rank), the heads' columns included (one more K×K partial Gramian in the same all-reduce): a
    non-finite entry in any rank's shard makes every rank skip."""
    J = jacobian(L, shared + heads, chunk_size=chunk_size, retain_graph=retain_graph, terms=terms)
    P_all = J.shape[1]
    Js, start, stop = sync.shard_mean_(J)
    del J
    Js = _unscale(Js, s)
    spans = _spans(shared, sizes)
    P = spans[-1][3]
    local = [(max(c0, start), min(c1, stop)) for _, _, c0, c1 in spans]  # each group's columns in this shard
    slabs = [_partial_gramian(Js[:, a - start : max(a, b) - start]) for a, b in local]
    if amp and heads:
        slabs.append(_partial_gramian(Js[:, min(max(P, start), stop) - start :]))
    Gs = sync.sum_(torch.stack(slabs))
    if amp and not _finite(Gs):
        return _skip("jacobian", "parameters", L_d, shared + heads)
    part = torch.zeros(stop - start, dtype=Js.dtype, device=Js.device)
    Gc, ws = [], []
    for agg, G, (a, b) in zip(aggs, Gs[: len(spans)], local):
        Gc.append(check_gramian(G))
        w = _weights(agg, Gc[-1], L_d, sync)
        ws.append(w)
        if a < b:
            part[a - start : b - start] = w.to(Js.dtype) @ Js[:, a - start : b - start]
    if heads:
        if task_weighting == "weighted":
            hw = ws[0].to(Js.dtype)
        else:
            hw = torch.ones(Js.shape[0], dtype=Js.dtype, device=Js.device)
        a = max(P, start)
        if a < stop:
            part[a - start :] = hw @ Js[:, a - start :]
    del Js
    update = sync.gather_(part, P_all)
    parts, sq_norm = [], 0.0
    for agg, G, w, (p0, p1, c0, c1) in zip(aggs, Gc, ws, spans):
        _accumulate(shared[p0:p1], _split(_mul(update[c0:c1], s), shared[p0:p1]))
        norm = float(update[c0:c1].norm())
        sq_norm += norm * norm
        parts.append(_finish("jacobian", "parameters", L_d, G, w, agg, norm))
    if heads:
        _accumulate(heads, _split(_mul(update[P:], s), heads))
    return parts[0] if sizes is None else _grouped("jacobian", L_d, parts, sq_norm**0.5)


def _apply_synced(L: Tensor, w: Tensor, shared: list[Tensor], heads: list[Tensor], grads: Sequence[Tensor | None],
                  task_weighting: str, retain_graph: bool, sync: Sync,
                  head_rows: Sequence[Sequence[Tensor | None]] | None = None) -> None:
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


def _gramian_backend(L: Tensor, L_d: Tensor, shared: list[Tensor], sizes: list[int] | None, heads: list[Tensor],
                     aggs: list[Aggregator], task_weighting: str, chunk_size: int | None, block_numel: int,
                     retain_graph: bool, sync: Sync, terms: list[Tensor] | None, sharded: bool = False,
                     amp: bool = False, s: Scale | None = None) -> BackwardResult:
    """Sharded: each block is reduce-scattered (this rank's columns, averaged) instead of all-reduced, its
    partial Gramian accumulated, and the groups' partial Gramians summed across ranks in one K×K all-reduce.
    With ``grad_scale`` each (reduced) block is unscaled before its Gramian, and the skip is decided from the
    reduced Gramians (the same on every rank); ``L`` is already ``s·L``: the final backward gives ``s × update``."""
    K = L.shape[0]
    spans = _spans(shared, sizes)
    Gs = torch.zeros(len(spans), K, K, dtype=torch.float64, device=L.device)
    for g, (p0, p1, _, _) in enumerate(spans):
        for block in _blocks(shared[p0:p1], K, block_numel):
            Jb = jacobian(L, block, chunk_size=chunk_size, retain_graph=True, terms=terms)
            Jb = sync.shard_mean_(Jb)[0] if sharded else sync.mean_(Jb)
            Gs[g] += _partial_gramian(_unscale(Jb, s))
            del Jb
    if sharded:
        sync.sum_(Gs)
    if amp and not _finite(Gs):
        return _skip("gramian", "parameters", L_d, shared + heads)
    parts, grads, sq_norm = [], [], 0.0
    for g, (agg, (p0, p1, _, _)) in enumerate(zip(aggs, spans)):
        G = check_gramian(Gs[g])
        w = _weights(agg, G, L_d, sync)
        last = g == len(spans) - 1
        keep = retain_graph or bool(heads) or not last
        grads += list(torch.autograd.grad((w.to(L.dtype) * L).sum(), shared[p0:p1], retain_graph=keep,
                                          allow_unused=True))
        norm = float(torch.sqrt(torch.clamp(w @ G @ w, min=0)))
        sq_norm += norm * norm
        parts.append(_finish("gramian", "parameters", L_d, G, w, agg, norm))
    _apply_synced(L, cast(Tensor, parts[0].weights), shared, heads, grads, task_weighting, retain_graph, sync)
    return parts[0] if sizes is None else _grouped("gramian", L_d, parts, sq_norm**0.5)


def _per_task_rows(terms: list[Tensor], reps: list[Tensor], heads: list[Tensor]
                   ) -> tuple[Tensor, list[list[Tensor | None]]]:
    """One backward per loss over its own graph: the (K, Σ numel) Jacobian w.r.t. the representation(s) and each
    loss's gradients w.r.t. the heads in the same pass (None where a loss does not reach a head)."""
    sizes = [r.numel() for r in reps]
    dtype = functools.reduce(torch.promote_types, [r.dtype for r in reps])
    Jz = torch.empty(len(terms), sum(sizes), dtype=dtype, device=reps[0].device)
    head_rows: list[list[Tensor | None]] = []
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
                            sync: Sync, terms: list[Tensor] | None, amp: bool = False, s: Scale | None = None
                            ) -> BackwardResult:
    """With ``grad_scale`` the rows (of ``s·L_i``) stay scaled: the reduced Gramian is divided by s² and decides
    the skip; ``w @ Jz`` is then ``s ×`` the cotangent, so the trunk's and heads' gradients come out scaled."""
    head_rows = None
    if terms is not None and chunk_size in (None, 1):  # the losses' graphs below the representation are usually
        Jz, head_rows = _per_task_rows(terms, reps, heads)  # disjoint heads: one backward each, heads included
    else:
        Jz = jacobian(L, reps, chunk_size=chunk_size, retain_graph=True)
    G = sync.representation_gramian_(gramian(Jz))
    if amp:
        G = _unscale_gramian(G, s)
        if not _finite(G):
            return _skip("representation", "representation", L_d, shared + heads)
    G = check_gramian(G)
    w = _weights(agg, G, L_d, sync)
    gz = _split(w.to(Jz.dtype) @ Jz, reps)
    del Jz
    keep = retain_graph or (bool(heads) and head_rows is None)
    grads = list(torch.autograd.grad(reps, shared, grad_outputs=[g.view_as(r) for g, r in zip(gz, reps)],
                                     retain_graph=keep, allow_unused=True))
    _apply_synced(L, w, shared, heads, grads, task_weighting, retain_graph, sync, head_rows)
    return _finish("representation", "representation", L_d, G, w, agg, None)


def after_step(method: Aggregator, losses: Sequence[Tensor] | Tensor, *, sync: bool | None = None,
               process_group: ProcessGroup | None = None) -> None:
    """Call ``method.after_step`` with the K losses re-evaluated after ``optimizer.step()`` (FAMO learns from
    them), averaged across ``torch.distributed`` ranks first (``sync`` as in :func:`backward`) so that every
    rank's method state stays identical. A no-op for methods without such a hook."""
    if type(method).after_step is Aggregator.after_step:
        return
    L = torch.stack([torch.as_tensor(x).reshape(()) for x in losses]) if not isinstance(losses, Tensor) else losses
    method.after_step(Sync(sync, process_group).mean_(L.detach().double().clone()))
