"""The aggregator contract: checks every aggregator must pass, and every property it claims.

A plugin author runs it in three lines (pytest collects the ``Test*`` subclass)::

    from mtlkit.testing import AggregatorContract

    class TestMyAggregatorContract(AggregatorContract):
        aggregators = ("mine",)          # registered names, or Aggregator subclasses

Without pytest: ``check_aggregator("mine")`` returns the list of violations (empty when it passes).

Tolerances are relative: an inner product or a difference of updates may be off by
``rtol(dtype, K, P) * S`` where ``S = Σ_j |w_j| ‖g_j‖`` bounds the magnitude of every term of ``Jᵀw`` (for a
:class:`~mtlkit.Weighting`, with ``w = weights(G)``) or ``S = ‖update‖`` for other aggregators, and
``rtol = 8 (K + P) eps(dtype) + solver_rtol``: rounding in the length-K and length-P sums of J's dtype, plus
an allowance (default 1e-8, about √eps of float64) for iterative float64 weight solvers.

Loss-based methods (``needs == {"losses"}``) get a loss vector with every Jacobian; learnable ones (sized for
one K) are called with one K per instance.

Randomised aggregators take their randomness from a ``generator: torch.Generator | None`` constructor option
(None: a fresh unseeded generator, never the global RNG); the suite passes seeded generators.
This module is not imported by ``import mtlkit`` and does not need pytest except for :class:`AggregatorContract`.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch import Tensor

from ._aggregator import Aggregator, Properties, Weighting, gramian
from ._aggregator_plugins import AGGREGATORS

SOLVER_RTOL = 1e-8
DTYPES = (torch.float32, torch.float64)
_MAX_REPORTED = 5


class ContractError(AssertionError):
    """An aggregator broke the contract or a property it claims (the message lists the failing cases)."""


@dataclass
class Subject:
    """What the suite tests: an aggregator class plus how to build fresh instances of it."""

    cls: type[Aggregator]
    label: str
    options: Mapping[str, Any] = field(default_factory=dict)
    solver_rtol: float = SOLVER_RTOL

    @property
    def properties(self) -> Properties:
        return self.cls.properties

    def build(
        self, seed: int | None = 0, device: str | torch.device = "cpu", generator: torch.Generator | None = None
    ) -> Aggregator:
        """A fresh instance; randomised ones get ``generator=`` (or one seeded with ``seed`` on ``device``)."""
        options = dict(self.options)
        if self.properties.randomised and (generator is not None or seed is not None):
            options["generator"] = generator if generator is not None else seeded(seed, device)  # type: ignore[arg-type]
        try:
            return self.cls(**options)
        except TypeError as exc:
            hint = " (randomised aggregators must accept generator=)" if "generator" in options else ""
            raise ContractError(f"{self.label}: cannot build with {sorted(options)}{hint}: {exc}") from None


def subject(spec: str | type[Aggregator] | Subject, **options: Any) -> Subject:
    """A :class:`Subject` from a registered name, an Aggregator subclass, or a Subject (returned as is)."""
    if isinstance(spec, Subject):
        return spec
    if isinstance(spec, str):
        return Subject(AGGREGATORS.get(spec).cls, spec, options)
    if isinstance(spec, type) and issubclass(spec, Aggregator):
        return Subject(spec, spec.name or spec.__name__, options)
    raise TypeError(f"expected a registered aggregator name or an Aggregator subclass, got {spec!r}")


def seeded(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def rtol(dtype: torch.dtype, K: int, P: int, solver_rtol: float = SOLVER_RTOL) -> float:
    """Relative tolerance for quantities computed from a (K, P) Jacobian of ``dtype`` (see module docstring)."""
    return 8 * (K + P) * torch.finfo(dtype).eps + solver_rtol


# --- inputs -----------------------------------------------------------------------------------------------------


def _randn(K: int, P: int, seed: int, dtype: torch.dtype) -> Tensor:
    return torch.randn(K, P, generator=seeded(seed), dtype=torch.float64).to(dtype)


def random_jacobians(dtype: torch.dtype) -> Iterator[tuple[str, Tensor]]:
    """Gaussian Jacobians of several shapes (some with conflicting rows), and rows of different scales."""
    for i, (K, P) in enumerate([(2, 3), (3, 20), (5, 12), (8, 40), (4, 2)]):
        yield f"gaussian K={K} P={P}", _randn(K, P, 100 + i, dtype)
    scales = torch.tensor([1e-3, 1.0, 1e3, 3.0], dtype=torch.float64)[:, None]
    yield "rows scaled 1e-3..1e3", (_randn(4, 10, 7, torch.float64) * scales).to(dtype)
    J = _randn(3, 10, 8, torch.float64)
    J[1] = -0.5 * J[0] + 0.1 * J[2]
    yield "strongly conflicting rows", J.to(dtype)


def adversarial_jacobians(dtype: torch.dtype) -> Iterator[tuple[str, Tensor]]:
    """Zero rows, duplicated rows, rank-1 (same and mixed signs), K = 1…64, entries 1e-15…1e15."""
    P = 16
    g = _randn(4, P, 1, torch.float64)
    yield "K=1", g[:1].to(dtype)
    yield "zero row", torch.cat([g[:2], torch.zeros(1, P, dtype=torch.float64)]).to(dtype)
    yield "all zero", torch.zeros(3, P, dtype=dtype)
    yield "duplicated rows", g[[0, 0, 1, 1, 1]].to(dtype)
    yield "opposite rows", torch.stack([g[0], -g[0]]).to(dtype)
    yield "rank-1 mixed signs", (torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=torch.float64)[:, None] * g[0]).to(dtype)
    yield "rank-1 same sign", (torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)[:, None] * g[0]).to(dtype)
    yield "orthonormal rows", torch.eye(5, P, dtype=dtype)
    yield "K=16", _randn(16, 48, 2, dtype)
    yield "K=64 > P", _randn(64, P, 3, dtype)
    yield "entries ~1e-15", (g * 1e-15).to(dtype)
    yield "entries ~1e15", (g * 1e15).to(dtype)
    scales = torch.tensor([1e-15, 1.0, 1e15], dtype=torch.float64)[:, None]
    yield "rows 1e-15, 1, 1e15", (g[:3] * scales).to(dtype)


def _losses(J: Tensor) -> Tensor:
    return torch.linspace(0.5, 2.0, J.shape[0], dtype=J.dtype, device=J.device)


# --- running one case ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One aggregation: the update, the weights (Weightings only) and the tolerance scale ``rtol * S``."""

    update: Tensor
    weights: Tensor | None
    tol_scale: float


