"""Base classes. Every method is a ``torch.nn.Module`` (learnable weights are its parameters, solver state its
``state_dict``):

- :class:`Aggregator` maps the K×P Jacobian to one (P,) update;
- :class:`Weighting` maps the K×K Gramian to K weights, the update being ``Jᵀw``;
- :class:`LossWeighting` (in ``_loss_weighting``) maps the K losses to K weights with no per-task gradient.
"""

from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

NEEDS = frozenset({"gramian", "jacobian", "losses"})
_CHECKS = {"enabled": True}


def set_input_checks(enabled: bool) -> bool:
    """Turn the finiteness check on every method's input on or off; returns the previous setting.

    The check is the one device→host synchronisation of a call (a single boolean); the weight solvers add none
    on CUDA. Turn it off only for throughput when inputs are known to be finite: non-finite inputs then give
    non-finite weights instead of an error.
    """
    previous = _CHECKS["enabled"]
    _CHECKS["enabled"] = bool(enabled)
    return previous


def input_checks_enabled() -> bool:
    """Whether :func:`set_input_checks` left the finiteness checks on (the default)."""
    return _CHECKS["enabled"]


@dataclass(frozen=True)
class Properties:
    """What an aggregator declares about itself; the contract suite checks every claim.

    Attributes:
        non_conflicting: ``J @ update >= -tol`` element-wise for every input.
        permutation_invariant: permuting the rows of J leaves the update unchanged.
        stateful: keeps state between calls (saved by ``state_dict``).
        randomised: draws random numbers (from the ``generator`` it is given).
        needs: the inputs it reads, a subset of {"gramian", "jacobian", "losses"}. ``{"gramian"}`` means it can
            run on the gramian and representation backends; ``{"losses"}`` means one plain backward of
            ``Σ w_i L_i`` (no per-task gradient at all).
        learnable: has parameters that the user's optimiser trains (``method.parameters()``).
    """

    non_conflicting: bool = False
    permutation_invariant: bool = True
    stateful: bool = False
    randomised: bool = False
    needs: frozenset[str] = field(default_factory=lambda: frozenset({"gramian"}))
    learnable: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.needs) - NEEDS
        if unknown or not self.needs:
            raise ValueError(f"needs must be a non-empty subset of {sorted(NEEDS)}, got {sorted(self.needs)}")

    @property
    def gramian_based(self) -> bool:
        """True when the aggregator needs only the Gramian (and possibly the losses)."""
        return "jacobian" not in self.needs

    @property
    def loss_based(self) -> bool:
        """True when the aggregator needs only the losses (no per-task gradient)."""
        return set(self.needs) == {"losses"}

    @property
    def kind(self) -> str:
        """``"losses"``, ``"gramian"`` or ``"jacobian"``: the cheapest input the method can work from."""
        return "losses" if self.loss_based else "gramian" if self.gramian_based else "jacobian"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view."""
        return {
            "kind": self.kind,
            "non_conflicting": self.non_conflicting,
            "permutation_invariant": self.permutation_invariant,
            "stateful": self.stateful,
            "randomised": self.randomised,
            "learnable": self.learnable,
            "needs": sorted(self.needs),
        }


def check_jacobian(J: Tensor) -> None:
    """A (K, P) floating-point tensor with K, P ≥ 1 (ValueError / TypeError otherwise)."""
    if not isinstance(J, Tensor):
        raise TypeError(f"expected the Jacobian as a torch.Tensor, got {type(J).__name__}")
    if J.dim() != 2:
        raise ValueError(f"expected a (K, P) Jacobian, got shape {tuple(J.shape)}")
    if not J.is_floating_point():
        raise TypeError(f"expected a floating-point Jacobian, got {J.dtype} (cast it with .float())")
    if J.shape[0] == 0:
        raise ValueError("expected at least one task (K >= 1), got an empty Jacobian")


def gramian(J: Tensor) -> Tensor:
    """``G = J Jᵀ`` in float64, formed without overflow or underflow.

    The K×P product runs in J's dtype (float32 for fp16/bf16 input). When it overflows (fp16 entries of a few
    hundred, float32 entries near 1e20) or a non-zero row's squared norm underflows to 0 (float32 entries near
    1e-25), it is formed again from the rows scaled by powers of two ``s_i`` near ``max_j |J_ij|`` (exact in
    binary floating point): ``G = S (S⁻¹J)(S⁻¹J)ᵀ S``. With input checks off (:func:`set_input_checks`) the
    scaled form is always used off the CPU, so that no device→host synchronisation happens. Non-finite entries of
    J give a non-finite Gramian (rejected by :func:`check_gramian`).
    """
    check_jacobian(J)
    work = J if J.dtype in (torch.float32, torch.float64) else J.float()
    if _CHECKS["enabled"] or work.device.type == "cpu":  # on the CPU reading G costs no synchronisation
        G = (work @ work.T).double()
        # finite entries and a positive diagonal, read in one transfer (a float64 sum of a float32 product cannot
        # overflow; for float64 input an overflowing sum only sends G to the exact scaled form below)
        total, smallest = torch.stack((G.sum(), G.diagonal().min())).tolist()
        if math.isfinite(total) and smallest > 0:
            return G
    amax = work.detach().abs().amax(dim=1)
    # 2^-floor(log2 max_i) brings row i into [1, 2); a zero or non-finite row is left as it is.
    exponent = torch.where(torch.isfinite(amax) & (amax > 0), torch.floor(torch.log2(amax)), torch.zeros_like(amax))
    scaled = work * torch.exp2(-exponent)[:, None]
    s = torch.exp2(exponent.double())
    return (scaled @ scaled.T).double() * s[:, None] * s[None, :]


def check_gramian_shape(G: Tensor) -> None:
    """A square (K, K) floating-point tensor with K >= 1 (TypeError / ValueError otherwise); no data is read."""
    if not isinstance(G, Tensor):
        raise TypeError(f"expected the Gramian as a torch.Tensor, got {type(G).__name__}")
    if G.dim() != 2 or G.shape[0] != G.shape[1] or G.shape[0] == 0:
        raise ValueError(f"expected a square (K, K) Gramian with K >= 1, got shape {tuple(G.shape)}")
    if not G.is_floating_point():
        raise TypeError(f"expected a floating-point Gramian, got {G.dtype}")


def check_gramian(G: Tensor) -> Tensor:
    """Validate a (K, K) Gramian and return it as float64 (symmetrised)."""
    check_gramian_shape(G)
    if _CHECKS["enabled"] and not bool(torch.isfinite(G).all()):
        raise ValueError("the Gramian contains NaN or Inf (a task gradient is not finite)")
    G = G.double()
    return 0.5 * (G + G.T)


class _AggregatorMeta(ABCMeta, type(nn.Module)):  # type: ignore[misc]
    """ABC checks on an nn.Module."""


class Aggregator(nn.Module, metaclass=_AggregatorMeta):
    """Maps a (K, P) Jacobian to a (P,) update of the same dtype and device: ``update = method(J, losses)``.

    Subclasses set ``name`` and ``properties`` and implement :meth:`forward`. After each call ``diagnostics``
    holds what the method reports (solver iterations, residual, whether G was regularised, ...). Solver state
    (warm starts, step counters, running statistics) lives in ``state_dict()`` next to any parameters, through
    ``get_extra_state``/``set_extra_state``.
    """

    name: ClassVar[str] = ""
    properties: ClassVar[Properties] = Properties()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Aggregators written for mtlkit 0.1 implement ``__call__``: it becomes their ``forward``.
        super().__init_subclass__(**kwargs)
        if "__call__" in cls.__dict__ and "forward" not in cls.__dict__:
            cls.forward = cls.__dict__["__call__"]  # type: ignore[method-assign]
            del cls.__call__

    def __init__(self) -> None:
        super().__init__()
        self.diagnostics: dict[str, Any] = {}

    @abstractmethod
    def forward(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        """Aggregate the rows of ``J`` (K, P) into one update (P,)."""

    def after_step(self, losses: Tensor) -> None:
        """Hook for methods that learn from the losses after the optimiser step (FAMO); no-op by default.

        Call it with the losses of the same batch re-evaluated after ``optimizer.step()``.
        """

    def reset(self) -> None:
        """Forget any state (stateless methods: nothing to do)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def check_finite_update(update: Tensor) -> Tensor:
    """Reject a non-finite update with the same message as a non-finite Gramian (for methods without one)."""
    # A finite sum means finite entries (NaN and ±Inf propagate): one fast pass, ~100× faster than
    # isfinite(update).all(). A non-finite sum may also be an overflow: then min and max decide.
    if (_CHECKS["enabled"] and update.numel() and not math.isfinite(update.sum().item())
            and not bool(torch.isfinite(torch.stack(torch.aminmax(update))).all())):
        raise ValueError("the Jacobian contains NaN or Inf (a task gradient is not finite)")
    return update


class Weighting(Aggregator):
    """A Gramian-based aggregator: ``update = Jᵀ weights(J Jᵀ)``.

    Subclasses implement :meth:`weights` on a float64 (K, K) Gramian and return float64 (K,) weights.
    """

    @abstractmethod
    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        """Weights (K,) for the Gramian ``G`` (K, K): float64 on G's device."""

    def forward(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        w = self.weights(gramian(J), losses)
        return w.to(dtype=J.dtype, device=J.device) @ J
