"""Querying an index folder through the run it was built with: media files or feature vectors → rankings.

:class:`Searcher` opens an index, finds its run (the recorded path, or one given) and refuses, with one
line, a run whose checkpoint weights differ from the ones recorded in the index, or query vectors from
another encoder than the run's. A query file's modality is detected from its content (an image or a
video's frames give a face, audio or a video's sound a voice) and must be the other modality than the
index's. A file that cannot be used comes back as a skipped :class:`QueryResult` with its reason; nothing
raises for a bad query.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from facevoice.core.types import SkipItem
from facevoice.data.media.probe import probe_media
from facevoice.runs.media import RunEmbedder, run_weights_sha256
from facevoice.search.folder import IndexFolder
from facevoice.search.results import AGGREGATES, Hit, IdentityHit, QueryResult


class IndexMismatchError(ValueError):
    """A query through another run, checkpoint or encoder than the index was built with."""


def _describe(modality: str) -> str:
    return (
        "a face (an image, or a video with a face)" if modality == "face" else "a voice (audio, or a video with sound)"
    )


class Searcher:
    """An index folder plus its run: ``search_files`` / ``search_features`` → :class:`QueryResult` per query."""

    def __init__(self, index: str | Path | IndexFolder, run: str | Path | None = None, device: str = "cpu") -> None:
        self.folder = index if isinstance(index, IndexFolder) else IndexFolder.open(index)
        rec = self.folder.meta["run"]
        run_dir = Path(run) if run is not None else Path(rec["path"])
        if not (run_dir / "run.json").is_file():
            hint = "" if run is not None else "; it was moved or deleted: pass the run with --run"
            raise IndexMismatchError(f"{self.folder.root}: its run {run_dir} is not a facevoice run{hint}")
        which = str(rec.get("which", "best"))
        sha = run_weights_sha256(run_dir, which)
        if sha != rec.get("weights_sha256"):
            raise IndexMismatchError(
                f"{run_dir}: not the run {self.folder.root} was built with (checkpoints/{which} weights "
                f"{sha[:12]} differ from the index's {str(rec.get('weights_sha256'))[:12]}); query through that "
                "run or build an index with this one"
            )
        self.embedder = RunEmbedder(run_dir, which, device)
        self.run_dir = run_dir
        qm = self.folder.query_modality
        want = self.folder.meta.get("encoders", {}).get(qm, "")
        have = self.embedder.inputs.get(qm, {}).get("tag", "")
        if want and have and want != have:
            raise IndexMismatchError(f"{run_dir}: its {qm} encoder is {have!r}, the index expects {want!r}")
        self._lock = threading.Lock()  # encoders (dlib) and torch modules are used by one query at a time

    @property
    def modality(self) -> str:
        return self.folder.modality

    @property
    def query_modality(self) -> str:
        return self.folder.query_modality

    def check_feature_tag(self, tag: str, source: str = "vectors") -> None:
        """Refuse query features whose encoder tag is not the one the index's queries must come from."""
        want = self.folder.meta.get("encoders", {}).get(self.query_modality, "")
        # an imported release only names the external features it expects: their width is checked on projection
        if want and tag and tag != want and not str(want).startswith("external:"):
            raise IndexMismatchError(
                f"{source}: holds {self.query_modality} embeddings of encoder {tag!r}, but this index is queried "
                f"with {want!r} (the encoder its run was trained on)"
            )

    # -- searching ----------------------------------------------------------------------------
    def search_features(
        self, features: np.ndarray, names: Sequence[str], top_k: int = 10, aggregate: str = "best"
    ) -> list[QueryResult]:
        """Input features (n, D_in) of the query modality → one result per row (rows that cannot be
        projected come back skipped)."""
        Z, ok = self.embedder.project(features, self.query_modality)
        out = [QueryResult.skipped(n, "encode_error", f"{n}: zero or non-finite vector") for n in names]
        good = np.flatnonzero(ok)
        for i, res in zip(good, self._search_unit(Z[good], top_k, aggregate), strict=True):
            res.query = str(names[i])
            out[i] = res
        return out

    def search_files(self, paths: Sequence[str | Path], top_k: int = 10, aggregate: str = "best") -> list[QueryResult]:
        """Media files → one result per file, in order (skipped ones with a reason).

        Raises :class:`~facevoice.runs.media.MediaInputError` (before reading any file) when the run's
        query-modality inputs are features facevoice cannot compute from media.
        """
        qm = self.query_modality
        with self._lock:
            self.embedder.encoder(qm)
        out: list[QueryResult | None] = [None] * len(paths)
        usable: list[int] = []
        for i, p in enumerate(paths):
            try:
                info = probe_media(p)
            except SkipItem as skip:
                out[i] = QueryResult.skipped(str(p), skip.reason, skip.detail)
                continue
            if qm not in info.modalities:
                out[i] = QueryResult.skipped(
                    str(p),
                    "wrong_modality",
                    f"{p}: {'an' if info.kind[0] in 'aeiou' else 'a'} {info.kind} file ({info.format}) with no "
                    f"{'picture' if qm == 'face' else 'sound'}; this index holds {self.modality}s, query it with "
                    f"{_describe(qm)}",
                )
                continue
            usable.append(i)
        if usable:
            with self._lock:
                done, Z = self.embedder.embed_files([paths[i] for i in usable], qm)
                found = self._search_unit(Z, top_k, aggregate)
            it = iter(found)
            for i, f in zip(usable, done, strict=True):
                if f.ok:
                    res = next(it)
                    res.query = str(paths[i])
                    out[i] = res
                else:
                    out[i] = QueryResult.skipped(str(paths[i]), f.reason, f.detail or str(paths[i]), qm)
        return [r for r in out if r is not None]

    def _search_unit(self, Z: np.ndarray, top_k: int, aggregate: str) -> list[QueryResult]:
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        n = self.folder.index.ntotal
        pool = min(n, max(top_k, 10 * top_k, 100))
        scores, rows = self.folder.index.search(Z, max(pool, 1))
        ids, idents, paths = (self.folder.column(c) for c in ("item_id", "identity", "path"))
        out = []
        for z, s, r in zip(Z, scores, rows, strict=True):
            keep = r >= 0
            s, r = s[keep], r[keep]
            hits = [
                Hit(j + 1, ids[row], idents[row], paths[row], float(sc), int(row))
                for j, (sc, row) in enumerate(zip(s[:top_k], r[:top_k], strict=True))
            ]
            res = QueryResult("", "ok", self.query_modality, hits=hits)
            res.identities = self._identities(z, r, s, idents, ids, paths, top_k, aggregate)
            out.append(res)
        return out

    def _identities(self, z, rows, pool_scores, idents, ids, paths, top_k: int, aggregate: str) -> list[IdentityHit]:
        """Identities met among the retrieved items, scored over all their items (best or mean cosine).

        Item scores come from the index's stored vectors: exact for flat and hnsw, the decoded PQ codes
        for ivfsq / ivfpq. An identity none of whose items was retrieved in the pool is not ranked.
        """
        by_identity = self.folder.identity_rows()
        candidates = list(dict.fromkeys(idents[rows].tolist()))
        searched = dict(zip(rows.tolist(), pool_scores.tolist(), strict=True))
        scored = []
        for order, ident in enumerate(candidates):
            its = by_identity[ident]
            s = self.folder.index.reconstruct(its) @ z
            # items the index scored keep that score, so an identity's best equals its best item's, to the bit
            s = np.array([searched.get(int(r), float(v)) for r, v in zip(its, s, strict=True)], dtype=np.float64)
            best = int(np.argmax(s))
            value = float(s.max() if aggregate == "best" else s.mean())
            scored.append((-value, order, ident, len(its), its[best], float(s[best])))
        scored.sort()
        return [
            IdentityHit(k + 1, ident, -neg, n_items, ids[row], paths[row], best)
            for k, (neg, _, ident, n_items, row, best) in enumerate(scored[:top_k])
        ]
