"""The aggregator contract (mtlkit.testing) over every registered aggregator, plugins included, plus checks
that the suite itself catches broken aggregators."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

import mtlkit
from mtlkit import Aggregator, Properties, Weighting, check_gramian
from mtlkit.testing import (
    AggregatorContract,
    ContractError,
    check_aggregator,
    check_determinism,
    check_finite,
    check_non_conflicting,
    check_permutation_invariance,
    check_state,
)


class TestEveryRegisteredAggregator(AggregatorContract):
    aggregators = None  # every name in mtlkit.list_aggregators()


@pytest.mark.parametrize(
    ("name", "options"),
    [("nash", {"max_norm": None}), ("nash", {"update_every": 3}), ("aligned", {"reduction": "mean"}),
     ("aligned", {"scale_mode": "rmse"}), ("aligned", {"scale_mode": "median"}), ("linear", {"weights": [1.0]})],
)
def test_builtin_options_keep_the_contract(name, options):
    if name not in {info.name for info in mtlkit.list_aggregators()}:
        pytest.skip(f"{name!r} is not registered")
    failures = check_aggregator(name, **options)
    if options == {"weights": [1.0]}:  # fixed weights only fit K = 1: the suite must notice
        assert any("linear aggregator has 1 weights" in f for f in failures), failures
    else:
        assert failures == []


def test_every_builtin_is_covered():
    names = {info.name for info in mtlkit.list_aggregators()}
    assert "linear" in names
    assert check_aggregator("linear") == []


# --- the suite catches what it should ----------------------------------------------------------------------------


class _ClaimsNonConflicting(Weighting):
    """Plain sum that wrongly claims to be non-conflicting."""

    name = "bad-nc"
    properties = Properties(non_conflicting=True)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        return torch.ones(check_gramian(G).shape[0], dtype=torch.float64)


class _OrderDependent(Weighting):
    """Weights 1, 2, …, K: not permutation-invariant although the default Properties say so."""

    name = "bad-perm"

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        return torch.arange(1, check_gramian(G).shape[0] + 1, dtype=torch.float64)


class _DividesByNorm(Weighting):
    """1/‖g_i‖ weights: NaN on a zero row."""

    name = "bad-finite"

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        return 1 / check_gramian(G).diagonal().sqrt()


class _HiddenState(Aggregator):
    """Claims to be stateless but averages with the previous update."""

    name = "bad-state"

    def __init__(self) -> None:
        super().__init__()
        self.previous: Tensor | None = None

    def __call__(self, J: Tensor, losses: Tensor | None = None) -> Tensor:
        if J.dim() != 2:
            raise ValueError("expected (K, P)")
        u = J.sum(0)
        if self.previous is not None and self.previous.shape == u.shape:
            u = 0.5 * (u + self.previous)
        self.previous = u
        return u


class _GlobalRandom(Weighting):
    """Random weights drawn from the global RNG although a generator is passed."""

    name = "bad-rng"
    properties = Properties(randomised=True)

    def __init__(self, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.generator = generator

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        return torch.rand(check_gramian(G).shape[0], dtype=torch.float64)


class _UnsavedState(Weighting):
    """Running mean of the Gramian's diagonal that state_dict() forgets to save."""

    name = "bad-state-dict"
    properties = Properties(stateful=True)

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        self.mean: Tensor | None = None

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        d = check_gramian(G).diagonal()
        self.mean = d if self.mean is None or self.mean.shape != d.shape else 0.5 * (self.mean + d)
        return 1 / self.mean.clamp_min(1e-30).sqrt()


@pytest.mark.parametrize(
    ("cls", "check", "match"),
    [
        (_ClaimsNonConflicting, check_non_conflicting, "non-conflicting"),
        (_OrderDependent, check_permutation_invariance, "permutation invariance"),
        (_DividesByNorm, check_finite, "non-finite"),
        (_HiddenState, check_state, "earlier calls changed the output"),
        (_GlobalRandom, check_determinism, "global torch RNG"),
        (_UnsavedState, check_state, "did not reproduce the next update"),
    ],
)
def test_suite_catches_broken_aggregators(cls, check, match):
    with pytest.raises(ContractError, match=match):
        check(cls)


def test_check_aggregator_reports_instead_of_raising():
    failures = check_aggregator(_OrderDependent)
    assert len(failures) == 1
    assert "permutation invariance" in failures[0]
