"""``search_index``: one query or a batch (a folder, a list file, vectors) against an index folder → results.

Queries may be:

* a media file (its modality is detected from the content and must be the other one than the index's);
* a folder (every regular, non-hidden file under it, sorted) or a ``.txt`` / ``.lst`` list of paths
  (one per line, relative to the list's folder; ``#`` comments and blank lines ignored);
* pre-extracted input features: a ``.npy`` file ``(n, D_in)`` or ``(D_in,)`` (queries named ``<file>#<row>``)
  or an embedding store folder (its encoder tag must be the run's; queries named by item id).

Every query gets a result or a skip record (reason + detail naming the file); the report is well-formed
JSON whatever the queries were (:func:`report_dict`), or one table (:func:`facevoice.search.results_table`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from facevoice.data.corpora.folder import list_files
from facevoice.search.results import QueryResult, results_table
from facevoice.search.searcher import Searcher
from facevoice.store import EmbeddingStore

LIST_SUFFIXES = (".txt", ".lst")


def read_query_list(path: str | Path) -> list[str]:
    """Paths listed in a text file, relative ones resolved against the file's folder."""
    path = Path(path)
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line)
            out.append(str(p if p.is_absolute() else path.parent / p))
    if not out:
        raise ValueError(f"{path}: the query list names no file")
    return out


def search_index(
    index: str | Path | Searcher,
    query: str | Path,
    *,
    top_k: int = 10,
    aggregate: str = "best",
    run: str | Path | None = None,
    device: str = "cpu",
) -> tuple[Searcher, list[QueryResult]]:
    """Search ``index`` with the query (or queries) named by ``query``; returns the searcher and the results."""
    searcher = index if isinstance(index, Searcher) else Searcher(index, run=run, device=device)
    q = Path(query)
    if q.is_dir() and (q / "store.json").is_file():
        store = EmbeddingStore.open(q)
        searcher.check_feature_tag(store.encoder_tag, str(q))
        ids, X = store.read_all()
        return searcher, searcher.search_features(X, ids, top_k, aggregate)
    if q.is_file() and q.suffix.lower() == ".npy":
        try:
            X = np.load(q, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{q}: not a numeric .npy array ({exc})") from exc
        X = np.atleast_2d(X)
        if X.ndim != 2 or X.dtype.kind not in "fiu":
            raise ValueError(f"{q}: query vectors must be a numeric (n, D) or (D,) array, got {X.dtype} {X.shape}")
        return searcher, searcher.search_features(X, [f"{q}#{i}" for i in range(len(X))], top_k, aggregate)
    if q.is_dir():
        paths = [str(p) for p in list_files(q)]
        if not paths:
            raise ValueError(f"{q}: the query folder holds no file")
    elif q.is_file() and q.suffix.lower() in LIST_SUFFIXES:
        paths = read_query_list(q)
    else:
        paths = [str(q)]  # a single file; a missing one comes back as a `missing` skip record
    return searcher, searcher.search_files(paths, top_k, aggregate)


def report_dict(searcher: Searcher, results: list[QueryResult], top_k: int, aggregate: str) -> dict[str, Any]:
    """The JSON document of a search: what was searched, then one entry per query."""
    meta = searcher.folder.meta
    return {
        "index": str(searcher.folder.root),
        "index_modality": searcher.modality,
        "query_modality": searcher.query_modality,
        "kind": meta.get("kind"),
        "run": str(searcher.run_dir),
        "method": meta.get("run", {}).get("method"),
        "top_k": int(top_k),
        "aggregate": aggregate,
        "n_queries": len(results),
        "n_ok": sum(r.ok for r in results),
        "n_skipped": sum(not r.ok for r in results),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "queries": [r.to_dict() for r in results],
    }


def write_results(path: str | Path, searcher: Searcher, results: list[QueryResult], top_k: int, aggregate: str) -> Path:
    """Write the results as JSON (``.json``) or one table (``.csv`` / ``.tsv``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix.lower() == ".json":
        tmp.write_text(json.dumps(report_dict(searcher, results, top_k, aggregate), indent=2, allow_nan=False))
    elif path.suffix.lower() in (".csv", ".tsv"):
        results_table(results).to_csv(tmp, index=False, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    else:
        raise ValueError(f"{path}: results go to a .json, .csv or .tsv file")
    tmp.replace(path)
    return path
