"""Local curvature of an embedding cloud through the second fundamental form (METHODS.md section 3).

For each of ``n_points`` base points (a seeded subsample), take its ``k`` nearest neighbours:

1. local PCA of the neighbourhood (the base point and its neighbours, centred on their mean); the
   tangent dimension ``m`` is the least number of components reaching ``variance`` (95%) of the
   neighbourhood variance, at least ``min_tangent`` (2);
2. the first normal direction is the ``(m+1)``-th principal direction; neighbours get tangent
   coordinates ``t`` (``m``) and a normal coordinate ``h`` relative to the base point;
3. least-squares fit ``h = c + b.t + 1/2 t^T H t``; ``H`` (``m x m``, symmetric) is the second
   fundamental form along that normal and its eigenvalues are the principal curvatures;
4. mean curvature = mean of the eigenvalues, Gaussian-type curvature = product of the two largest.

The sign of a principal-direction vector is arbitrary, so the normal is oriented towards the mean
of the whole cloud (for a sphere: inwards, giving positive curvature ``1/R``); when the base point
sits on that mean the normal is oriented so that ``trace(H) >= 0``.

With ``k = 50`` and ``m >= 9`` the quadratic has more coefficients than there are neighbours; the
fit then takes the minimum-norm least-squares solution (``numpy.linalg.lstsq``) and the point is
flagged in ``underdetermined``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facevoice.analysis.geometry_knn import knn, limit_blas_threads


@dataclass
class Curvature:
    """Per-base-point curvature figures, each ``(P,)``."""

    points: np.ndarray
    mean_curvature: np.ndarray
    gaussian_curvature: np.ndarray
    tangent_dim: np.ndarray
    underdetermined: np.ndarray


def tangent_dimension(singular_values: np.ndarray, variance: float = 0.95, min_dim: int = 2) -> int:
    """Least number of principal components whose variance reaches ``variance`` of the total (>= ``min_dim``).

    Args:
        singular_values: singular values ``(R,)`` of the centred neighbourhood, descending.
    """
    var = np.asarray(singular_values, dtype=np.float64) ** 2
    total = var.sum()
    if total <= 0:
        return min_dim
    cum = np.cumsum(var) / total
    m = int(np.searchsorted(cum, variance - 1e-12) + 1)
    return max(m, min_dim)


def _quadratic_design(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Design matrix ``[1, t, t_i t_j (i <= j)]`` for ``t`` ``(K, m)``, and the (i, j) index pairs."""
    m = t.shape[1]
    iu, ju = np.triu_indices(m)
    quad = t[:, iu] * t[:, ju]
    return np.hstack([np.ones((t.shape[0], 1)), t, quad]), iu, ju


def second_fundamental_form(t: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, bool]:
    """Hessian ``H`` ``(m, m)`` of the least-squares quadratic ``h ~ c + b.t + 1/2 t^T H t``.

    Args:
        t: tangent coordinates ``(K, m)``; h: normal coordinates ``(K,)``.

    Returns:
        ``(H, underdetermined)``: the symmetric Hessian and whether the fit had fewer points than
        coefficients (then the minimum-norm solution is used).
    """
    A, iu, ju = _quadratic_design(t)
    coef, *_ = np.linalg.lstsq(A, h, rcond=None)
    m = t.shape[1]
    a = coef[1 + m :]
    H = np.zeros((m, m))
    # t_i^2 carries H_ii / 2; t_i t_j (i < j) carries H_ij (it stands for both H_ij and H_ji halves).
    diag = iu == ju
    H[iu[diag], ju[diag]] = 2.0 * a[diag]
    H[iu[~diag], ju[~diag]] = a[~diag]
    H[ju[~diag], iu[~diag]] = a[~diag]
    return H, A.shape[1] > A.shape[0]


def local_curvature(
    X: np.ndarray,
    n_points: int = 1000,
    k: int = 50,
    variance: float = 0.95,
    min_tangent: int = 2,
    seed: int = 0,
    backend: str = "auto",
) -> Curvature:
    """Second-fundamental-form curvature at ``n_points`` base points of a cloud.

    Args:
        X: points ``(N, D)``.
        n_points: base points, a seeded subsample without replacement (all points when ``N`` is smaller).
        k: neighbours per base point (searched among all ``N`` points).
        variance: variance fraction defining the tangent dimension; min_tangent: its floor.
        seed: seed of the subsample.

    Returns:
        :class:`Curvature` with per-base-point arrays ``(P,)``, ``P = min(n_points, N)``.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"local_curvature expects (N, D) points, got shape {X.shape}")
    n, d = X.shape
    if d < min_tangent + 1:
        raise ValueError(f"curvature needs ambient dimension > {min_tangent}, got D={d}")
    if k + 1 < min_tangent + 2:
        raise ValueError(f"k={k} neighbours are too few to fit a curve in {min_tangent} tangent dimensions")
    rng = np.random.default_rng(seed)
    base = np.sort(rng.choice(n, size=n_points, replace=False)) if n > n_points else np.arange(n)
    _, nbr = knn(X, k, queries=base, backend=backend)
    centre = X.mean(axis=0)
    with limit_blas_threads(1):
        return _curvature_loop(X, base, nbr, centre, variance, min_tangent)


def _curvature_loop(
    X: np.ndarray, base: np.ndarray, nbr: np.ndarray, centre: np.ndarray, variance: float, min_tangent: int
) -> Curvature:
    d = X.shape[1]
    P = base.size
    mean_c = np.empty(P)
    gauss_c = np.empty(P)
    tdim = np.empty(P, dtype=np.int64)
    under = np.zeros(P, dtype=bool)
    for i, (p, nb) in enumerate(zip(base, nbr, strict=True)):
        Y = X[np.concatenate([[p], nb])]  # (k+1, D), base point first
        _, s, Vt = np.linalg.svd(Y - Y.mean(axis=0), full_matrices=False)
        m = min(tangent_dimension(s, variance, min_tangent), Vt.shape[0] - 1, d - 1)
        if m < min_tangent:
            raise ValueError(f"neighbourhood of point {p} spans too few directions for {min_tangent} tangent dims")
        normal = Vt[m]
        to_centre = centre - X[p]
        orient = float(to_centre @ normal)
        if orient < 0:
            normal = -normal
        off = Y - X[p]
        H, under[i] = second_fundamental_form(off @ Vt[:m].T, off @ normal)
        if orient == 0.0 and np.trace(H) < 0:
            H = -H
        eig = np.sort(np.linalg.eigvalsh(H))[::-1]
        mean_c[i] = eig.mean()
        gauss_c[i] = eig[0] * eig[1]
        tdim[i] = m
    return Curvature(base, mean_c, gauss_c, tdim, under)
