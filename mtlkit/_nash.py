"""Nash-MTL (Navon et al., "Multi-Task Learning as a Bargaining Game", ICML 2022).

The weights are the Nash bargaining solution: ``α > 0`` with ``α_i (Gα)_i = 1`` for every task (the paper's
condition ``GᵀG α = 1/α``). It is the unique minimiser of the strictly convex, self-concordant

    f(α) = ½ αᵀGα − Σ_i log α_i,

which a damped Newton method solves in a handful of K×K iterations (the original code runs a sequence of
convex approximations through cvxpy/ECOS instead, ≈ 15–30 ms per step).

The problem is invariant to rescaling a task's gradient (``g_i → c g_i`` gives ``α_i → α_i / c``), so it is
solved on the correlation matrix ``C = D^{-½} G D^{-½}`` (``D = diag G``) for ``β = D^{½} α``: every task is on
the same footing whatever its gradient's scale, and the warm start carries over when scales drift.

That invariance also gives a task whose gradient is ~0 a weight ~1/‖g_i‖ (10⁴–10⁵ when a loss is 0), so by
default gradient norms below ``min_norm_ratio`` times the largest are raised to that floor on G's diagonal.
On the CPU the solve runs in numpy (below); on other devices in torch (``_nash_torch``), with no host sync.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor

from ._aggregator import Properties, Weighting, check_gramian
from ._nash_torch import nash_solve_torch
from ._torch_solvers import Solver, check_solver, use_torch

try:  # the gufunc behind np.linalg.solve, without its ≈3 µs of Python-side checks (a third of a Newton step)
    from numpy.linalg._umath_linalg import solve1 as _linsolve
except ImportError:  # pragma: no cover - private numpy module
    _linsolve = np.linalg.solve  # type: ignore[misc, assignment]

_FULL_STEP = 0.25  # below this Newton decrement, full steps converge quadratically (and keep α > 0)
_EYES: dict[int, np.ndarray] = {}


def _numpy(x: np.ndarray | Tensor | None) -> np.ndarray | None:
    """Solver state as numpy (state from the torch path, or loaded, may be a tensor)."""
    return x.detach().to("cpu", torch.float64).numpy() if isinstance(x, Tensor) else x


def _tensor(x: np.ndarray | Tensor | None, device: torch.device) -> Tensor | None:
    """Solver state as a float64 tensor on ``device`` (a copy only when it comes from numpy or another device)."""
    if x is None:
        return None
    return torch.as_tensor(x).to(device=device, dtype=torch.float64)


def _gramian_numpy(G: Tensor) -> np.ndarray:
    """Validate a (K, K) Gramian (:func:`check_gramian`) and return it as a symmetric float64 numpy array."""
    return check_gramian(G.detach() if isinstance(G, Tensor) else G).cpu().numpy()


def newton_bargaining(
    C: np.ndarray, beta: np.ndarray, max_iter: int, tol: float, cap: float = math.inf
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Damped Newton on ``f(β) = ½βᵀCβ − Σ log β`` from ``beta > 0``.

    With ``D = diag(β)`` and residual ``r = 1 − β∘(Cβ)`` the Newton step is ``β ← β∘(1 + t u)`` where
    ``(I + DCD) u = r``; the decrement is ``λ = √(rᵀu)``. Steps are damped by ``t = 1/(1+λ)`` (self-concordant
    damping, which keeps β > 0) until ``λ < 0.25``, then full (quadratic convergence). At the start and after
    each damped step β is rescaled to the minimiser of f on its ray, ``β·√(K/βᵀCβ)`` (f only decreases). Stops when
    ``‖r‖₂ ≤ tol`` or when quadratic convergence stalls at the rounding-noise floor (ill-conditioned C).

    Returns (β, r, iterations, converged). Not converged: ``max_iter`` reached, ``max β > cap`` (the iterates
    run off to infinity: f is unbounded below), or ``I + DCD`` not positive definite (C not PSD); then r may
    be stale.
    """
    eye = _EYES.get(C.shape[0])
    if eye is None:
        eye = _EYES.setdefault(C.shape[0], np.eye(C.shape[0]))
    n = float(C.shape[0])
    tol2 = tol * tol
    last = math.inf  # decrement of the previous full step (inf after a damped one)
    for it in range(max_iter + 1):
        Cb = C @ beta
        if last == math.inf:  # after a damped step (and at the start): move to the minimiser of f on the ray
            q = float(beta @ Cb)
            if not q > 1e-12 * float(beta @ beta):  # βᵀCβ ≈ 0: f decreases without bound along this ray
                return beta, 1.0 - beta * Cb, it, False
            c = math.sqrt(n / q)
            beta = beta * c
            Cb *= c
        r = 1.0 - beta * Cb
        if float(r @ r) <= tol2:
            return beta, r, it, True
        if it == max_iter:
            break
        M = np.multiply.outer(beta, beta)
        M *= C
        M += eye
        u = _linsolve(M, r)
        lam2 = float(r @ u)
        if not lam2 > 0.0:  # I + DCD is not positive definite: C is not PSD (rounding in a singular Gramian)
            return beta, r, it, False
        lam = math.sqrt(lam2)
        if lam < _FULL_STEP:
            if lam > 0.5 * last:  # exact arithmetic would give λ⁺ ≤ (λ/(1−λ))² < λ/2: rounding noise floor
                return beta, r, it, True
            step = 1.0 + u
            if not min(step.tolist()) > 0.0:  # the solve is too inaccurate to trust
                return beta, r, it, False
            beta = beta * step
            last = lam
            continue
        last = math.inf
        step = 1.0 + u / (1.0 + lam)
        while not min(step.tolist()) > 0.0:  # rounding in an ill-conditioned solve: shrink until inside the domain
            step = 0.5 * (step + 1.0)
        beta = beta * step
        if not max(beta.tolist()) <= cap:
            return beta, r, it + 1, False
    return beta, r, max_iter, False


