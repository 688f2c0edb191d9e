"""Cross-modal geometry of a face encoder x voice encoder pair (METHODS.md section 3).

All metrics compare the two modalities on L2-normalised identity centroids (rows aligned by
identity): linear and RBF CKA, Gromov-Wasserstein distance (POT), spectral-gap divergence; the
intrinsic-dimension mismatch compares the per-encoder (sample) estimates.
:func:`facevoice.analysis.crossmodal.pair.pair_metrics` gathers them with the cross-modal
verification EER of the CCA baseline for the pair.

Conventions where METHODS.md leaves a choice follow the published study (riemannian-biometric-geometry,
``src/geometry/cross_modal.py``, ``scripts/01_extract_embeddings.py``): a centroid is the mean of the
encoder's raw outputs, then L2-normalised; Gromov-Wasserstein subsamples the two sets independently
(legacy ``RandomState(seed)``, face set first); the spectra keep ``min(n_eigs, N - 1)`` eigenvalues and
the shorter one is padded with zeros.
"""

from __future__ import annotations

import numpy as np

from facevoice.analysis.geometry.encoder import l2_normalize, levina_bickel
from facevoice.analysis.geometry.knn import knn, limit_blas_threads


def identity_centroids(
    X: np.ndarray, labels: np.ndarray, normalize_samples: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised identity centroids: the mean of each identity's samples, scaled to unit norm.

    Args:
        X: embeddings ``(N, D)``; labels: identities ``(N,)``.
        normalize_samples: L2-normalise the samples before averaging (off: the published study's
            centroids, the mean of the raw encoder outputs).

    Returns:
        ``(ids, C)``: sorted unique identities ``(M,)`` and centroids ``(M, D)`` with unit norm.
    """
    X = l2_normalize(X) if normalize_samples else np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    if labels.shape != (X.shape[0],):
        raise ValueError(f"labels must have shape ({X.shape[0]},), got {labels.shape}")
    ids, inv = np.unique(labels, return_inverse=True)
    C = np.zeros((ids.size, X.shape[1]))
    np.add.at(C, inv, X)
    return ids, l2_normalize(C)


def aligned_centroids(
    face_X: np.ndarray,
    face_labels: np.ndarray,
    voice_X: np.ndarray,
    voice_labels: np.ndarray,
    normalize_samples: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroids (:func:`identity_centroids`) of the identities present in both modalities, row-aligned.

    Returns:
        ``(ids (M,), face_C (M, D_f), voice_C (M, D_v))``.
    """
    fid, fc = identity_centroids(face_X, face_labels, normalize_samples)
    vid, vc = identity_centroids(voice_X, voice_labels, normalize_samples)
    common, fi, vi = np.intersect1d(fid, vid, return_indices=True)
    if common.size < 3:
        raise ValueError(f"cross-modal geometry needs >= 3 identities present in both modalities, found {common.size}")
    return common, fc[fi], vc[vi]


def _check_pair(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"expected row-aligned (N, D1) and (N, D2) arrays, got {X.shape} and {Y.shape}")
    if X.shape[0] < 2:
        raise ValueError("need at least 2 rows")
    return X, Y


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Linear CKA (Kornblith et al. 2019): ``|Yc^T Xc|_F^2 / (|Xc^T Xc|_F |Yc^T Yc|_F)``, columns centred.

    Args:
        X: ``(N, D1)``; Y: ``(N, D2)``, rows aligned. Returns a value in ``[0, 1]``.
    """
    X, Y = _check_pair(X, Y)
    X = X - X.mean(axis=0)
    Y = Y - Y.mean(axis=0)
    if X.shape[0] < max(X.shape[1], Y.shape[1]):  # Gram form is cheaper when N < D
        K, L = X @ X.T, Y @ Y.T
        num, dx, dy = np.sum(K * L), np.linalg.norm(K), np.linalg.norm(L)
    else:
        num = np.linalg.norm(Y.T @ X) ** 2
        dx, dy = np.linalg.norm(X.T @ X), np.linalg.norm(Y.T @ Y)
    if dx == 0 or dy == 0:
        raise ValueError("linear CKA is undefined for a constant representation")
    return float(num / (dx * dy))


def _rbf_gram(X: np.ndarray, sigma_frac: float) -> np.ndarray:
    sq = np.sum(X * X, axis=1)
    D2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * X @ X.T, 0.0)
    np.fill_diagonal(D2, 0.0)
    iu = np.triu_indices(X.shape[0], k=1)
    med = np.median(np.sqrt(D2[iu]))
    if med == 0:
        raise ValueError("RBF CKA bandwidth is zero: the median pairwise distance is 0")
    sigma = sigma_frac * med
    return np.exp(-D2 / (2.0 * sigma**2))


def _centre_gram(K: np.ndarray) -> np.ndarray:
    return K - K.mean(axis=0, keepdims=True) - K.mean(axis=1, keepdims=True) + K.mean()


def rbf_cka(X: np.ndarray, Y: np.ndarray, sigma_frac: float = 1.0) -> float:
    """RBF-kernel CKA: ``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` with centred Gram matrices.

    The bandwidth of each kernel is ``sigma_frac`` times the median pairwise Euclidean distance of that
    representation, so the value is invariant to orthogonal transforms and isotropic scaling.

    Args:
        X: ``(N, D1)``; Y: ``(N, D2)``, rows aligned.
    """
    X, Y = _check_pair(X, Y)
    Kc = _centre_gram(_rbf_gram(X, sigma_frac))
    Lc = _centre_gram(_rbf_gram(Y, sigma_frac))
    return float(np.sum(Kc * Lc) / np.sqrt(np.sum(Kc * Kc) * np.sum(Lc * Lc)))


def cosine_cost(X: np.ndarray) -> np.ndarray:
    """Cosine-distance matrix ``1 - cos`` of the rows of ``X`` ``(N, D)``, scaled by its maximum: ``(N, N)``."""
    Xn = l2_normalize(X)
    C = np.clip(1.0 - Xn @ Xn.T, 0.0, None)
    np.fill_diagonal(C, 0.0)
    top = C.max()
    return C / top if top > 0 else C


def _subsample(n: int, max_points: int, rng: np.random.RandomState) -> np.ndarray:
    return rng.choice(n, size=max_points, replace=False) if n > max_points else np.arange(n)


def gromov_wasserstein(
    X: np.ndarray, Y: np.ndarray, max_points: int = 500, seed: int = 0, subsample: str = "independent"
) -> float:
    """Gromov-Wasserstein discrepancy between two point sets (POT, square loss, uniform weights).

    Costs are cosine-distance matrices scaled by their maximum. Sets larger than ``max_points`` are
    subsampled with a legacy ``numpy.random.RandomState(seed)``: ``"independent"`` draws the rows of
    ``X`` and then those of ``Y`` (the published study; GW needs no correspondence), ``"aligned"``
    keeps the same rows in both (identity-aligned centroids, same ``N``).

    Args:
        X: ``(N1, D1)``; Y: ``(N2, D2)``.
    """
    import ot

    if subsample not in ("independent", "aligned"):
        raise ValueError(f"subsample must be 'independent' or 'aligned', got {subsample!r}")
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    if subsample == "aligned" and X.shape[0] != Y.shape[0]:
        raise ValueError(f"aligned subsampling needs row-aligned sets, got {X.shape[0]} and {Y.shape[0]} rows")
    rng = np.random.RandomState(seed)
    ix = _subsample(X.shape[0], max_points, rng)
    iy = ix if subsample == "aligned" else _subsample(Y.shape[0], max_points, rng)
    C1, C2 = cosine_cost(X[ix]), cosine_cost(Y[iy])
    p, q = ot.unif(C1.shape[0]), ot.unif(C2.shape[0])
    with limit_blas_threads(1):
        return float(ot.gromov.gromov_wasserstein2(C1, C2, p, q, loss_fun="square_loss"))


def laplacian_spectrum(X: np.ndarray, k: int = 20, n_eigs: int = 50, dense_max: int = 4000) -> np.ndarray:
    """Smallest eigenvalues of the normalised Laplacian of the symmetrised kNN graph, scaled by their max.

    Neighbours are found on L2-normalised rows (cosine); the graph is unweighted,
    ``A = A_knn OR A_knn^T``, ``L = I - D^-1/2 A D^-1/2``.

    Args:
        X: ``(N, D)``. Returns ``(min(n_eigs, N - 1),)`` ascending, in ``[0, 1]`` (ARPACK's limit,
            kept for the dense solver too so both give the published study's spectrum).
        dense_max: up to this ``N`` a dense eigen-solver, above it ARPACK on the sparse matrix.
    """
    from scipy import sparse

    X = l2_normalize(X)
    n = X.shape[0]
    _, idx = knn(X, min(k, n - 1))
    rows = np.repeat(np.arange(n), idx.shape[1])
    A = sparse.coo_matrix((np.ones(rows.size), (rows, idx.ravel())), shape=(n, n)).tocsr()
    A = ((A + A.T) > 0).astype(np.float64)
    deg = np.asarray(A.sum(axis=1)).ravel()
    dinv = sparse.diags(1.0 / np.sqrt(deg))
    L = sparse.identity(n) - dinv @ A @ dinv
    m = min(n_eigs, n - 1)
    if n <= dense_max:
        with limit_blas_threads(1):  # a dense 1,000 x 1,000 eigvalsh: ~0.5 s on one thread, often slower on more
            eig = np.linalg.eigvalsh(L.toarray())[:m]
    else:  # largest of 2I - L are the smallest of L (the spectrum lies in [0, 2])
        from scipy.sparse.linalg import eigsh

        top = eigsh(2.0 * sparse.identity(n) - L, k=m, which="LA", return_eigenvectors=False)
        eig = np.sort(2.0 - top)
    eig = np.clip(eig, 0.0, None)
    return eig / eig.max() if eig.max() > 0 else eig


def spectral_gap_divergence(X: np.ndarray, Y: np.ndarray, k: int = 20, n_eigs: int = 50) -> float:
    """L2 distance between the scaled Laplacian spectra of two point sets (see :func:`laplacian_spectrum`).

    Args:
        X: ``(N1, D1)``; Y: ``(N2, D2)``; both need ``N > 2``; the shorter spectrum is padded with zeros.
    """
    sx, sy = laplacian_spectrum(X, k, n_eigs), laplacian_spectrum(Y, k, n_eigs)
    m = max(sx.size, sy.size)
    return float(np.linalg.norm(np.pad(sx, (0, m - sx.size)) - np.pad(sy, (0, m - sy.size))))


def id_mismatch(X: np.ndarray, Y: np.ndarray, k: int = 20) -> tuple[float, float, float]:
    """``(|ID_x - ID_y|, ID_x, ID_y)`` with Levina-Bickel (median) estimates of ``(N1, D1)``, ``(N2, D2)``.

    The study's ID mismatch takes ``X``, ``Y`` = all samples of the face and the voice encoder (the
    per-encoder ``id_mle``); on identity centroids it gives ``id_mismatch_centroids``.
    """
    ix = levina_bickel(X, k=min(k, X.shape[0] - 1)).estimate
    iy = levina_bickel(Y, k=min(k, Y.shape[0] - 1)).estimate
    return abs(ix - iy), ix, iy
