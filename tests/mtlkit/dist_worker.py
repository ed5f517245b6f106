"""Worker for the 2-process distributed test (run by torchrun) and its single-process reference.

Each rank trains a small trunk + 3 heads for a few SGD steps on its half of every global batch; the reference
trains on the whole batch in one process. mtlkit.backward must make them agree. ``dist_worker.py OUT amp`` runs
the mixed-precision (``grad_scale``) steps instead (tests/mtlkit/test_grad_scale.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

import mtlkit

COMBOS = [(agg, backend) for agg in ("linear", "nash", "aligned", "pcgrad")
          for backend in ("jacobian", "gramian", "representation")]
COMBOS += [("pcgrad-by-name", "jacobian"), ("pcgrad-by-name", "gramian"), ("dwa", "jacobian"), ("uw", "jacobian"),
           ("nash-groups", "jacobian"), ("nash-groups", "gramian"), ("famo", "jacobian")]
# every other registered method (built-ins and plugins), each on the backend it needs
_COVERED = {a for a, _ in COMBOS}
COMBOS += [(info.name, "jacobian") for info in mtlkit.list_aggregators() if info.name not in _COVERED]
# both ways of exchanging per-task gradients (comm=), Gramian-based methods on the exact backends
COMM_COMBOS = [(agg, backend, comm) for agg in ("nash", "upgrad", "mgda", "pcgrad", "nash-groups")
               for backend in ("jacobian", "gramian") for comm in ("allreduce", "sharded")]
COMM_COMBOS += [("nash-blocks", "gramian", "allreduce"), ("nash-blocks", "gramian", "sharded")]  # many blocks
# what the 3-process run covers (``dist_worker.py OUT comm``): uneven shards, a sum over more than two ranks
THREE_RANK_COMBOS = [("nash", "jacobian", "sharded"), ("upgrad", "gramian", "sharded"),
                     ("pcgrad", "jacobian", "sharded"), ("nash-groups", "jacobian", "sharded"),
                     ("nash-blocks", "gramian", "sharded")]
UNSEEDED = {"pcgrad-by-name"}  # a fresh unseeded generator per rank: only the ranks' agreement is defined
STEPS, BATCH = 4, 24  # the batch splits evenly over 2 and 3 ranks


def make_aggregator(name: str) -> mtlkit.Aggregator | list[mtlkit.Aggregator]:
    if name == "nash-groups":  # one Nash-MTL per trunk layer
        return [mtlkit.get_aggregator("nash", max_norm=None) for _ in range(2)]
    if name == "pcgrad":
        return mtlkit.get_aggregator("pcgrad", generator=torch.Generator().manual_seed(123))
    if name == "pcgrad-by-name":
        return mtlkit.get_aggregator("pcgrad")
    if name == "uw":
        return mtlkit.get_aggregator("uw", num_tasks=3)
    if name in ("nash", "nash-blocks"):
        return mtlkit.get_aggregator("nash", max_norm=None)
    if {i.name: i for i in mtlkit.list_aggregators()}[name].properties.randomised:  # the single-process run draws alike
        return mtlkit.get_aggregator(name, generator=torch.Generator().manual_seed(123))
    return mtlkit.get_aggregator(name)


def make_model() -> tuple[nn.Module, nn.ModuleList]:
    torch.manual_seed(0)
    trunk = nn.Sequential(nn.Linear(5, 12), nn.Tanh(), nn.Linear(12, 6), nn.Tanh()).double()
    heads = nn.ModuleList([nn.Linear(6, 1) for _ in range(3)]).double()
    return trunk, heads


def initial_parameters() -> list[float]:
    trunk, heads = make_model()
    return torch.cat([p.detach().reshape(-1) for p in [*trunk.parameters(), *heads.parameters()]]).tolist()


def train(agg_name: str, backend: str, rank: int, world: int, comm: str = "auto") -> list[float]:
    trunk, heads = make_model()
    agg = make_aggregator(agg_name)
    own = [] if isinstance(agg, list) else list(agg.parameters())  # uw: its log-variances too
    params = [*trunk.parameters(), *heads.parameters(), *own]
    groups = [trunk[0], trunk[2]] if agg_name.endswith("-groups") else None
    for step in range(STEPS):
        g = torch.Generator().manual_seed(1000 + step)
        x = torch.randn(BATCH, 5, generator=g, dtype=torch.float64)
        ys = torch.randn(BATCH, 3, generator=g, dtype=torch.float64) + x[:, :3] * torch.tensor([1.0, -1.0, 0.5],
                                                                                                dtype=torch.float64)
        local = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
        z = trunk(x[local])
        losses = [nn.functional.mse_loss(h(z).squeeze(1), ys[local, i]) for i, h in enumerate(heads)]
        for p in params:
            p.grad = None
        mtlkit.backward(losses, trunk, agg, backend=backend, representation=z, task_params=heads, groups=groups,
                        comm=comm, block_numel=40 if agg_name.endswith("-blocks") else 1 << 27)
        with torch.no_grad():
            for p in params:
                p -= 0.1 * p.grad
            if not isinstance(agg, list):  # FAMO learns from the losses after the step (averaged over ranks)
                z = trunk(x[local])
                mtlkit.after_step(agg, [nn.functional.mse_loss(h(z).squeeze(1), ys[local, i])
                                        for i, h in enumerate(heads)])
    return torch.cat([p.detach().reshape(-1) for p in params]).tolist()


# ``dist_worker.py OUT amp``: one step with ``grad_scale`` (float32 model). "none": a normal step; "trunk": the
# last rank's task-0 loss ×1e36 (finite, but its scaled gradient overflows everywhere it reaches); "head": the same
# only through head 0 (the trunk's columns stay finite, the heads' shard of a sharded J lies on the last rank).
AMP_COMBOS = [("nash", "jacobian", "allreduce"), ("nash", "jacobian", "sharded"), ("upgrad", "gramian", "allreduce"),
              ("upgrad", "gramian", "sharded"), ("upgrad", "representation", "auto")]
AMP_BAD = ("none", "trunk", "head")
AMP_SCALE = 2.0**16


def amp_step(agg_name: str, backend: str, rank: int, world: int, comm: str = "auto", bad: str = "none",
             grad_scale: float | None = AMP_SCALE) -> dict[str, Any]:
    """.grad of every parameter after one ``mtlkit.backward`` with ``grad_scale`` (a tensor on the jacobian
    backend, a float elsewhere), whether it skipped, and the aggregator's step count afterwards."""
    trunk, heads = make_model()
    trunk, heads = trunk.float(), heads.float()
    agg = make_aggregator(agg_name)
    assert not isinstance(agg, list)
    g = torch.Generator().manual_seed(2000)
    x = torch.randn(BATCH, 5, generator=g)
    ys = torch.randn(BATCH, 3, generator=g)
    local = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
    z = trunk(x[local])
    losses = [nn.functional.mse_loss(h(z).squeeze(1), ys[local, i]) for i, h in enumerate(heads)]
    if rank == world - 1 and bad == "trunk":
        losses[0] = losses[0] * 1e36
    if rank == world - 1 and bad == "head":
        losses[0] = losses[0] + 1e36 * heads[0](z.detach()).mean()
    scale: float | torch.Tensor | None = grad_scale
    if grad_scale is not None and backend == "jacobian":
        scale = torch.tensor(grad_scale)
    result = mtlkit.backward(losses, trunk, agg, backend=backend, representation=z, task_params=heads, comm=comm,
                             grad_scale=scale)
    params = [*trunk.parameters(), *heads.parameters()]
    state = agg.get_extra_state() if agg_name == "nash" else {}
    return {"grad": torch.cat([p.grad.reshape(-1) for p in params]).tolist(), "skipped": result.skipped,
            "step": int(state.get("step", -1))}


