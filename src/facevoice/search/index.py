"""Vector indexes over unit-norm embeddings through faiss: exact, HNSW, IVF-SQ8 and IVF-PQ.

Every vector is L2-normalised before it is added or searched, so faiss's inner product is the cosine
similarity the methods score with, and an exact index ranks exactly as brute-force cosine does.

=========  ==============================================  ==============================================
kind       faiss index (inner product)                     bytes per 128-d vector; ``auto`` picks it
=========  ==============================================  ==============================================
``flat``   ``IndexFlatIP``: exact, every vector compared    512; up to :data:`AUTO_EXACT_MAX` items
``hnsw``   ``IndexHNSWFlat``: a graph over the full         ~780; up to :data:`AUTO_HNSW_MAX` items
           vectors, no training
``ivfsq``  ``IndexIVFScalarQuantizer`` (8 bits): k-means    ~140; above :data:`AUTO_HNSW_MAX` items
           lists, trained on a sample
``ivfpq``  ``IndexIVFPQ``: k-means lists + product-         ``m`` (+8 for the id); only when asked for
           quantised codes, trained on a sample
=========  ==============================================  ==============================================

Build and search parameters are explicit (``params``) and recorded with the index; approximate search
quality is never assumed: benchmarks/search_bench.py measures recall against the exact index in the
same run (docs/search.md has the table the defaults below come from). Voice queries lie far from the
face clusters, so inverted lists need many probes (``nprobe``) to reach the exact neighbours; the
defaults favour recall. faiss is imported inside the functions (an optional dependency, ``[search]``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("flat", "hnsw", "ivfsq", "ivfpq")
IVF_KINDS = ("ivfsq", "ivfpq")
AUTO_EXACT_MAX = 50_000
AUTO_HNSW_MAX = 10_000_000  # ~8 GB of HNSW at 128-d; beyond, 8-bit codes take a fifth of it

#: Parameters of each kind; ``None`` = chosen from the data size (:func:`resolve_params`).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "flat": {},
    # at 10^6 128-d faces: recall@10 0.96 at 0.6 ms per query on one thread (docs/search.md)
    "hnsw": {"M": 32, "ef_construction": 40, "ef_search": 128},
    # at 10^6: recall@10 0.87 at 0.8 ms (nprobe 64); 0.77 at nprobe 32
    "ivfsq": {"nlist": None, "nprobe": 64, "train_size": None, "seed": 0},
    # at 10^6: recall@10 0.70 with m = d/2 at nprobe 64; 0.40 with m = d/4 at nprobe 32
    "ivfpq": {"nlist": None, "m": None, "nbits": 8, "nprobe": 64, "train_size": None, "seed": 0},
}
#: Parameters that only change how the index is searched (may be changed after building).
SEARCH_PARAMS = {"flat": (), "hnsw": ("ef_search",), "ivfsq": ("nprobe",), "ivfpq": ("nprobe",)}
FAISS_CLASSES = {
    "flat": "IndexFlatIP",
    "hnsw": "IndexHNSWFlat",
    "ivfsq": "IndexIVFScalarQuantizer",
    "ivfpq": "IndexIVFPQ",
}


def _faiss():
    # faiss's loader logs each CPU-specific library it tries at INFO: noise on every command
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("facevoice search needs faiss: pip install 'facevoice[search]' (faiss-cpu)") from exc
    return faiss


def faiss_version() -> str:
    return str(_faiss().__version__)


def choose_kind(n_items: int, kind: str = "auto") -> tuple[str, str]:
    """``(kind, why)``: the requested kind, or the automatic choice for ``n_items`` vectors."""
    if kind != "auto":
        if kind not in KINDS:
            raise ValueError(f"unknown index kind {kind!r}; valid: auto, {', '.join(KINDS)}")
        return kind, "requested"
    if n_items <= AUTO_EXACT_MAX:
        return "flat", f"auto: {n_items:,} items <= {AUTO_EXACT_MAX:,} (exact search)"
    if n_items <= AUTO_HNSW_MAX:
        return "hnsw", f"auto: {AUTO_EXACT_MAX:,} < {n_items:,} items <= {AUTO_HNSW_MAX:,}"
    return "ivfsq", f"auto: {n_items:,} items > {AUTO_HNSW_MAX:,} (8-bit codes)"


def _pq_subquantizers(dim: int) -> int:
    """Default PQ ``m``: about 2 dimensions per one-byte code, and a divisor of ``dim``."""
    target = max(1, dim // 2)
    return max(m for m in range(1, target + 1) if dim % m == 0)


def resolve_params(kind: str, dim: int, n_items: int, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every parameter of ``kind`` for ``dim``-d vectors and ``n_items`` training items (``None`` filled in).

    Unknown names raise, listing the valid ones.
    """
    if kind not in DEFAULT_PARAMS:
        raise ValueError(f"unknown index kind {kind!r}; valid: {', '.join(KINDS)}")
    given = dict(given or {})
    unknown = sorted(set(given) - set(DEFAULT_PARAMS[kind]))
    if unknown:
        valid = ", ".join(DEFAULT_PARAMS[kind]) or "none"
        raise ValueError(f"unknown {kind} index parameter(s) {unknown}; valid: {valid}")
    params = {**DEFAULT_PARAMS[kind], **given}
    for key, value in params.items():
        if value is not None and key != "seed" and int(value) < 1:
            raise ValueError(f"{kind} parameter {key} must be >= 1, got {value}")
    if kind in IVF_KINDS:
        if params["nlist"] is None:  # about 4 sqrt(n) lists (faiss's guidance), a power of two
            params["nlist"] = int(2 ** round(math.log2(max(16.0, 4 * math.sqrt(max(n_items, 1))))))
        centroids = int(params["nlist"])
        if kind == "ivfpq":
            if params["m"] is None:
                params["m"] = _pq_subquantizers(dim)
            if dim % int(params["m"]):
                raise ValueError(f"ivfpq m={params['m']} must divide the dimension {dim}")
            centroids = max(centroids, 2 ** int(params["nbits"]))
        if params["train_size"] is None:  # k-means wants >= 39 points per centroid (faiss warns below)
            params["train_size"] = int(min(n_items, 64 * centroids))
        need = 39 * centroids
        if min(n_items, int(params["train_size"])) < need:
            got = min(n_items, int(params["train_size"]))
            raise ValueError(
                f"an {kind} index with {centroids:,} k-means centroids (nlist / 2^nbits) needs >= {need:,} training "
                f"vectors, got {got:,}: use --kind flat or hnsw for this gallery"
            )
    return {k: (int(v) if isinstance(v, (int, np.integer)) else v) for k, v in params.items()}