def run(subj: Subject, J: Tensor, seed: int = 0, losses: Tensor | None = None) -> Outcome:
    """Aggregate ``J`` with a fresh instance; for Weightings also solve the weights on a fresh twin. Methods that
    read losses get ``losses`` (default: an increasing sequence, one per row of J)."""
    agg = subj.build(seed, J.device)
    if "losses" not in subj.properties.needs:
        losses = None
    elif losses is None:
        losses = _losses(J)
    update = agg(J, losses)
    weights = None
    if isinstance(agg, Weighting):
        twin = cast(Weighting, subj.build(seed, J.device))
        weights = twin.weights(gramian(J), losses)
    K, P = J.shape
    if weights is not None and torch.isfinite(weights).all():
        S = float((weights.double().abs().cpu() * J.double().norm(dim=1).cpu()).sum())
    else:
        S = float(update.double().norm())
    return Outcome(update, weights, rtol(J.dtype, K, P, subj.solver_rtol) * S)


def _fail(label: str, what: str, failures: list[str]) -> None:
    if failures:
        shown = "; ".join(failures[:_MAX_REPORTED])
        more = f" (+{len(failures) - _MAX_REPORTED} more)" if len(failures) > _MAX_REPORTED else ""
        raise ContractError(f"{label}: {what}: {shown}{more}")


def _devices() -> list[str]:
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


# --- the checks ---------------------------------------------------------------------------------------------------


