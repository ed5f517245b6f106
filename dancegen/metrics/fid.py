"""Fréchet distance (FID_k, FID_g) and diversity (Div_k, Div_g) on per-clip motion features.

The protocol (Bailando, FineDance/LODGE, GCDance) z-normalises generated and ground-truth features with the
ground-truth mean and population standard deviation, then computes

    FID = |μ_gen − μ_gt|² + tr(Σ_gen) + tr(Σ_gt) − 2 tr((Σ_gen Σ_gt)^½)

with sample covariances (``np.cov``, ddof 1), and diversity as the mean pairwise Euclidean distance.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError

STD_EPS = 1e-10
SQRTM_JITTER = 1e-5


def _as_features(features: np.ndarray, what: str, min_rows: int = 1) -> np.ndarray:
    arr = np.asarray(features)
    if arr.ndim != 2:
        raise DataError(f"{what} must be a 2-D array (clips, features), got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise DataError(f"{what} needs at least {min_rows} clips, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        raise DataError(f"{what} contains NaN or infinite values")
    return arr


def normalize(gen_features: np.ndarray, gt_features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z-normalise both sets with the ground truth's mean and population std (+1e-10), in float32.

    Returns ``(gen_normalised, gt_normalised)``.
    """
    gen = _as_features(gen_features, "generated features").astype(np.float32)
    gt = _as_features(gt_features, "ground-truth features").astype(np.float32)
    if gen.shape[1] != gt.shape[1]:
        raise DataError(f"feature sizes differ: generated {gen.shape[1]}, ground truth {gt.shape[1]}")
    mean = gt.mean(axis=0)
    std = gt.std(axis=0)  # ddof 0
    return (gen - mean) / (std + STD_EPS), (gt - mean) / (std + STD_EPS)


def fid(gen_features: np.ndarray, gt_features: np.ndarray, normalise: bool = True) -> float:
    """Fréchet distance between two feature sets ``(N, D)`` and ``(M, D)``, N, M ≥ 2.

    With ``normalise=True`` (the protocol) both sets are first passed through :func:`normalize`. The matrix
    square root is ``scipy.linalg.sqrtm`` of ``Σ_gen Σ_gt``; if it is not finite, both covariances get
    ``1e-5·I`` added and it is recomputed. The real part of the result is returned.
    """
    from scipy import linalg

    gen = _as_features(gen_features, "generated features", min_rows=2)
    gt = _as_features(gt_features, "ground-truth features", min_rows=2)
    if gen.shape[1] != gt.shape[1]:
        raise DataError(f"feature sizes differ: generated {gen.shape[1]}, ground truth {gt.shape[1]}")
    if normalise:
        gen, gt = normalize(gen, gt)
    mu_gen, mu_gt = gen.mean(axis=0), gt.mean(axis=0)
    sigma_gen = np.atleast_2d(np.cov(gen, rowvar=False))
    sigma_gt = np.atleast_2d(np.cov(gt, rowvar=False))
    diff = mu_gen - mu_gt
    covmean = linalg.sqrtm(sigma_gen @ sigma_gt)
    if not np.isfinite(covmean).all():
        jitter = np.eye(sigma_gen.shape[0]) * SQRTM_JITTER
        covmean = linalg.sqrtm((sigma_gen + jitter) @ (sigma_gt + jitter))
    value = diff.dot(diff) + np.trace(sigma_gen) + np.trace(sigma_gt) - 2 * np.trace(covmean)
    return float(np.real(value))


def diversity(features: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs ``i < j`` of the rows of ``features`` ``(N, D)``, N ≥ 2.

    Takes the features as given; the protocol passes the :func:`normalize`-d sets (Div_k, Div_g).
    """
    from scipy.spatial.distance import pdist

    arr = _as_features(features, "features", min_rows=2)
    return float(pdist(arr.astype(np.float64), metric="euclidean").mean())
