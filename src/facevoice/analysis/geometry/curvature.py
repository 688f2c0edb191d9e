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

``convention="reference"`` reproduces the published study's estimator (riemannian-biometric-geometry,
``src/geometry/curvature.py``), which departs from the above: the ``k`` neighbours without the base
point, centred on the base point, give the PCA; the normal is the first direction after the tangent
ones with its SVD sign (not oriented), and a point whose neighbours need every direction for the
variance threshold (no normal left) gets curvature 0; the fit is the pure quadratic
``h = t^T A t`` (no constant or linear term) with a ridge of ``1e-3``, so its eigenvalues are half
the second-fundamental-form eigenvalues above; they are clipped to ``[-100, 100]``; the
Gaussian-type curvature is the product of the two largest *absolute* eigenvalues.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facevoice.analysis.geometry.knn import knn, limit_blas_threads


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
    convention: str = "standard",
    ridge: float = 1e-3,
) -> Curvature:
    """Second-fundamental-form curvature at ``n_points`` base points of a cloud.

    Args:
        X: points ``(N, D)``.
        n_points: base points, a seeded subsample without replacement (all points when ``N`` is smaller).
        k: neighbours per base point (searched among all ``N`` points).
        variance: variance fraction defining the tangent dimension; min_tangent: its floor.
        seed: seed of the subsample.
        convention: ``"standard"`` (METHODS.md, module docstring) or ``"reference"`` (the published code).
        ridge: ridge of the reference convention's quadratic fit.

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
    if convention not in ("standard", "reference"):
        raise ValueError(f"convention must be 'standard' or 'reference', got {convention!r}")
    rng = np.random.default_rng(seed)
    base = np.sort(rng.choice(n, size=n_points, replace=False)) if n > n_points else np.arange(n)
    _, nbr = knn(X, k, queries=base, backend=backend)
    with limit_blas_threads(1):
        if convention == "reference":
            return _reference_loop(X, base, nbr, variance, min_tangent, ridge)
        return _curvature_loop(X, base, nbr, X.mean(axis=0), variance, min_tangent)


def _reference_loop(
    X: np.ndarray, base: np.ndarray, nbr: np.ndarray, variance: float, min_tangent: int, ridge: float
) -> Curvature:
    """The published study's variant (module docstring); ``underdetermined`` flags points with no normal."""
    P = base.size
    mean_c, gauss_c = np.zeros(P), np.zeros(P)
    tdim = np.zeros(P, dtype=np.int64)
    no_normal = np.zeros(P, dtype=bool)
    for i, (p, nb) in enumerate(zip(base, nbr, strict=True)):
        off = X[nb] - X[p]  # (k, D), centred on the base point
        _, s, Vt = np.linalg.svd(off, full_matrices=False)
        m = min(tangent_dimension(s, variance, min_tangent), s.size)
        tdim[i] = m
        if m >= Vt.shape[0]:
            no_normal[i] = True
            continue
        t, h = off @ Vt[:m].T, off @ Vt[m]
        iu, ju = np.triu_indices(m)
        Q = t[:, iu] * t[:, ju] * np.where(iu == ju, 1.0, 2.0)  # t^T A t with A symmetric
        a = np.linalg.solve(Q.T @ Q + ridge * np.eye(Q.shape[1]), Q.T @ h)
        A = np.zeros((m, m))
        A[iu, ju] = a
        A[ju, iu] = a
        eig = np.clip(np.linalg.eigvalsh(A), -100.0, 100.0)
        mag = np.sort(np.abs(eig))[::-1]
        mean_c[i], gauss_c[i] = eig.mean(), mag[0] * mag[1]
    return Curvature(base, mean_c, gauss_c, tdim, no_normal)


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
