"""mtlkit's methods against the reference implementations (torchjd 0.18, LibMTL 1.1.5) on the shared cases of
references/cases.py. The reference outputs were produced by the scripts next to them (run in environments with
the reference library and without mtlkit) and are committed; this test recomputes mtlkit's side.

Tolerances are per method (documented in docs/mtlkit/references.md): ‖ours − theirs‖ ≤ rtol·‖theirs‖ + atol.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

import mtlkit

REFERENCES = Path(__file__).parents[2] / "references"
FILES = sorted((REFERENCES / "torchjd").glob("*.json")) + sorted((REFERENCES / "libmtl" / "methods").glob("*.json"))

# method: (rtol, atol); the default fits float64 closed forms and solvers converged to ~1e-10
TOLERANCES: dict[str, tuple[float, float]] = {}
DEFAULT = (1e-7, 1e-10)
# (method, case): why the reference's output is not the method's answer there (documented, numbers in the docs)
REFERENCE_WRONG: dict[tuple[str, str], str] = {}


def _cases() -> dict[str, torch.Tensor]:
    spec = importlib.util.spec_from_file_location("reference_cases", REFERENCES / "cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.cases())


CASES = _cases()


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_matches_the_reference(path):
    ref = json.loads(path.read_text())
    name, options = ref["mtlkit"]["name"], ref["mtlkit"]["options"]
    rtol, atol = TOLERANCES.get(name, DEFAULT)
    assert len(ref["cases"]) + len(ref["errors"]) == len(CASES)
    failures = []
    for case, expected in ref["cases"].items():
        if (name, case) in REFERENCE_WRONG:
            continue
        method = mtlkit.get_aggregator(name, **options)
        got = method(CASES[case], torch.linspace(0.5, 2.0, CASES[case].shape[0], dtype=torch.float64))
        theirs = torch.tensor(expected, dtype=torch.float64)
        err = float((got - theirs).norm())
        if not err <= rtol * float(theirs.norm()) + atol:
            failures.append(f"{case}: ‖Δ‖ = {err:.3g} (‖ref‖ = {float(theirs.norm()):.3g})")
    assert not failures, f"{ref['reference']} vs mtlkit {name} {options}: " + "; ".join(failures)
