"""Reference outputs of torchjd 0.18 aggregators on the shared cases (references/cases.py) for mtlkit's tests.

Run in an environment with torch and ``torchjd[full]==0.18.*`` and without mtlkit::

    python -I references/torchjd/run_reference.py            # every method in METHODS
    python -I references/torchjd/run_reference.py upgrad     # some

Writes ``references/torchjd/<mtlkit name>.json``: the reference's update (P,) for every case (or the error it
raised), the torchjd class and options, and the mtlkit name and options that reproduce its conventions; for the
``STATEFUL`` methods also the updates of a sequence of calls on one instance (``sequences``).
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from cases import cases  # noqa: E402

# mtlkit name: (torchjd class, its options, mtlkit options giving the same conventions)
METHODS: dict[str, tuple[str, dict, dict]] = {
    "aligned": ("AlignedMTL", {}, {"reduction": "mean"}),
    "imtl": ("IMTLG", {}, {}),
    # (a torchjd "class" containing "(" is an expression over torchjd.aggregation's names and K, the number of tasks)
    "cagrad": ("CAGrad", {"c": 0.5}, {"trace_eps": 1e-4}),
    "gradvac": ("GradVac", {}, {"seed": 0}),
    "fairgrad": ("FairGrad", {"alpha": 1.0}, {}),
    "excess_mtl": ("ExcessMTL", {}, {}),
    "modo": ("GramianWeightedAggregator(MoDoWeighting())", {}, {}),
    "sdmgrad": ("GramianWeightedAggregator(SDMGradWeighting())", {}, {}),
    "cr_mogm": ("GramianWeightedAggregator(CRMOGMWeighting(MGDAWeighting()))", {}, {}),
    "nash": ("NashMTL(n_tasks=K)", {}, {"min_norm_ratio": 0.0}),
    "mean": ("Mean", {}, {}),
    "upgrad": ("UPGrad", {}, {}),
    "dualproj": ("DualProj", {}, {}),
    "mgda": ("MGDA", {}, {}),
    "krum": ("Krum", {"n_byzantine": 1, "n_selected": 2}, {"n_byzantine": 1, "n_selected": 2}),
    "trimmed_mean": ("TrimmedMean", {"trim_number": 1}, {"trim_number": 1}),
    "random": ("Random", {}, {"seed": 0}),  # torch.manual_seed(0) before each case = mtlkit's seed=0 generator
    "graddrop": ("GradDrop", {}, {"seed": 0}),
    "config": ("ConFIG", {}, {}),
    "pcd": ("PCD", {}, {"precision": 10 * torch.finfo(torch.float64).eps}),  # torchjd's float64 precision
}
# Stateful methods: also SEQUENCE_STEPS calls on one instance with J_t = J + 0.3 t (J rolled by t columns) (under
# "sequences"), compared with the same calls on one mtlkit instance (tests/mtlkit/test_methods_cagrad_family.py).
STATEFUL = ("gradvac", "excess_mtl", "modo", "sdmgrad", "cr_mogm", "nash", "pcd")
SEQUENCE_STEPS = 4


def sequence(J: torch.Tensor) -> list[torch.Tensor]:
    """The Jacobians of a sequence of calls starting from J (same K and P)."""
    return [J + 0.3 * t * J.roll(t, dims=1) for t in range(SEQUENCE_STEPS)]


def build(agg: object, cls_name: str, options: dict, K: int) -> object:
    """The torchjd aggregator for K tasks."""
    if "(" in cls_name:
        return eval(cls_name, dict(vars(agg)), {"K": K})  # our own METHODS strings
    return getattr(agg, cls_name)(**options)


def run(name: str) -> dict:
    import torchjd.aggregation as agg

    cls_name, options, mtlkit_options = METHODS[name]
    out: dict = {"reference": f"torchjd {importlib.metadata.version('torchjd')} {cls_name}({options})",
                 "torch": torch.__version__, "mtlkit": {"name": name, "options": mtlkit_options},
                 "cases": {}, "errors": {}}
    for case, J in cases():
        torch.manual_seed(0)  # methods drawing from the global RNG (torchjd's Random, GradDrop)
        try:
            out["cases"][case] = build(agg, cls_name, options, J.shape[0])(J).tolist()
        except Exception as exc:  # recorded: the docs say where the reference fails
            out["errors"][case] = f"{type(exc).__name__}: {exc}"[:300]
        if name in STATEFUL and case in out["cases"]:
            torch.manual_seed(0)
            method = build(agg, cls_name, options, J.shape[0])
            out.setdefault("sequences", {})[case] = [method(Jt).tolist() for Jt in sequence(J)]
    return out


def main() -> None:
    assert "mtlkit" not in sys.modules
    for name in sys.argv[1:] or list(METHODS):
        (HERE / f"{name}.json").write_text(json.dumps(run(name)))
        print(f"wrote {name}.json")


if __name__ == "__main__":
    main()
