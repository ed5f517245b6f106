"""Reference outputs of torchjd 0.18 aggregators on the shared cases (references/cases.py) for mtlkit's tests.

Run in an environment with torch and ``torchjd[full]==0.18.*`` and without mtlkit::

    python -I references/torchjd/run_reference.py            # every method in METHODS
    python -I references/torchjd/run_reference.py upgrad     # some

Writes ``references/torchjd/<mtlkit name>.json``: the reference's update (P,) for every case (or the error it
raised), the torchjd class and options, and the mtlkit name and options that reproduce its conventions.
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
}


def run(name: str) -> dict:
    import torchjd.aggregation as agg

    cls_name, options, mtlkit_options = METHODS[name]
    out: dict = {"reference": f"torchjd {importlib.metadata.version('torchjd')} {cls_name}({options})",
                 "torch": torch.__version__, "mtlkit": {"name": name, "options": mtlkit_options},
                 "cases": {}, "errors": {}}
    for case, J in cases():
        torch.manual_seed(0)  # methods drawing from the global RNG (torchjd's Random, GradDrop)
        try:
            out["cases"][case] = getattr(agg, cls_name)(**options)(J).tolist()
        except Exception as exc:  # recorded: the docs say where the reference fails
            out["errors"][case] = f"{type(exc).__name__}: {exc}"[:300]
    return out


def main() -> None:
    assert "mtlkit" not in sys.modules
    for name in sys.argv[1:] or list(METHODS):
        (HERE / f"{name}.json").write_text(json.dumps(run(name)))
        print(f"wrote {name}.json")


if __name__ == "__main__":
    main()