def _check_options(
    max_norm: float | None, update_every: int, max_iter: int, tol: float, regularization: float,
    min_norm_ratio: float, torch_iter: int,
) -> None:
    if max_norm is not None and not (isinstance(max_norm, (int, float)) and math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm must be a positive number or None (no clipping), got {max_norm!r}")
    if isinstance(min_norm_ratio, bool) or not (isinstance(min_norm_ratio, (int, float)) and 0 <= min_norm_ratio < 1):
        raise ValueError(f"min_norm_ratio must be a number in [0, 1) (0: no floor), got {min_norm_ratio!r}")
    for name, value in (("update_every", update_every), ("max_iter", max_iter), ("torch_iter", torch_iter)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    if not (isinstance(regularization, (int, float)) and 1e-12 <= regularization < 1):
        raise ValueError(f"regularization must be a number in [1e-12, 1), got {regularization!r}")


class NashMTL(Weighting):
    """Nash-MTL: the Nash bargaining solution α_i (Gα)_i = 1, solved by damped Newton (no cvxpy), warm-started.

    Args:
        max_norm: the update ``Jᵀα`` is scaled down to this norm when longer (the original clips the shared
            gradient to 1.0). Since ``‖Jᵀα‖² = αᵀGα = K`` at the solution, with ``max_norm=1.0`` every update
            has norm exactly 1 when K ≥ 2 (and 1 when K = 1). The scaling is applied to the returned weights,
            so every backend gets it. ``None`` disables it.
        update_every: recompute the weights every N calls and reuse the last α in between (the clipping is
            re-applied on the current Gramian).
        max_iter: Newton iterations per solve.
        tol: stopping tolerance on ``‖1 − α∘(Gα)‖₂``.
        regularization: relative ridge ε used when the solution does not exist (a zero gradient, or tasks
            whose gradients have a vanishing non-negative combination, e.g. ``g_2 = −g_1``): the system is
            solved with ``G + ε·diag(G)`` (and ``ε·tr(G)/K`` for zero rows) and ``diagnostics["regularised"]``
            is True.
        min_norm_ratio: floor r on the gradient norms relative to the largest, ``‖g_i‖ ≥ r·max_j ‖g_j‖``, applied
            as ``G + diag(max(0, r²·max_j G_jj − G_ii))`` (still PSD): a task whose gradient is ~0 gets
            ``α_i ≤ 1/√(r² max_j G_jj − G_ii) ≈ 1/(r·max_j ‖g_j‖)`` instead of ``~1/‖g_i‖``; tasks above the floor
            are untouched. The floored solution is kept only if its update conflicts with no task (a tiny
            gradient opposing the others' update can only be served by ``α_i ~ 1/‖g_i‖``: then the plain
            weights, ``diagnostics["floor_rejected"]``). 0 disables it (a zero gradient then gets the ridge
            weight above).
        solver: ``"auto"`` (numpy for a CPU Gramian, torch on its device otherwise), ``"numpy"`` or ``"torch"``.
        torch_iter: Newton iterations of the torch solver from a cold start, a fixed count (no host sync to stop
            early; converged iterates are frozen); warm-started solves run half as many. Measured: cold solves
            need 3–7 (up to 20 on singular Gramians with up to 64 tasks), warm ones 1–5 (up to 11).

    ``diagnostics`` after each call: ``iterations``, ``residual`` (max_i |α_i (Gα)_i − 1| for the system
    solved, ridge included), ``regularised``, ``converged``, ``floored`` (tasks raised to the norm floor),
    ``floor_rejected`` (the floored solution conflicted with a task), ``recomputed``, ``alpha`` (float64, before
    the max_norm scaling), ``clip`` (the scaling factor) and ``update_norm`` (‖Jᵀw‖ of the returned weights). On
    the torch path all but ``recomputed`` are tensors on G's device (reading one on the host synchronises).
    """

    name = "nash"
    properties = Properties(
        non_conflicting=True, permutation_invariant=True, stateful=True, randomised=False,
        needs=frozenset({"gramian"}),
    )

    def __init__(
        self,
        max_norm: float | None = 1.0,
        update_every: int = 1,
        max_iter: int = 100,
        tol: float = 1e-10,
        regularization: float = 1e-10,
        min_norm_ratio: float = 1e-3,
        solver: Solver = "auto",
        torch_iter: int = 24,
    ) -> None:
        super().__init__()
        _check_options(max_norm, update_every, max_iter, tol, regularization, min_norm_ratio, torch_iter)
        self.max_norm = None if max_norm is None else float(max_norm)
        self.update_every = update_every
        self.max_iter = max_iter
        self.tol = float(tol)
        self.regularization = float(regularization)
        self.min_norm_ratio = float(min_norm_ratio)
        self.solver = check_solver(solver)
        self.torch_iter = torch_iter
        self.reset()

    def reset(self) -> None:
        """Forget the warm start, the last weights and the step counter."""
        self._beta: np.ndarray | Tensor | None = None  # warm start, correlation units (scale-free)
        self._beta_ridged: Tensor | None = None  # torch path: warm start of the ridged problem
        self._alpha: np.ndarray | Tensor | None = None  # last solution, Gramian units (reused by update_every)
        self._step = 0

    # -- the solve ------------------------------------------------------------------------------------------------

    def _solve(self, G: np.ndarray) -> tuple[np.ndarray, float, dict[str, Any]]:
        """α for the Gramian G (numpy float64), ``αᵀGα`` and the diagnostics of the solve.

        With ``min_norm_ratio = r > 0`` and a gradient norm below ``r·max``, the floored Gramian
        ``G + diag(max(0, r² max G_jj − G_ii))`` is solved instead, unless its update conflicts with a floored task
        (``(Gα)_i < 0``: the tiny gradient opposes the others' update, and only ``α_i ~ 1/‖g_i‖`` can fix that):
        then G itself is, and ``diagnostics["floor_rejected"]`` is True.
        """
        dl = G.diagonal().tolist()
        lowest = min(dl)
        floor = self.min_norm_ratio * self.min_norm_ratio * max(dl)
        if not lowest < floor:  # (also r = 0, and an all-zero G)
            return self._solve_gramian(G, lowest)
        raised = np.maximum(floor - G.diagonal(), 0.0)
        beta0 = self._beta
        alpha, quad, info = self._solve_gramian(G + np.diag(raised), floor)
        quad -= float(raised @ (alpha * alpha))  # αᵀGα of G itself, not of the floored Gramian
        norms = np.sqrt(np.maximum(G.diagonal(), 0.0))
        if ((raised > 0.0) & (G @ alpha < -1e-10 * norms * float(alpha @ norms))).any():
            self._beta = beta0
            alpha, quad, info = self._solve_gramian(G, lowest)
            info["floor_rejected"] = True
        else:
            info["floored"] = int(np.count_nonzero(raised))
        return alpha, quad, info

    def _solve_gramian(self, G: np.ndarray, lowest: float) -> tuple[np.ndarray, float, dict[str, Any]]:
        """:meth:`_solve` without the floor (``lowest``: the smallest ``G_ii``)."""
        K = G.shape[0]
        d2 = G.diagonal()
        eps = self.regularization
        zero = None
        if not lowest > 0.0:  # zero gradients: α_i → ∞; the ridge ε·tr(G)/K gives α_i = 1/√(ε tr(G)/K)
            zero = ~(d2 > 0.0)
            mean = float(d2.sum()) / K
            if zero.all():
                self._beta = None
                return np.ones(K), 0.0, {"iterations": 0, "residual": 0.0, "regularised": True, "converged": True,
                                         "floored": 0, "floor_rejected": False}
            live = ~zero
            G = G[np.ix_(live, live)]
            d2 = d2[live]
        n = G.shape[0]
        d = np.sqrt(d2)
        C = G / np.multiply.outer(d, d)
        beta0 = cast(np.ndarray, self._beta) if self._beta is not None and self._beta.shape[0] == n else np.ones(n)
        beta, r, iterations, converged = newton_bargaining(C, beta0, self.max_iter, self.tol, 10.0 / math.sqrt(eps))
        ridge = 0.0
        if not converged:  # no bounded solution (or no convergence): solve the ridge-regularised system
            # The ridge also covers negative eigenvalues left by rounding (a singular Gramian formed in float32).
            ridge = eps + max(0.0, -2.0 * float(np.linalg.eigvalsh(C)[0]))
            C = C + ridge * np.eye(n)
            if np.isfinite(beta).all() and beta.min() > 0.0:  # a diverging iterate points along the unbounded
                beta0 = beta  # direction: rescaled onto its ray it is a good start
            beta, r, more, converged = newton_bargaining(C, beta0, self.max_iter, self.tol)
            iterations += more
        if not converged and not (np.isfinite(beta).all() and beta.min() > 0.0):  # cannot happen with a PSD
            beta = np.ones(n)  # Gramian; stay finite
        if not converged:
            r = 1.0 - beta * (C @ beta)
        self._beta = beta if ridge == 0.0 else None  # a regularised β is huge along the null direction: no warm start
        rl = r.tolist()  # (Python reductions beat numpy's on a few numbers)
        quad = n - sum(rl)  # = βᵀCβ = αᵀGα
        if ridge:
            quad -= ridge * float(beta @ beta)  # the unregularised part
        info = {"iterations": iterations, "residual": max(map(abs, rl)), "regularised": zero is not None
                or ridge > 0.0, "converged": converged, "floored": 0, "floor_rejected": False}
        if zero is None:
            return beta / d, quad, info
        alpha = np.empty(K)
        alpha[zero] = 1.0 / math.sqrt(eps * mean)
        alpha[~zero] = beta / d
        return alpha, quad, info

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        if self.solver != "numpy" and use_torch(self.solver, G):
            return self._weights_torch(G)
        Gn = _gramian_numpy(G)
        K = Gn.shape[0]
        if type(self._alpha) is Tensor or type(self._beta) is Tensor:  # state left by the torch path
            self._alpha, self._beta = _numpy(self._alpha), _numpy(self._beta)
        recompute = self._alpha is None or self._alpha.shape[0] != K or self._step % self.update_every == 0
        if recompute:
            alpha, quad, info = self._solve(Gn)
            self._alpha = alpha
            self.diagnostics = info
        else:
            alpha = cast(np.ndarray, self._alpha)  # numpy here: a tensor left by the torch path was converted
            quad = float(alpha @ Gn @ alpha)
            self.diagnostics["iterations"] = 0
        self._step += 1
        norm = math.sqrt(max(quad, 0.0))
        clip = 1.0 if self.max_norm is None or norm <= self.max_norm else self.max_norm / norm
        self.diagnostics.update(recomputed=recompute, alpha=torch.from_numpy(alpha), clip=clip, update_norm=norm * clip)
        w = torch.from_numpy(alpha * clip)
        return w if G.device.type == "cpu" else w.to(G.device)

    def _weights_torch(self, G: Tensor) -> Tensor:
        """:meth:`weights` on G's device in torch (``nash_solve_torch``): no host synchronisation."""
        G = check_gramian(G.detach())
        K = G.shape[0]
        alpha = _tensor(self._alpha, G.device)
        recompute = alpha is None or alpha.shape[0] != K or self._step % self.update_every == 0
        if recompute:
            warm = None
            beta0, ridged0 = _tensor(self._beta, G.device), _tensor(self._beta_ridged, G.device)
            if beta0 is not None and beta0.shape[0] == K:
                warm = torch.stack([beta0, ridged0 if ridged0 is not None and ridged0.shape[0] == K else beta0])
            iterations = self.torch_iter if warm is None else (self.torch_iter + 1) // 2
            alpha, quad, warm, info = nash_solve_torch(
                G, warm, iterations, self.tol, self.regularization, self.min_norm_ratio
            )
            self._beta, self._beta_ridged = warm[0], warm[1]
            self.diagnostics = info
        else:
            alpha = cast(Tensor, alpha)  # not None: recompute is False
            quad = alpha @ (G @ alpha)
            self.diagnostics["iterations"] = torch.zeros((), dtype=torch.int64, device=G.device)
        self._alpha = alpha
        self._step += 1
        norm = quad.clamp(min=0.0).sqrt()
        clip = torch.ones_like(norm) if self.max_norm is None else torch.where(
            norm <= self.max_norm, 1.0, self.max_norm / norm
        )
        self.diagnostics.update(recomputed=recompute, alpha=alpha, clip=clip, update_norm=norm * clip)
        return alpha * clip

    # -- state ----------------------------------------------------------------------------------------------------

    def get_extra_state(self) -> dict[str, Any]:
        """``step`` (int) and, after the first call, ``beta`` (warm start, scale-free), ``alpha`` (last weights
        before clipping) and, from the torch path, ``beta_ridged`` (warm start of the ridged problem), all float64
        tensors: ``state_dict()["_extra_state"]``."""
        state: dict[str, Any] = {"step": self._step}
        for key, value in (("beta", self._beta), ("alpha", self._alpha), ("beta_ridged", self._beta_ridged)):
            if value is not None:
                state[key] = value.detach().clone() if isinstance(value, Tensor) else torch.from_numpy(value.copy())
        return state

    def set_extra_state(self, state: dict[str, Any]) -> None:
        unknown = set(state) - {"step", "beta", "alpha", "beta_ridged"}
        if unknown:
            raise ValueError(f"unexpected keys in the NashMTL state: {sorted(unknown)} (expected step, beta, alpha, "
                             "beta_ridged)")
        step = state.get("step", 0)
        step = int(step.item()) if isinstance(step, Tensor) else step
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"state['step'] must be a non-negative integer, got {step!r}")
        arrays: dict[str, np.ndarray | None] = {}
        for key in ("beta", "alpha", "beta_ridged"):
            value = state.get(key)
            if value is None:
                arrays[key] = None
                continue
            arr = torch.as_tensor(value).detach().to("cpu", torch.float64).numpy().copy()
            positive = key != "alpha"
            if arr.ndim != 1 or not np.isfinite(arr).all() or (positive and not (arr > 0).all()):
                raise ValueError(f"state['{key}'] must be a finite 1-D tensor{' > 0' if positive else ''}")
            arrays[key] = arr
        self._step, self._beta, self._alpha = step, arrays["beta"], arrays["alpha"]
        ridged = arrays["beta_ridged"]
        self._beta_ridged = None if ridged is None else torch.from_numpy(ridged)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        """nn.Module's, also accepting the flat ``{"step", "beta", "alpha"}`` layout of mtlkit 0.1 checkpoints."""
        if "_extra_state" not in state_dict and set(state_dict) & {"step", "beta", "alpha"}:
            state_dict = {"_extra_state": dict(state_dict)}
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def __repr__(self) -> str:
        extra = "" if self.min_norm_ratio == 1e-3 else f", min_norm_ratio={self.min_norm_ratio:g}"
        extra += "" if self.solver == "auto" else f", solver={self.solver!r}"
        return f"NashMTL(max_norm={self.max_norm}, update_every={self.update_every}{extra})"
