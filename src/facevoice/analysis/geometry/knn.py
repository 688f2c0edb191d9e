"""Exact k-nearest-neighbour search for the geometry analyses.

faiss (``IndexFlatL2``, exact) is used when it is installed because it is several times faster than
scikit-learn's brute force on 20,000 x 512 points; scikit-learn is the fallback. Either way the
returned distances are recomputed in float64 from the coordinates, so that ratios of nearby
distances (intrinsic dimension) do not inherit float32 cancellation from ``|x|^2 + |y|^2 - 2 x.y``.
"""

from __future__ import annotations

import numpy as np

from facevoice.core.threads import limit_threads

_BACKENDS = ("auto", "faiss", "sklearn")


def limit_blas_threads(n: int = 1):
    """Cap BLAS threads for a block: loops of many small SVD / least-squares / matrix products
    (curvature, Gromov-Wasserstein) run several times slower with a multi-threaded BLAS on a busy machine."""
    return limit_threads(n, blas_only=True, torch_threads=False)


def _faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _search(X: np.ndarray, Q: np.ndarray, n_query: int, backend: str) -> np.ndarray:
    """Indices of the ``n_query`` nearest rows of ``X`` to every row of ``Q``."""
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    Q32 = np.ascontiguousarray(Q, dtype=np.float32)
    if backend == "faiss":
        import faiss

        index = faiss.IndexFlatL2(X32.shape[1])
        index.add(X32)
        _, idx = index.search(Q32, n_query)
        return idx.astype(np.int64)
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=n_query, algorithm="brute").fit(X32)
    return nn.kneighbors(Q32, return_distance=False).astype(np.int64)


def knn(
    X: np.ndarray, k: int, queries: np.ndarray | None = None, backend: str = "auto", chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest neighbours of rows of ``X`` among all rows of ``X``, excluding the row itself.

    Args:
        X: points, shape ``(N, D)``.
        k: neighbours per point; needs ``k < N``.
        queries: row indices ``(Q,)`` to search for; all rows when None.
        backend: ``"auto"`` (faiss when importable, else scikit-learn), ``"faiss"`` or ``"sklearn"``.
        chunk: rows per block when recomputing distances in float64.

    Returns:
        ``(dist, idx)``, both ``(Q, k)`` (``Q = N`` without ``queries``): Euclidean distances in
        float64, ascending along each row, and the neighbour row indices.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"knn expects a 2-D array (N, D), got shape {X.shape}")
    n = X.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"knn needs 1 <= k < N, got k={k} with N={n} points")
    if backend not in _BACKENDS:
        raise ValueError(f"unknown knn backend {backend!r}; valid: {', '.join(_BACKENDS)}")
    if backend == "auto":
        backend = "faiss" if _faiss_available() else "sklearn"
    q = np.arange(n) if queries is None else np.asarray(queries, dtype=np.int64).reshape(-1)
    if q.size and (q.min() < 0 or q.max() >= n):
        raise ValueError(f"knn queries must be row indices in [0, {n}), got range [{q.min()}, {q.max()}]")
    idx = _search(X, X[q], k + 1, backend)
    # Drop the query itself; with exact duplicates it need not come first, so remove it by index
    # and fall back to dropping the farthest candidate when it is absent.
    is_self = idx == q[:, None]
    no_self = ~is_self.any(axis=1)
    is_self[no_self, -1] = True
    idx = idx[~is_self].reshape(q.size, k)
    X64 = np.asarray(X, dtype=np.float64)
    dist = np.empty((q.size, k), dtype=np.float64)
    for start in range(0, q.size, chunk):
        stop = min(start + chunk, q.size)
        diff = X64[idx[start:stop]] - X64[q[start:stop], None, :]
        dist[start:stop] = np.sqrt(np.einsum("nkd,nkd->nk", diff, diff))
    order = np.argsort(dist, axis=1, kind="stable")
    return np.take_along_axis(dist, order, axis=1), np.take_along_axis(idx, order, axis=1)