def check_metadata(spec: str | type[Aggregator] | Subject) -> None:
    """``name``/``properties`` are declared, Gramian-only methods are Weightings, bad shapes raise ValueError."""
    subj = subject(spec)
    problems = []
    if not isinstance(subj.cls.name, str) or not subj.cls.name:
        problems.append("class attribute `name` must be a non-empty string")
    if not isinstance(subj.properties, Properties):
        problems.append("class attribute `properties` must be a mtlkit.Properties")
    elif subj.properties.gramian_based and not issubclass(subj.cls, Weighting):
        problems.append(f"needs={sorted(subj.properties.needs)} (no Jacobian) but the class is not a Weighting")
    agg = subj.build()
    if not isinstance(repr(agg), str):
        problems.append("repr() failed")
    for bad in (torch.ones(3), torch.ones(2, 3, 4)):
        try:
            agg(bad, torch.ones(2))
            problems.append(f"J of shape {tuple(bad.shape)} was accepted (expected ValueError)")
        except ValueError:
            pass
        except Exception as exc:
            problems.append(f"J of shape {tuple(bad.shape)} raised {type(exc).__name__}, expected ValueError")
    if isinstance(agg, Weighting):
        try:
            agg.weights(torch.ones(2, 3, dtype=torch.float64))
            problems.append("a non-square Gramian was accepted (expected ValueError)")
        except ValueError:
            pass
        except Exception as exc:
            problems.append(f"a non-square Gramian raised {type(exc).__name__}, expected ValueError")
    _fail(subj.label, "metadata", problems)


def check_shapes(spec: str | type[Aggregator] | Subject) -> None:
    """Output (P,) with J's dtype and device; ``weights(G)`` (K,) float64 on G's device, and ``Jᵀ weights(G)``
    equals the update."""
    subj = subject(spec)
    problems = []
    for device in _devices():
        for dtype in DTYPES:
            for K, P in [(1, 1), (1, 5), (2, 1), (3, 7), (5, 50)]:
                J = _randn(K, P, K * 100 + P, dtype).to(device)
                case = f"K={K} P={P} {dtype} {device}"
                out = run(subj, J)
                u = out.update
                if not isinstance(u, Tensor) or u.shape != (P,) or u.dtype != dtype or u.device != J.device:
                    got = (tuple(u.shape), u.dtype, u.device) if isinstance(u, Tensor) else type(u).__name__
                    problems.append(f"{case}: update is {got}, expected ({P},) {dtype} {device}")
                    continue
                w = out.weights
                if w is None:
                    continue
                if w.shape != (K,) or w.dtype != torch.float64 or w.device != J.device:
                    problems.append(f"{case}: weights(G) is {(tuple(w.shape), w.dtype, w.device)}, expected ({K},) "
                                    f"float64 {device}")
                    continue
                err = float((w.to(dtype) @ J - u).double().norm())
                if not err <= out.tol_scale:
                    problems.append(f"{case}: ‖Jᵀweights(G) − update‖ = {err:.3g} > {out.tol_scale:.3g}")
    _fail(subj.label, "shapes/dtypes/devices", problems)


def check_finite(spec: str | type[Aggregator] | Subject) -> None:
    """Finite updates (and weights) on adversarial Jacobians in float32 and float64."""
    subj = subject(spec)
    problems = []
    for dtype in DTYPES:
        for case, J in adversarial_jacobians(dtype):
            try:
                out = run(subj, J)
            except Exception as exc:
                problems.append(f"{case} {dtype}: raised {type(exc).__name__}: {exc}")
                continue
            if not torch.isfinite(out.update).all():
                problems.append(f"{case} {dtype}: non-finite update")
            if out.weights is not None and not torch.isfinite(out.weights).all():
                problems.append(f"{case} {dtype}: non-finite weights {out.weights.tolist()}")
    _fail(subj.label, "finite outputs", problems)


def check_determinism(spec: str | type[Aggregator] | Subject) -> None:
    """Same seed → same sequence of updates; the global RNG is never touched."""
    subj = subject(spec)
    problems = []
    Js = [J for _, J in random_jacobians(torch.float64)][:4]
    if subj.properties.learnable:  # learnable weights are sized for one K: four Jacobians of that K
        Js = [_randn(4, 6 + i, 30 + i, torch.float64) for i in range(4)]
    state = torch.random.get_rng_state()
    runs = []
    for _ in range(2):
        agg = subj.build(seed=1234)
        runs.append([agg(J, _losses(J) if "losses" in subj.properties.needs else None) for J in Js])
    if not torch.equal(state, torch.random.get_rng_state()):
        problems.append("the global torch RNG was used (take randomness from the generator= option)")
    for i, (a, b) in enumerate(zip(*runs)):
        if not torch.equal(a, b):
            problems.append(f"call {i}: two instances built alike gave different updates")
    _fail(subj.label, "determinism", problems)


