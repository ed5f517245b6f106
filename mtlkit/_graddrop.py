"""GradDrop (Chen et al., "Just Pick a Sign: Optimizing Deep Multitask Models with Gradient Sign Dropout",
NeurIPS 2020, Algorithm 1 lines 10–15), matched to torchjd 0.18's ``GradDrop``.

Per coordinate, the positive sign purity ``𝒫 = ½ (1 + Σ_i g_i / Σ_i |g_i|)`` says how much the tasks agree on
the sign. One uniform draw ``U`` per coordinate keeps the positive entries where ``f(𝒫) > U`` and the negative
ones where ``f(𝒫) < U`` (masks ``M_i``); the update is ``Σ_i (ℓ_i + (1 − ℓ_i) M_i) g_i`` with the leak ``ℓ``
(default 0). It needs the Jacobian (the masks are per coordinate).

With ``ℓ = 0`` only the sums of the positive and of the negative entries matter, ``½(S ± A)`` with
``S = Σ_i g_i`` and ``A = Σ_i |g_i|``: the update is ``[f(𝒫) > U]·½(S + A) + [f(𝒫) < U]·½(S − A)``, two passes
over J instead of torchjd's K masked ones. The draws come from the method's own generator, in float64 on its
device (with the same seed, torchjd's draws from the global RNG agree for a float64 Jacobian on the CPU).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ._aggregator import Aggregator, Properties, check_jacobian, input_checks_enabled
from ._random import private_generator


def _identity(purity: Tensor) -> Tensor:
    return purity


class GradDrop(Aggregator):
    """GradDrop: per coordinate, keep the positive or the negative task-gradient entries at random, with
    probability given by how much the tasks agree on the sign.

    Args:
        f: applied to the sign purity 𝒫 (a (P,) tensor in [0, 1]); monotonically increasing. Default: identity.
        leak: one number per task in [0, 1]: how much of that task's gradient always passes (default: none).
        generator: the source of the uniform draws (any device). None: a private generator.
        seed: seed a private generator instead (not with ``generator``); with neither, it is seeded
            non-deterministically.

    ``diagnostics``: ``kept_positive`` (the fraction of coordinates keeping the positive entries).
    """

    name = "graddrop"
    properties = Properties(
        non_conflicting=False, permutation_invariant=True, stateful=False, randomised=True,
        needs=frozenset({"jacobian"}),
    )

    def __init__(self, f: Callable[[Tensor], Tensor] | None = None, leak: Sequence[float] | Tensor | None = None,
                 generator: torch.Generator | None = None, seed: int | None = None) -> None:
        super().__init__()
        if f is not None and not callable(f):
            raise TypeError(f"f must be callable, got {type(f).__name__}")
        self.f = f or _identity
        if leak is not None:
            if isinstance(leak, Tensor):
                if leak.dim() != 1:
                    raise ValueError(f"leak must be a vector (1-D), got shape {tuple(leak.shape)}")
                leak = leak.tolist()
            leak = [float(v) for v in leak]
            if not leak or not all(0.0 <= v <= 1.0 for v in leak):
                raise ValueError(f"leak must be a non-empty list of numbers in [0, 1], got {leak}")
        self.leak = leak
        self.generator = private_generator(generator, seed, "GradDrop")
        self.seed = seed

    def forward(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        check_jacobian(J)
        K, P = J.shape
        if self.leak is not None and len(self.leak) != K:
            raise ValueError(f"graddrop: leak has {len(self.leak)} entries but got {K} tasks")
        work = J if J.dtype in (torch.float32, torch.float64) else J.float()
        ones = torch.ones(K, dtype=work.dtype, device=J.device)
        absolute = work.abs()
        S, A = ones @ work, ones @ absolute  # Σ g_i and Σ |g_i| (matrix-vector products: faster than sum(0))
        # A = Σ|g_i| ≥ 0 is finite iff every entry is (NaN propagates through max), unless the sum overflows
        if (input_checks_enabled() and not bool(torch.isfinite(A.amax()))
                and not bool(torch.isfinite(torch.stack(torch.aminmax(work))).all())):
            raise ValueError("the Jacobian contains NaN or Inf (a task gradient is not finite)")
        purity = 0.5 * (1.0 + S / A)  # NaN where a column is all zero: both masks are then off
        if self.leak is not None:  # the masked part is Σ (1 − ℓ_i) M_i g_i, plus Σ ℓ_i g_i
            leak = torch.tensor(self.leak, dtype=work.dtype, device=J.device)
            S, A = (1.0 - leak) @ work, (1.0 - leak) @ absolute
        del absolute
        fp = self.f(purity)
        U = torch.rand(P, generator=self.generator, dtype=torch.float64, device=self.generator.device).to(J.device)
        keep_pos, keep_neg = fp > U, fp < U
        # ½(S + A) where the positive entries are kept, ½(S − A) where the negative ones are, 0 elsewhere (in place)
        update = (S + A).mul_(0.5).mul_(keep_pos).add_((S - A).mul_(0.5).mul_(keep_neg))
        if self.leak is not None:
            update = update + leak @ work
        self.diagnostics = {"kept_positive": keep_pos.sum() / P}  # a 0-d tensor (no host read)
        return update.to(J.dtype)

    def __repr__(self) -> str:
        options = [] if self.f is _identity else [f"f={self.f!r}"]
        options += [] if self.leak is None else [f"leak={self.leak}"]
        options += [] if self.seed is None else [f"seed={self.seed}"]
        return f"GradDrop({', '.join(options)})"
