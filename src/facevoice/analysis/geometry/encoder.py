"""Per-encoder geometry of an embedding space (METHODS.md section 3).

* intrinsic dimension: Levina-Bickel MLE (k = 20, per-point estimates aggregated by the median)
  and TwoNN (Facco et al. 2017) as a second estimator, both on all (de-duplicated) samples of an
  encoder pooled over identities, in the encoder's own coordinates (as the published study);
* local curvature through the second fundamental form (see :mod:`.geometry_curvature`);
* compactness gap: mean cosine distance between identity centroids minus mean cosine distance
  from a sample to its identity centroid (L2-normalised samples, identities with >= 5 samples).

All functions take plain numpy arrays ``(N, D)`` and, where needed, identity labels ``(N,)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facevoice.analysis.geometry.curvature import local_curvature
from facevoice.analysis.geometry.knn import knn

_AGGREGATES = ("median", "mean", "mackay")


@dataclass
class IntrinsicDimension:
    """An intrinsic-dimension estimate and what it was computed from."""

    estimate: float
    method: str
    n_points: int
    n_duplicates: int = 0
    per_point: np.ndarray | None = field(default=None, repr=False)


@dataclass
class Compactness:
    """Compactness gap = ``inter`` (centroid-centroid) minus ``intra`` (sample-centroid), cosine."""

    gap: float
    inter: float
    intra: float
    n_identities: int
    n_samples: int
    dropped_identities: list = field(default_factory=list)


def _as_points(X: np.ndarray, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, D), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values ({int((~np.isfinite(X)).sum())} entries)")
    return X


def _dedupe(X: np.ndarray) -> tuple[np.ndarray, int]:
    """Exact duplicate rows make nearest-neighbour distances zero; keep the first copy of each, in order."""
    _, first = np.unique(X, axis=0, return_index=True)
    return X[np.sort(first)], X.shape[0] - first.size


def l2_normalize(X: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows of ``X`` ``(N, D)`` scaled to unit Euclidean norm."""
    X = np.asarray(X, dtype=np.float64)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), eps)


def levina_bickel(X: np.ndarray, k: int = 20, aggregate: str = "median", backend: str = "auto") -> IntrinsicDimension:
    """Levina-Bickel maximum-likelihood intrinsic dimension.

    Per point ``m(x) = [ (1/(k-1)) * sum_{j<k} log(T_k(x) / T_j(x)) ]^-1`` with ``T_j`` the distance to
    the j-th nearest neighbour (Levina & Bickel 2004, eq. 8). A point whose ``k`` neighbours are all
    (nearly) equidistant has no finite estimate (``sum log < 1e-8``) and is left out of the aggregate,
    as in the published study's code.

    Args:
        X: points ``(N, D)``; exact duplicate rows are removed first (counted in ``n_duplicates``).
        k: neighbours per point.
        aggregate: ``"median"`` of the per-point estimates (the study's choice), ``"mean"``, or
            ``"mackay"`` (inverse of the mean of inverses, MacKay & Ghahramani's correction).
        backend: kNN backend, see :func:`facevoice.analysis.geometry.knn.knn`.
    """
    if aggregate not in _AGGREGATES:
        raise ValueError(f"unknown aggregate {aggregate!r}; valid: {', '.join(_AGGREGATES)}")
    if k < 2:
        raise ValueError(f"Levina-Bickel needs k >= 2, got {k}")
    X, n_dup = _dedupe(_as_points(X))
    dist, _ = knn(X, k, backend=backend)
    return _levina_bickel_from(dist, aggregate, n_dup)


def _levina_bickel_from(dist: np.ndarray, aggregate: str, n_dup: int) -> IntrinsicDimension:
    """Levina-Bickel from ascending neighbour distances ``(N, k)`` of distinct points."""
    k = dist.shape[1]
    log_ratio = np.log(dist[:, -1:] / dist[:, :-1])  # (N, k-1)
    inv = log_ratio.mean(axis=1)  # 1 / m(x)
    with np.errstate(divide="ignore"):
        per_point = np.where(log_ratio.sum(axis=1) > 1e-8, 1.0 / inv, np.inf)
    ok = np.isfinite(per_point)
    if not ok.any():
        raise ValueError("Levina-Bickel: every point has equidistant neighbours; no finite estimate")
    if aggregate == "median":
        est = float(np.median(per_point[ok]))
    elif aggregate == "mean":
        est = float(np.mean(per_point[ok]))
    else:
        est = float(1.0 / np.mean(inv[ok]))
    return IntrinsicDimension(est, f"levina_bickel(k={k},{aggregate})", dist.shape[0], n_dup, per_point)


def twonn(X: np.ndarray, discard_fraction: float = 0.0, backend: str = "auto") -> IntrinsicDimension:
    """TwoNN intrinsic dimension (Facco et al. 2017).

    ``mu = r2 / r1`` per point follows a Pareto law with exponent ``d``; ``d`` is the slope, through the
    origin, of ``-log(1 - F(mu))`` against ``log(mu)``, ``F = i / N`` over the sorted ratios, the last
    point (``F = 1``) left out.

    Args:
        X: points ``(N, D)``; exact duplicate rows are removed first.
        discard_fraction: fraction of the largest ratios also left out of the fit, in ``[0, 1)``:
            0 fits every point (the published study's estimate, the default), 0.1 is Facco et al.'s
            recommendation against outlying ratios.
    """
    if not 0.0 <= discard_fraction < 1.0:
        raise ValueError(f"discard_fraction must be in [0, 1), got {discard_fraction}")
    X, n_dup = _dedupe(_as_points(X))
    dist, _ = knn(X, 2, backend=backend)
    return _twonn_from(dist, discard_fraction, n_dup)