def check_non_conflicting(spec: str | type[Aggregator] | Subject) -> None:
    """If claimed: ``J · update ≥ −tol`` for every row (tol = rtol · ‖g_i‖ · S)."""
    subj = subject(spec)
    if not subj.properties.non_conflicting:
        return
    problems = []
    for dtype in DTYPES:
        cases = [*random_jacobians(dtype), *adversarial_jacobians(dtype)]
        for case, J in cases:
            out = run(subj, J)
            scale = J.double().norm(dim=1) * out.tol_scale
            dots = J.double() @ out.update.double()
            bad = (dots < -scale).nonzero().flatten().tolist()
            if bad:
                i = bad[0]
                problems.append(f"{case} {dtype}: g_{i}·update = {float(dots[i]):.3g} < −{float(scale[i]):.3g}")
    _fail(subj.label, "non-conflicting", problems)


def check_permutation_invariance(spec: str | type[Aggregator] | Subject) -> None:
    """If claimed: permuting the tasks (rows of J, and their losses) leaves the update unchanged (same seed)."""
    subj = subject(spec)
    if not subj.properties.permutation_invariant:
        return
    problems = []
    gen = seeded(5)
    for dtype in DTYPES:
        cases = list(random_jacobians(dtype))
        J0 = _randn(4, 12, 9, dtype)
        J0[2] = 0
        cases.append(("zero row", J0))
        for case, J in cases:
            perm = torch.randperm(J.shape[0], generator=gen)
            L = _losses(J)
            a, b = run(subj, J, losses=L), run(subj, J[perm], losses=L[perm])  # a task keeps its loss
            err = float((a.update.double() - b.update.double()).norm())
            tol = max(a.tol_scale, b.tol_scale)
            if not err <= tol:
                problems.append(f"{case} {dtype} perm={perm.tolist()}: ‖Δupdate‖ = {err:.3g} > {tol:.3g}")
    _fail(subj.label, "permutation invariance", problems)


def _save_load(state: dict[str, Any]) -> dict[str, Any]:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return cast(dict[str, Any], torch.load(buf, weights_only=True))


def check_state(spec: str | type[Aggregator] | Subject) -> None:
    """Stateful: ``state_dict`` survives torch.save/torch.load(weights_only=True) and restoring it into a fresh
    instance reproduces the next update; ``reset()`` gives a fresh instance's output. Stateless:
    ``state_dict() == {}`` before and after calls, and earlier calls do not change later outputs."""
    subj = subject(spec)
    problems = []
    needs_losses = "losses" in subj.properties.needs
    J1, J2, J3 = (_randn(4, 20, seed, torch.float64) for seed in (11, 12, 13))

    def call(agg: Aggregator, J: Tensor) -> Tensor:
        return cast(Tensor, agg(J, _losses(J) if needs_losses else None))

    agg = subj.build(seed=7)
    if not subj.properties.stateful:
        if agg.state_dict() != {}:
            problems.append(f"stateless but state_dict() = {agg.state_dict()!r} before any call")
        call(agg, J1)
        call(agg, J2)
        if agg.state_dict() != {}:
            problems.append(f"stateless but state_dict() has keys {sorted(agg.state_dict())} after calls")
        agg.load_state_dict({})
        if not subj.properties.randomised:
            fresh = subj.build()
            expected = call(fresh, J3)
            got = call(agg, J3)
            err = float((got - expected).norm())
            tol = run(subj, J3).tol_scale
            if not err <= tol:
                problems.append(f"claims stateless but earlier calls changed the output (‖Δ‖ = {err:.3g})")
        _fail(subj.label, "state", problems)
        return

    gen = seeded(7)
    agg = subj.build(generator=gen)
    call(agg, J1)
    call(agg, J2)
    try:
        state = _save_load(copy.deepcopy(agg.state_dict()))
    except Exception as exc:
        _fail(subj.label, "state", [f"state_dict() does not survive torch.save/torch.load(weights_only=True): {exc}"])
    twin_gen = seeded(0)
    twin_gen.set_state(gen.get_state())  # the generator's own state is the caller's to save
    twin = subj.build(generator=twin_gen)
    twin.load_state_dict(state)
    expected, got = call(agg, J3), call(twin, J3)
    err = float((got.double() - expected.double()).norm())
    tol = run(subj, J3).tol_scale
    if not err <= tol:
        problems.append(f"load_state_dict(state_dict()) did not reproduce the next update (‖Δ‖ = {err:.3g})")
    if not subj.properties.randomised:
        agg.reset()
        err = float((call(agg, J1) - call(subj.build(), J1)).norm())
        if not err <= run(subj, J1).tol_scale:
            problems.append(f"after reset() the update differs from a fresh instance's (‖Δ‖ = {err:.3g})")
    _fail(subj.label, "state", problems)


