"""Nash-MTL's damped Newton solve in torch, on the Gramian's device, with no host synchronisation.

The numpy solver in ``_nash`` stops as soon as it converges and falls back to a ridge-regularised problem only
when the plain one has no solution: data-dependent branches, i.e. device→host transfers on a GPU. Here the plain
problem ``C`` and the ridged one ``C + ρI`` (and, with the norm floor, the same two for the floored Gramian) are
solved side by side as one batch for a fixed number of iterations; each member takes the numpy solver's steps
(ray rescaling, damping ``1/(1+λ)`` until ``λ < 0.25``, the same stopping rules; see :func:`newton_fixed` for
the one difference) and is frozen by ``torch.where`` once it stops. The same solution as numpy's is then
selected with ``torch.where``; every flag stays a device tensor.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_FULL_STEP = 0.25  # as the numpy solver: full Newton steps below this decrement
_COARSE = 21  # shifts top·8^-j, j < 21, and 0, for the bound on −λ_min (down to 1e-18·top)
_FINE = 15  # then 15 shifts between consecutive coarse ones: the bound is within a factor 8^(1/16) ≈ 1.14
_SEARCH = 3  # damped-step candidates t·2^j, j = −3…3


def floor_gramian(G: Tensor, ratio: float) -> tuple[Tensor, Tensor]:
    """``G + diag(max(0, ratio²·max_i G_ii − G_ii))`` and the amounts added: every task's gradient norm is raised
    to at least ``ratio`` times the largest one (G stays PSD)."""
    d2 = G.diagonal()
    raised = (ratio * ratio * d2.amax() - d2).clamp(min=0.0)
    return G + torch.diag(raised), raised


def floor_conflicts(G: Tensor, alpha: Tensor, raised: Tensor) -> Tensor:
    """Whether the update ``Jᵀα`` conflicts with a floored task: ``g_i·Jᵀα = (Gα)_i < −1e-10 ‖g_i‖ Σ_j α_j ‖g_j‖``
    for some i with ``raised_i > 0`` (a 0-d bool tensor; the tolerance covers rounding in Gα)."""
    norms = G.diagonal().clamp(min=0.0).sqrt()
    return ((raised > 0.0) & (G @ alpha < -1e-10 * norms * (alpha.abs() * norms).sum())).any()


def negative_eigenvalue_bound(C: Tensor) -> Tensor:
    """Shifts ``s ≥ max(0, −λ_min(C))``, within a factor 1.14 of it (0 when C is positive definite), for a batch of
    matrices (…, K, K), from two batched Cholesky factorisations of ``C + sI`` over a ladder of shifts
    (``torch.linalg.eigvalsh`` would synchronise on CUDA). The largest shift is Gershgorin's ``max_i Σ_j |C_ij|``,
    which makes ``C + sI`` definite."""
    K = C.shape[-1]
    eye = torch.eye(K, dtype=C.dtype, device=C.device)
    top = C.abs().sum(-1).amax(-1, keepdim=True)  # (…, 1)
    ladder = torch.pow(8.0, -torch.arange(_COARSE, dtype=C.dtype, device=C.device))
    shifts = torch.cat([top * ladder, torch.zeros_like(top)], -1)  # descending, then 0
    pd = torch.linalg.cholesky_ex(C.unsqueeze(-3) + shifts[..., None, None] * eye).info == 0
    coarse = torch.where(pd, shifts, top).amin(-1, keepdim=True)  # the smallest shift that works (top always does)
    fine = coarse * torch.pow(8.0, -torch.arange(1, _FINE + 1, dtype=C.dtype, device=C.device) / (_FINE + 1))
    pd = torch.linalg.cholesky_ex(C.unsqueeze(-3) + fine[..., None, None] * eye).info == 0
    return torch.where(pd, fine, coarse).amin(-1)


def newton_fixed(Ce: Tensor, beta: Tensor, iterations: int, tol: float, cap: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``iterations`` damped Newton steps on ``f(β) = ½βᵀCβ − Σ log β`` for a batch of (K, K) matrices ``Ce`` from
    ``beta`` (B, K), as :func:`mtlkit._nash.newton_bargaining` but sync-free: a member stops (and is frozen) when
    ``‖r‖ ≤ tol`` or at the rounding-noise floor (converged), or fails (``βᵀCβ ≤ 0``, ``I + DCD`` not definite,
    no step keeping β > 0, ``max β > cap``).

    One difference: the damped step ``t = 1/(1+λ)`` competes with ``t·2^j``, j = −3…3, and the admissible one
    (β > 0) with the least f is taken (numpy halves t until β > 0). A fixed iteration count cannot wait for β to
    grow by 1.1–1.5× per damped step along the null directions of a singular C (80+ steps for 64 tasks in 16
    dimensions; 20 with the search). Full steps (λ < 0.25) are numpy's.

    Returns (β, converged (B,) bool, steps taken (B,) int64).
    """
    B, K = beta.shape
    dev, dt = beta.device, beta.dtype
    eye = torch.eye(K, dtype=dt, device=dev)
    powers = torch.exp2(torch.arange(-_SEARCH, _SEARCH + 1, dtype=dt, device=dev)).view(1, 1, -1)  # t·2^j
    only_full = powers.view(1, -1) != 1.0  # the candidates a full step excludes
    cap = cap.view(B, 1, 1)
    beta = beta.unsqueeze(-1)  # (B, K, 1) columns throughout: no reshaping around the batched products
    one, inf, nan = (torch.full((), v, dtype=dt, device=dev) for v in (1.0, math.inf, math.nan))
    # λ of the last full step; inf after a damped one (rescale β), NaN once the member stopped
    last = torch.full((B, 1, 1), math.inf, dtype=dt, device=dev)
    done = torch.zeros((B, 1, 1), dtype=torch.bool, device=dev)
    converged = torch.zeros_like(done)
    steps = torch.zeros((B, 1, 1), dtype=torch.int64, device=dev)
    for i in range(iterations + 1):
        Cb = torch.bmm(Ce, beta)
        # after a damped step, move to the minimiser of f on β's ray (βᵀCβ ≤ 0: f unbounded, β turns inf/NaN: failed)
        c = torch.where(torch.isinf(last), torch.rsqrt((beta * Cb).sum(1, keepdim=True) / K), one)
        beta, Cb = beta * c, Cb * c
        r = 1.0 - beta * Cb
        stop = (r * r).sum(1, keepdim=True) <= tol * tol
        converged |= stop
        done = done | stop
        if i == iterations:
            break
        # (I + DCD) u = r by Cholesky (cuSOLVER potrf, cuBLAS trsm: no host sync, no MAGMA); not definite: no step
        L, info = torch.linalg.cholesky_ex(torch.addcmul(eye, torch.bmm(beta, beta.mT), Ce))
        u = torch.linalg.solve_triangular(L.mT, torch.linalg.solve_triangular(L, r, upper=False), upper=True)
        lam2 = torch.where((info == 0).view(B, 1, 1), (r * u).sum(1, keepdim=True), nan)
        lam = lam2.clamp(min=0.0).sqrt()
        full = lam < _FULL_STEP
        cand = beta + (beta * u) * (torch.where(full, one, (1.0 + lam).reciprocal()) * powers)  # (B, K, S)
        f2 = torch.addcmul(torch.log(cand) * -2.0, cand, torch.bmm(Ce, cand)).sum(1)  # 2f, NaN where some β ≤ 0
        f2 = torch.where(full.view(B, 1) & only_full, inf, f2.nan_to_num(nan=math.inf))
        best, j = f2.min(-1)
        new = cand.gather(2, j.view(B, 1, 1).expand(B, K, 1))
        settle = full & (lam > 0.5 * last)  # quadratic convergence stalled at the rounding-noise floor
        converged |= settle
        # a step when I + DCD is definite and some candidate keeps β > 0 (bool a > b: a and not b)
        take = ((lam2 > 0.0) & torch.isfinite(best).view(B, 1, 1)) > (settle | done)
        done = done | ~(take & (new.amax(1, keepdim=True) <= cap))
        beta = torch.where(take, new, beta)
        last = torch.where(done, nan, torch.where(full, lam, inf))
        steps += take
    return beta.squeeze(-1), converged.view(B), steps.view(B)