def _twonn_from(dist: np.ndarray, discard_fraction: float, n_dup: int) -> IntrinsicDimension:
    """TwoNN from ascending neighbour distances ``(N, >=2)`` of distinct points."""
    mu = np.sort(dist[:, 1] / dist[:, 0])
    n = mu.shape[0]
    n_keep = max(int(np.floor(n * (1.0 - discard_fraction))), 2)
    n_keep = min(n_keep, n - 1)  # F = i/N reaches 1 at the last point, where -log(1-F) is infinite
    x = np.log(mu[:n_keep])
    y = -np.log(1.0 - np.arange(1, n_keep + 1) / n)
    est = float(np.dot(x, y) / np.dot(x, x))
    return IntrinsicDimension(est, f"twonn(discard={discard_fraction})", n, n_dup, mu)


def compactness_gap(X: np.ndarray, labels: np.ndarray, min_samples: int = 5) -> Compactness:
    """Compactness gap of an embedding space with identity labels.

    Samples are L2-normalised; identities with fewer than ``min_samples`` samples are left out (listed
    in ``dropped_identities``). ``inter`` = mean cosine distance over all pairs of distinct identity
    centroids; ``intra`` = mean over kept samples of the cosine distance to their own centroid.

    Args:
        X: embeddings ``(N, D)``.
        labels: identity labels ``(N,)``.
        min_samples: least samples an identity needs to be kept.
    """
    X = l2_normalize(_as_points(X))
    labels = np.asarray(labels)
    if labels.shape != (X.shape[0],):
        raise ValueError(f"labels must have shape ({X.shape[0]},), got {labels.shape}")
    ids, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    keep_id = counts >= min_samples
    dropped = ids[~keep_id].tolist()
    if keep_id.sum() < 2:
        raise ValueError(
            f"compactness gap needs at least 2 identities with >= {min_samples} samples, got {int(keep_id.sum())}"
        )
    rows = keep_id[inverse]
    Xk = X[rows]
    # Remap to 0..M-1 over the kept identities.
    remap = np.cumsum(keep_id) - 1
    lab = remap[inverse[rows]]
    m = int(keep_id.sum())
    centroids = np.zeros((m, X.shape[1]))
    np.add.at(centroids, lab, Xk)
    centroids /= counts[keep_id][:, None]
    cn = l2_normalize(centroids)
    cos_cc = cn @ cn.T
    iu = np.triu_indices(m, k=1)
    inter = float(np.mean(1.0 - cos_cc[iu]))
    intra = float(np.mean(1.0 - np.einsum("nd,nd->n", Xk, cn[lab])))
    return Compactness(inter - intra, inter, intra, m, int(rows.sum()), dropped)


def encoder_geometry(
    X: np.ndarray,
    labels: np.ndarray,
    *,
    k_id: int = 20,
    curvature_points: int = 1000,
    curvature_k: int = 50,
    min_samples: int = 5,
    l2: bool = False,
    twonn_discard: float = 0.0,
    curvature_convention: str = "standard",
    seed: int = 0,
    backend: str = "auto",
) -> dict:
    """Every per-encoder geometry figure of one embedding store.

    Args:
        X: embeddings ``(N, D)``; labels: identity labels ``(N,)``.
        l2: L2-normalise samples before intrinsic dimension and curvature (the compactness gap is
            always computed on L2-normalised samples); off by default, as in the published study.
        twonn_discard: see :func:`twonn`.
        curvature_convention: ``"standard"`` or ``"reference"``, see :func:`local_curvature`.
        seed: seed of the curvature subsample.

    Returns:
        A flat dict: ``id_mle``, ``id_twonn``, ``curv_mean``/``curv_mean_median`` (mean over points
        and median of the per-point mean curvature), ``curv_gauss``/``curv_gauss_median``,
        ``tangent_dim_median``, ``compactness_gap``/``inter``/``intra``, plus counts.
    """
    X = _as_points(X)
    Xg = l2_normalize(X) if l2 else X
    # One exact kNN search serves both intrinsic-dimension estimators (it dominates their cost).
    Xu, n_dup = _dedupe(Xg)
    dist, _ = knn(Xu, max(k_id, 2), backend=backend)
    mle = _levina_bickel_from(dist[:, :k_id], "median", n_dup)
    two = _twonn_from(dist[:, :2], twonn_discard, n_dup)
    curv = local_curvature(Xg, n_points=curvature_points, k=curvature_k, seed=seed, backend=backend,
                           convention=curvature_convention)  # fmt: skip
    comp = compactness_gap(X, labels, min_samples=min_samples)
    return {
        "n_samples": int(X.shape[0]),
        "dim": int(X.shape[1]),
        "n_duplicates": mle.n_duplicates,
        "id_mle": mle.estimate,
        "id_twonn": two.estimate,
        "curv_mean": float(np.mean(curv.mean_curvature)),
        "curv_mean_median": float(np.median(curv.mean_curvature)),
        "curv_gauss": float(np.mean(curv.gaussian_curvature)),
        "curv_gauss_median": float(np.median(curv.gaussian_curvature)),
        "tangent_dim_median": float(np.median(curv.tangent_dim)),
        "curv_underdetermined_frac": float(np.mean(curv.underdetermined)),
        "compactness_gap": comp.gap,
        "inter": comp.inter,
        "intra": comp.intra,
        "n_identities": comp.n_identities,
        "n_identities_dropped": len(comp.dropped_identities),
    }
