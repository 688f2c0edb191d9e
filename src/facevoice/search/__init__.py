"""Vector search over a run's embedding space: faiss indexes (``index``), index folders on disk
(``folder``), querying them with media or vectors through the run (``searcher``) and the result types
(``results``). Orchestration (extracting a gallery, batch queries, output files) is in
:mod:`facevoice.pipelines.index` and :mod:`facevoice.pipelines.search`."""

from facevoice.search.folder import IndexFolder, IndexFolderError, is_index_folder, other_modality
from facevoice.search.index import AUTO_EXACT_MAX, AUTO_HNSW_MAX, KINDS, VectorIndex, choose_kind, resolve_params
from facevoice.search.results import AGGREGATES, Hit, IdentityHit, QueryResult, results_table
from facevoice.search.searcher import IndexMismatchError, Searcher

__all__ = [
    "AGGREGATES",
    "AUTO_EXACT_MAX",
    "AUTO_HNSW_MAX",
    "KINDS",
    "Hit",
    "IdentityHit",
    "IndexFolder",
    "IndexFolderError",
    "IndexMismatchError",
    "QueryResult",
    "Searcher",
    "VectorIndex",
    "choose_kind",
    "is_index_folder",
    "other_modality",
    "resolve_params",
    "results_table",
]