CHECKS: tuple[Callable[[Any], None], ...] = (
    check_metadata,
    check_shapes,
    check_finite,
    check_determinism,
    check_non_conflicting,
    check_permutation_invariance,
    check_state,
)


def check_aggregator(spec: str | type[Aggregator] | Subject, **options: Any) -> list[str]:
    """Run every check; return the violations (an empty list means the aggregator passes)."""
    subj = subject(spec, **options)
    failures = []
    for check in CHECKS:
        try:
            check(subj)
        except ContractError as exc:
            failures.append(str(exc))
        except Exception as exc:
            failures.append(f"{subj.label}: {check.__name__} crashed: {type(exc).__name__}: {exc}")
    return failures


class AggregatorContract:
    """pytest base class: subclass it as ``Test…`` and set ``aggregators`` (names or classes; ``None`` = every
    registered aggregator). ``options`` maps a name to constructor options; ``solver_rtol`` widens tolerances
    for iterative solvers. Each check becomes one test per aggregator."""

    aggregators: Sequence[str | type[Aggregator]] | None = None
    options: Mapping[str, Mapping[str, Any]] = {}
    solver_rtol: float = SOLVER_RTOL

    def pytest_generate_tests(self, metafunc: Any) -> None:
        if "aggregator" in metafunc.fixturenames:
            specs = list(AGGREGATORS.names()) if self.aggregators is None else list(self.aggregators)
            ids = [s if isinstance(s, str) else s.__name__ for s in specs]
            metafunc.parametrize("aggregator", specs, ids=ids)

    def subject(self, spec: str | type[Aggregator]) -> Subject:
        subj = subject(spec)
        subj.options = dict(self.options.get(subj.label, {}))
        subj.solver_rtol = self.solver_rtol
        return subj

    def test_metadata(self, aggregator: str | type[Aggregator]) -> None:
        check_metadata(self.subject(aggregator))

    def test_shapes(self, aggregator: str | type[Aggregator]) -> None:
        check_shapes(self.subject(aggregator))

    def test_finite(self, aggregator: str | type[Aggregator]) -> None:
        check_finite(self.subject(aggregator))

    def test_determinism(self, aggregator: str | type[Aggregator]) -> None:
        check_determinism(self.subject(aggregator))

    def test_non_conflicting(self, aggregator: str | type[Aggregator]) -> None:
        check_non_conflicting(self.subject(aggregator))

    def test_permutation_invariance(self, aggregator: str | type[Aggregator]) -> None:
        check_permutation_invariance(self.subject(aggregator))

    def test_state(self, aggregator: str | type[Aggregator]) -> None:
        check_state(self.subject(aggregator))


__all__ = [
    "CHECKS",
    "AggregatorContract",
    "ContractError",
    "Subject",
    "adversarial_jacobians",
    "check_aggregator",
    "check_determinism",
    "check_finite",
    "check_metadata",
    "check_non_conflicting",
    "check_permutation_invariance",
    "check_shapes",
    "check_state",
    "random_jacobians",
    "rtol",
    "seeded",
    "subject",
]