class VectorIndex:
    """A faiss index over unit vectors; rows are numbered 0..n-1 in insertion order.

    Build with :meth:`create` (``train`` vectors needed for ``ivfpq``), fill with :meth:`add`, query with
    :meth:`search`; :meth:`save` / :meth:`load` use faiss's own file format (no pickle).
    """

    def __init__(self, index: Any, kind: str, params: Mapping[str, Any]) -> None:
        self.index, self.kind, self.params = index, kind, dict(params)
        self._direct_map = False

    @classmethod
    def create(
        cls, kind: str, dim: int, params: Mapping[str, Any] | None = None, train: np.ndarray | None = None
    ) -> VectorIndex:
        """An empty index of ``kind`` (``ivf*`` kinds are trained on ``train``); ``params``: :func:`resolve_params`."""
        faiss = _faiss()
        params = resolve_params(kind, dim, len(train) if kind in IVF_KINDS and train is not None else 0, params)
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, params["M"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params["ef_construction"]
            index.hnsw.efSearch = params["ef_search"]
        else:
            quantizer = faiss.IndexFlatIP(dim)
            if kind == "ivfsq":
                index = faiss.IndexIVFScalarQuantizer(
                    quantizer, dim, params["nlist"], faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
                )
            else:
                index = faiss.IndexIVFPQ(
                    quantizer, dim, params["nlist"], params["m"], params["nbits"], faiss.METRIC_INNER_PRODUCT
                )
                index.pq.cp.seed = int(params["seed"])
            index.nprobe = params["nprobe"]
            index.cp.seed = int(params["seed"])  # seeded k-means: the same data builds the same index
            sample = _as_unit_rows(train, dim)
            if len(sample) > params["train_size"]:
                rng = np.random.default_rng(params["seed"])
                sample = sample[np.sort(rng.choice(len(sample), params["train_size"], replace=False))]
            index.train(sample)
        return cls(index, kind, params)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def __len__(self) -> int:
        return self.ntotal

    def add(self, X: np.ndarray) -> range:
        """Append unit vectors ``X`` (n, D); returns the rows they got."""
        X = _as_unit_rows(X, self.dim)
        start = self.ntotal
        if len(X):
            self.index.add(X)
        self._direct_map = False
        return range(start, self.ntotal)

    def set_search_params(self, **params: Any) -> None:
        """Change search-time parameters (``ef_search`` for hnsw, ``nprobe`` for ivfpq)."""
        allowed = SEARCH_PARAMS[self.kind]
        bad = sorted(set(params) - set(allowed))
        if bad:
            raise ValueError(f"{bad} are not search parameters of a {self.kind} index; valid: {list(allowed)}")
        for key, value in params.items():
            if int(value) < 1:
                raise ValueError(f"{key} must be >= 1, got {value}")
            self.params[key] = int(value)
        if self.kind == "hnsw":
            self.index.hnsw.efSearch = self.params["ef_search"]
        elif self.kind in IVF_KINDS:
            self.index.nprobe = self.params["nprobe"]

    def search(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows for each unit query ``Q`` (nq, D) → ``scores`` (nq, k) float32 (cosine, best first)
        and ``rows`` (nq, k) int64; a row of -1 (score -inf) pads a list shorter than ``k``."""
        faiss = _faiss()
        Q = _as_unit_rows(Q, self.dim)
        k = int(k)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if len(Q) == 0 or self.ntotal == 0:
            return np.full((len(Q), k), -np.inf, np.float32), np.full((len(Q), k), -1, np.int64)
        kk = min(k, self.ntotal)
        if self.kind == "hnsw":  # the candidate list must hold at least k entries
            params = faiss.SearchParametersHNSW(efSearch=max(self.params["ef_search"], kk))
            scores, rows = self.index.search(Q, kk, params=params)
        else:
            scores, rows = self.index.search(Q, kk)
        if kk < k:
            scores = np.pad(scores, ((0, 0), (0, k - kk)), constant_values=-np.inf)
            rows = np.pad(rows, ((0, 0), (0, k - kk)), constant_values=-1)
        scores = np.where(rows < 0, -np.inf, scores).astype(np.float32)
        return scores, rows.astype(np.int64)

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        """Stored vectors of ``rows`` (n, D): exact for flat / hnsw, the decoded codes for ivfsq / ivfpq."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= self.ntotal):
            raise IndexError(f"rows outside [0, {self.ntotal})")
        if self.kind in IVF_KINDS and not self._direct_map:
            _faiss().extract_index_ivf(self.index).make_direct_map()
            self._direct_map = True
        if rows.size == 0:
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(self.index.reconstruct_batch(rows), dtype=np.float32)

    def nbytes(self) -> int:
        """Size of the serialised index (what it takes on disk and, for these kinds, about what it takes in memory)."""
        return int(_faiss().serialize_index(self.index).size)

    def save(self, path: str | Path) -> Path:
        """Write the index in faiss's own binary format."""
        path = Path(path)
        _faiss().write_index(self.index, str(path))
        return path

    @classmethod
    def load(cls, path: str | Path, kind: str, params: Mapping[str, Any]) -> VectorIndex:
        """Read an index written by :meth:`save`; ``kind`` / ``params`` as recorded beside it."""
        faiss = _faiss()
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise ValueError(f"{path}: not a readable faiss index ({str(exc).splitlines()[0][:200]})") from exc
        expected = FAISS_CLASSES[kind]
        if type(index).__name__ != expected:
            raise ValueError(f"{path}: holds a {type(index).__name__}, but the index folder says {kind}")
        out = cls(index, kind, params)
        out.set_search_params(**{k: params[k] for k in SEARCH_PARAMS[kind] if k in params})
        return out


def _as_unit_rows(X: np.ndarray | None, dim: int) -> np.ndarray:
    """``X`` as a C-contiguous float32 (n, dim) array of unit rows (it must already be normalised)."""
    if X is None:
        raise ValueError("an inverted-list (ivf*) index needs training vectors")
    X = np.ascontiguousarray(np.atleast_2d(np.asarray(X, dtype=np.float32)))
    if X.shape[1] != dim:
        raise ValueError(f"vectors must be {dim}-d, got shape {X.shape}")
    if len(X):
        norms = np.linalg.norm(X, axis=1)
        if not np.all(np.abs(norms - 1.0) < 1e-3):
            bad = int(np.sum(np.abs(norms - 1.0) >= 1e-3))
            raise ValueError(f"{bad} vector(s) are not unit-norm (L2-normalise before indexing or searching)")
    return X