def _solve(
    G: Tensor, warm: Tensor | None, iterations: int, tol: float, eps: float
) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
    """The numpy ``NashMTL._solve_gramian`` for a batch of M Gramians (M, K, K) from the starts ``warm`` (2, K) of
    the plain and the ridged problem: (α, αᵀGα, the next starts (M, 2, K), info), with a leading M dimension."""
    M, K = G.shape[0], G.shape[-1]
    eye = torch.eye(K, dtype=G.dtype, device=G.device)
    d2 = G.diagonal(dim1=-2, dim2=-1)
    live = d2 > 0.0
    n_live = live.sum(-1).to(G.dtype)
    d = torch.sqrt(torch.where(live, d2, 1.0))
    # a zero-gradient task is an identity row of C with β = 1: decoupled, at its own optimum (numpy drops it)
    pair = live.unsqueeze(-1) & live.unsqueeze(-2)
    C = torch.where(pair, G / (d.unsqueeze(-1) * d.unsqueeze(-2)), eye)
    ridge = (eps + 2.0 * negative_eigenvalue_bound(C))[:, None, None]
    Ce = torch.stack([C, C + ridge * eye], 1).reshape(2 * M, K, K)  # (plain, ridged) per Gramian
    start = torch.ones(M, 2, K, dtype=G.dtype, device=G.device)
    if warm is not None:
        start = torch.where(live.unsqueeze(1), warm, start)
    cap = torch.full((M, 2), math.inf, dtype=G.dtype, device=G.device)
    cap[:, 0] = 10.0 / math.sqrt(eps)  # the plain problem diverges past this; the ridged one cannot
    beta, converged, steps = newton_fixed(Ce, start.reshape(2 * M, K), iterations, tol, cap.reshape(-1))
    beta, converged, steps = beta.view(M, 2, K), converged.view(M, 2), steps.view(M, 2)
    # next starts: the plain solution (none after a ridge: it is huge along the null directions, as in numpy) and
    # the ridged iterate, which stays a good start while the Gramian stays singular
    ridged_ok = (torch.isfinite(beta[:, 1]) & (beta[:, 1] > 0.0)).all(-1, keepdim=True)
    warm = torch.stack([torch.where(converged[:, :1], beta[:, 0], 1.0), torch.where(ridged_ok, beta[:, 1], 1.0)], 1)
    plain = converged[:, 0]
    beta = torch.where(plain.unsqueeze(-1), beta[:, 0], warm[:, 1])
    rho = torch.where(plain, 0.0, ridge.view(M))
    r = (1.0 - beta * (((C + rho[:, None, None] * eye) @ beta.unsqueeze(-1)).squeeze(-1))) * live
    quad = n_live - r.sum(-1) - rho * (beta * beta * live).sum(-1)
    alpha = torch.where(live, beta / d, torch.rsqrt(eps * d2.mean(-1, keepdim=True)))
    none = n_live == 0  # all gradients zero: α = 1 (any value gives the zero update)
    alpha = torch.where(none.unsqueeze(-1), 1.0, alpha)
    info = {
        "iterations": torch.where(none, 0, torch.where(plain, steps[:, 0], steps[:, 1])),
        "residual": r.abs().amax(-1),
        "regularised": ~plain | (n_live < K),
        "converged": none | plain | converged[:, 1],
    }
    return alpha, torch.where(none, 0.0, quad), warm, info