def main() -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    sent = {"n": 0.0}  # numbers this rank sends: ring all-reduce of n: 2n(W-1)/W; all-to-all of n: n(W-1)/W

    def counting(fn: Callable[..., Any], all_to_all: bool) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if all_to_all:
                sent["n"] += args[1].numel() * (world - 1) / world
            else:
                sent["n"] += 2 * args[0].numel() * (world - 1) / world
            return fn(*args, **kwargs)
        return wrapped

    dist.all_reduce = counting(dist.all_reduce, all_to_all=False)
    dist.all_to_all_single = counting(dist.all_to_all_single, all_to_all=True)
    if sys.argv[2:] == ["amp"]:
        amp = {f"{a}/{b}/{c}/{bad}": amp_step(a, b, rank, world, comm=c, bad=bad) for a, b, c in AMP_COMBOS
               for bad in AMP_BAD}
        with open(f"{sys.argv[1]}/rank{rank}.json", "w") as fh:
            json.dump(amp, fh)
        dist.destroy_process_group()
        return
    three = sys.argv[2:] == ["comm"]
    results = {} if three else {f"{a}/{b}": train(a, b, rank, world) for a, b in COMBOS}
    for a, b, c in THREE_RANK_COMBOS if three else COMM_COMBOS:
        before = sent["n"]
        results[f"{a}/{b}/{c}"] = train(a, b, rank, world, comm=c)
        results[f"{a}/{b}/{c}/numbers"] = [float(sent["n"] - before)]
    with open(f"{sys.argv[1]}/rank{rank}.json", "w") as fh:
        json.dump(results, fh)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
