"""One GCDance training step per aggregator and mtlkit backend, as a ratio to the plain linear step.

For each model preset (``small``, ``paper``) it builds the denoiser (music 705-D = Wav2CLIP ‖ STFT, genre
embedding 384-D), a text-classifier head (384 → 16) and an AdamW optimiser, and times, in the same run, a full
step (forward, the five task losses [S, J, V, F, C], backward, optimiser step) with:

* ``linear (plain)``: EDGE's weighted sum, one ordinary ``backward`` — the baseline every ratio refers to;
* each aggregator (linear, nash, aligned, pcgrad) through ``mtlkit.backward`` with each backend
  (jacobian, gramian, representation — the last on the outputs x̂0 and genre logits, as ``--shared
  representation`` trains);
* with cvxpy installed, an *official-style* Nash-MTL step as the original Nash-MTL code takes it: K
  ``autograd.grad`` calls over the shared parameters (one per element of the stacked loss vector), the
  normalised Gramian, the cvxpy/ECOS sequential-convex Nash solve (20 outer iterations, warm-started), then an
  ordinary backward of ``Σ α_i L_i``.

Random inputs (4 batches of 120-frame windows, used in turn); the best of ``repeats`` interleaved rounds after
one warm-up step (minimum, not median: robust to load from other processes). Targets: nash with the
representation backend ≤ 1.25× the linear step; ≥ 4× faster than the official-style step.

    python benchmarks/train_step.py [--presets small paper] [--batch 8] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

import mtlkit
from dancegen.diffusion import DiffusionScheduler
from dancegen.losses import EDGE_WEIGHTS, TASKS, task_loss_terms
from dancegen.model import GCDanceDenoiser, ModelConfig
from dancegen.motion import Skeleton

AGGREGATORS = ("linear", "nash", "aligned", "pcgrad")
BACKENDS = ("jacobian", "gramian", "representation")


class Setup:
    """Model, head, optimiser and a few fixed random batches, used in turn: the Gramian changes from one step to
    the next as in training, so no solver's warm start is already the answer."""

    def __init__(self, preset: str, batch: int, seed: int = 0, n_batches: int = 4) -> None:
        torch.manual_seed(seed)
        self.model = GCDanceDenoiser(ModelConfig.preset(preset, music_dim=705, genre_dim=384, dropout=0.0))
        self.head = nn.Sequential(nn.Linear(384, 256), nn.GELU(), nn.Linear(256, 16))
        self.params = [*self.model.parameters(), *self.head.parameters()]
        self.opt = torch.optim.AdamW(self.params, lr=1e-5, weight_decay=0.02)
        self.sched = DiffusionScheduler()
        self.skeleton = Skeleton.default()
        g = torch.Generator().manual_seed(seed)
        self.batches = [self._batch(batch, g) for _ in range(n_batches)]
        self.calls = 0
        self.w = torch.tensor([EDGE_WEIGHTS.get(t, 1.0) for t in TASKS])

    @staticmethod
    def _batch(batch: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        x0 = torch.rand(batch, 120, 319, generator=g) * 2 - 1
        x0[..., :4] = (x0[..., :4] > 0).float()
        return {"x0": x0, "t": torch.randint(0, 1000, (batch,), generator=g),
                "noise": torch.randn(x0.shape, generator=g), "music": torch.randn(batch, 120, 705, generator=g),
                "genre": torch.randn(batch, 384, generator=g), "text": torch.randn(batch, 384, generator=g),
                "labels": torch.randint(0, 16, (batch,), generator=g), "drop": torch.rand(batch, generator=g) < 0.25}

    def forward(self) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """The five task losses as separate scalars (as ``dancegen train`` passes them), x̂0 and the logits."""
        b = self.batches[self.calls % len(self.batches)]
        self.calls += 1
        x_t = self.sched.add_noise(b["x0"], b["noise"], b["t"])
        pred = self.model(x_t, b["t"], b["music"], b["genre"], b["drop"])
        logits = self.head(b["text"])
        terms = task_loss_terms(pred, b["x0"], self.skeleton, logits, b["labels"])
        return list(terms.values()), pred, logits

    def finish(self) -> None:
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)


def plain_step(s: Setup) -> None:
    losses, _, _ = s.forward()
    (s.w * torch.stack(losses)).sum().backward()
    s.finish()


def mtl_step(s: Setup, agg: mtlkit.Aggregator, backend: str) -> None:
    losses, pred, logits = s.forward()
    kwargs = {"representation": [pred, logits]} if backend == "representation" else {}
    mtlkit.backward(losses, s.params, agg, backend=backend, **kwargs)
    s.finish()