def nash_solve_torch(
    G: Tensor, warm: Tensor | None, iterations: int, tol: float, eps: float, ratio: float
) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
    """α for the float64 Gramian G on its device: (α, αᵀGα, the (2, K) starts of the plain and the ridged problem
    for the next call, diagnostics as tensors), from ``warm`` (2, K) or ones.

    The problem of ``NashMTL._solve``: with ``ratio > 0`` the floored Gramian (:func:`floor_gramian`) and G itself
    are solved as a batch, and the floored solution is kept unless it conflicts with a floored task
    (:func:`floor_conflicts`); zero-gradient tasks get ``α_i = 1/√(ε tr(G)/K)``; the ridge
    ``ρ = ε + 2 max(0, −λ_min)`` (λ_min bounded by :func:`negative_eigenvalue_bound`) when the plain problem fails.
    """
    if ratio <= 0.0:
        alpha, quad, beta, info = _solve(G.unsqueeze(0), warm, iterations, tol, eps)
        info = {k: v[0] for k, v in info.items()}
        zero = torch.zeros((), dtype=torch.int64, device=G.device)
        return alpha[0], quad[0], beta[0], {**info, "floored": zero, "floor_rejected": zero.bool()}
    Gf, raised = floor_gramian(G, ratio)
    alpha, quad, beta, info = _solve(torch.stack([Gf, G]), warm, iterations, tol, eps)
    quad[0] = quad[0] - (raised * alpha[0] * alpha[0]).sum()  # αᵀGα of G itself, not of the floored Gramian
    reject = floor_conflicts(G, alpha[0], raised)
    pick = reject.long()
    info = {k: v.gather(0, pick.view(1)).squeeze(0) for k, v in info.items()}
    info["floored"] = torch.where(reject, 0, (raised > 0.0).sum())
    info["floor_rejected"] = reject
    rows = pick.view(1, 1).expand(1, G.shape[0])
    return alpha.gather(0, rows)[0], quad.gather(0, pick.view(1))[0], beta.index_select(0, pick.view(1))[0], info
