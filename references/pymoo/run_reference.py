"""Reference values of the penalty-boundary intersection (PBI) scalarization from pymoo's ``PBI`` decomposition
(``pymoo.decomposition.pbi``, pymoo 0.6.2), for mtlkit's ``pbi``.

Run in an environment with pymoo (``pip install --no-deps pymoo==0.6.2 scipy``) and without mtlkit::

    python -I references/pymoo/run_reference.py > references/pymoo/pbi.json

For chosen losses F, preferences λ, ideal points z and penalties θ: the value ``d1 + θ d2`` and its gradient w.r.t.
F by central differences of pymoo's value (step 1e-6, truncation error below 1e-9 where the value is smooth, i.e.
``d2 > 0``). pymoo's ``d1 = (F − z)·λ/‖λ‖`` has no absolute value (MOEA/D's has); every case here has
``(F − z)·λ > 0``, where the two agree.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys

import numpy as np
from pymoo.decomposition.pbi import PBI

H = 1e-6


def _value(F: np.ndarray, weights: np.ndarray, ideal: np.ndarray, theta: float) -> float:
    return float(PBI(theta=theta).do(F, weights, utopian_point=ideal)[0, 0])


def main() -> None:
    assert "mtlkit" not in sys.modules
    rng = np.random.default_rng(7)
    cases = []
    for K, theta in ((2, 5.0), (3, 5.0), (4, 1.0), (5, 10.0), (8, 5.0)):
        for uniform in (True, False):
            F = rng.uniform(0.2, 3.0, K)
            weights = np.ones(K) if uniform else rng.uniform(0.1, 1.0, K)
            ideal = np.zeros(K) if uniform else rng.uniform(0.0, 0.1, K)
            grad = np.array([(_value(F + H * e, weights, ideal, theta) - _value(F - H * e, weights, ideal, theta))
                             / (2 * H) for e in np.eye(K)])
            cases.append({"losses": F.tolist(), "preference": weights.tolist(), "ideal": ideal.tolist(),
                          "theta": theta, "value": _value(F, weights, ideal, theta), "gradient": grad.tolist()})
    json.dump({"source": f"pymoo {importlib.metadata.version('pymoo')} pymoo.decomposition.pbi.PBI",
               "step": H, "cases": cases}, sys.stdout)


if __name__ == "__main__":
    main()