class CvxpyNash:
    """Nash bargaining weights by the sequential convex programme of the original Nash-MTL code (cvxpy + ECOS,
    at most 100 solver iterations, 20 outer iterations, warm start, the same stopping rule), reimplemented."""

    def __init__(self, k: int, iterations: int = 20) -> None:
        import cvxpy as cp

        self.k, self.iterations = k, iterations
        self.solver = cp.ECOS if "ECOS" in cp.installed_solvers() else None
        self.alpha = cp.Variable(k, nonneg=True)
        self.prev = cp.Parameter(k, value=np.ones(k))
        self.G = cp.Parameter((k, k), value=np.eye(k))
        self.scale = cp.Parameter(1, value=np.ones(1))
        g_alpha = self.G @ self.alpha
        g_prev = self.G @ self.prev
        tangent = 1 / self.prev + (1 / g_prev) @ self.G  # gradient of φ(α) = Σ log α_i + log (Gα)_i at prev
        phi = tangent @ (self.alpha - self.prev)
        constraints = [-cp.log(self.alpha[i] * self.scale) - cp.log(g_alpha[i]) <= 0 for i in range(k)]
        self.problem = cp.Problem(cp.Minimize(cp.sum(g_alpha) + phi / self.scale), constraints)
        self.last = np.ones(k)

    def __call__(self, G: np.ndarray, scale: float) -> np.ndarray:
        """Weights for the normalised Gramian ``G`` (= GᵀG / ‖GᵀG‖) and its normalisation factor."""
        self.G.value, self.scale.value = G, np.array([scale])
        alpha = self.last
        for _ in range(self.iterations):
            self.alpha.value, self.prev.value = alpha, alpha
            try:
                self.problem.solve(solver=self.solver, warm_start=True, **({"max_iters": 100} if self.solver else {}))
            except Exception:
                self.alpha.value = alpha
            new = self.alpha.value
            if (new is None or np.linalg.norm(G @ alpha - 1 / (alpha + 1e-10)) < 1e-3
                    or np.linalg.norm(new - alpha) < 1e-6):
                break
            alpha = new
        self.last = alpha
        return alpha


def official_step(s: Setup, solver: CvxpyNash) -> None:
    """The original Nash-MTL step: the losses stacked into one tensor, one ``autograd.grad`` per element (each
    traverses the union of all task graphs), the Gramian normalised by its norm, the cvxpy solve, then an ordinary
    backward of Σ α_i L_i and the update clipped to ``max_norm`` 1."""
    terms, _, _ = s.forward()
    losses = torch.stack(terms)
    grads = []
    for loss in losses:
        g = torch.autograd.grad(loss, s.params, retain_graph=True, allow_unused=True)
        grads.append(torch.cat([(x if x is not None else torch.zeros_like(p)).reshape(-1)
                                for x, p in zip(g, s.params)]))
    J = torch.stack(grads)
    gtg = J @ J.T
    scale = float(torch.linalg.norm(gtg))
    alpha = torch.from_numpy(solver((gtg / scale).double().numpy(), scale)).float()
    sum(losses[i] * alpha[i] for i in range(len(alpha))).backward()
    s.finish()


def interleaved(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Best (minimum) wall time of each function: one warm-up call each, then ``repeats`` rounds that call every
    function twice in a row and time the second call, so a burst of load from other processes hits all variants
    alike and no variant pays for the memory its predecessor freed."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for key, fn in fns.items():
            fn()  # untimed: let the allocator settle after the previous variant's (possibly huge) buffers
            t0 = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", nargs="+", default=["small", "paper"])
    ap.add_argument("--batch", type=int, nargs="+", default=[16, 4], help="batch size per preset")
    ap.add_argument("--repeats", type=int, nargs="+", default=[5, 2], help="timed repeats per preset")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS))
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message=".*not DPP.*")  # the original formulation is not DPP either
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        import cvxpy  # noqa: F401
        have_cvxpy = True
    except ImportError:
        have_cvxpy = False
    for k, preset in enumerate(args.presets):
        batch = args.batch[min(k, len(args.batch) - 1)]
        repeats = args.repeats[min(k, len(args.repeats) - 1)]
        s = Setup(preset, batch)
        n = sum(p.numel() for p in s.params)
        print(f"\n## preset {preset}: {n / 1e6:.1f}M parameters, batch {batch}, {repeats} repeats, "
              f"{torch.get_num_threads()} threads")
        fns: dict[tuple[str, str], Callable[[], None]] = {("linear (plain backward)", "-"): lambda s=s: plain_step(s)}
        for name in AGGREGATORS:
            opts = {"weights": s.w.tolist()} if name == "linear" else {"seed": 0} if name == "pcgrad" else {}
            for backend in args.backends:
                agg = mtlkit.get_aggregator(name, **opts)
                fns[(name, backend)] = lambda s=s, a=agg, b=backend: mtl_step(s, a, b)
        if have_cvxpy:
            solver = CvxpyNash(len(TASKS))
            fns[("nash official-style (K grads + cvxpy)", "-")] = lambda s=s, o=solver: official_step(s, o)
        best = interleaved(fns, repeats)
        base = best[("linear (plain backward)", "-")]
        rows = [(name, backend, sec) for (name, backend), sec in best.items()]
        print("\n| aggregator | backend | step (ms) | × linear |\n|---|---|---:|---:|")
        for name, backend, sec in rows:
            print(f"| {name} | {backend} | {sec * 1e3:.0f} | {sec / base:.2f} |")
        nash_rep = next((sec for name, b, sec in rows if name == "nash" and b == "representation"), None)
        if nash_rep is not None:
            print(f"\nnash + representation: {nash_rep / base:.2f}× linear (target ≤ 1.25)")
            if have_cvxpy:
                print(f"official-style / nash + representation: {rows[-1][2] / nash_rep:.1f}× (target ≥ 4)")
        else:
            print("\n(cvxpy not installed: no official-style step)" if not have_cvxpy else "")


if __name__ == "__main__":
    main()
