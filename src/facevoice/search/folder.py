"""An index folder on disk: the faiss index, its items and what it was built with, in safe formats.

Layout::

    INDEX/
      index.json          format, modality, kind + build/search parameters, dims, counts, the run's path,
                          checkpoint and weights hash, encoder tags, faiss version, sources, current generation
      gen-000003/
        index.faiss       faiss's own binary format (faiss.write_index; no pickle)
        items.parquet     row, item_id, identity, path, video: row r of the faiss index is item r
        skips.csv         gallery items that could not be embedded: item_id, path, reason, detail
      gallery/            extraction stores of media galleries (resumable; kept to add more items cheaply)

Writing is crash-safe: a commit writes a complete new ``gen-*`` folder, then replaces ``index.json``
(which names the generation) with an atomic rename, then removes older generations. A process killed
at any point leaves ``index.json`` naming a complete generation; leftovers are cleaned at the next commit.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facevoice.search.index import VectorIndex, faiss_version

FORMAT = 1
INDEX_JSON = "index.json"
ITEM_COLUMNS = ("row", "item_id", "identity", "path", "video")
SKIP_COLUMNS = ("item_id", "path", "reason", "detail")
MODALITIES = ("face", "voice")


class IndexFolderError(ValueError):
    """The folder is not a facevoice index, is damaged, or does not fit what is asked of it."""


def other_modality(modality: str) -> str:
    if modality not in MODALITIES:
        raise ValueError(f"modality must be 'face' or 'voice', got {modality!r}")
    return "voice" if modality == "face" else "face"


def is_index_folder(path: str | Path) -> bool:
    return (Path(path) / INDEX_JSON).is_file()


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


class IndexFolder:
    """A loaded index folder: ``meta`` (index.json), ``items`` (DataFrame, row order), ``index``, ``skips``."""

    def __init__(
        self, root: Path, meta: dict[str, Any], items: pd.DataFrame, index: VectorIndex, skips: pd.DataFrame
    ) -> None:
        self.root, self.meta, self.items, self.index, self.skips = Path(root), meta, items, index, skips
        self._ids: set[str] | None = None
        self._by_identity: dict[str, np.ndarray] | None = None
        self._columns: dict[str, np.ndarray] | None = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def new(
        cls,
        root: str | Path,
        *,
        modality: str,
        index: VectorIndex,
        run: Mapping[str, Any],
        encoders: Mapping[str, str],
        kind_reason: str = "",
        note: str = "",
    ) -> IndexFolder:
        """An empty index folder for ``modality`` items (written by :meth:`commit`)."""
        root = Path(root)
        if is_index_folder(root):
            raise IndexFolderError(f"{root}: an index already exists there (open it to add items)")
        if root.exists() and not root.is_dir():
            raise IndexFolderError(f"{root}: exists and is not a folder")
        meta = {
            "format": FORMAT,
            "modality": modality,
            "query_modality": other_modality(modality),
            "metric": "cosine (inner product of L2-normalised vectors)",
            "dim": index.dim,
            "kind": index.kind,
            "kind_reason": kind_reason,
            "params": dict(index.params),
            "run": dict(run),
            "encoders": dict(encoders),
            "faiss_version": faiss_version(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "sources": [],
            "note": note,
        }
        items = pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else str) for c in ITEM_COLUMNS})
        skips = pd.DataFrame({c: pd.Series(dtype=str) for c in SKIP_COLUMNS})
        return cls(root, meta, items, index, skips)

    @classmethod
    def open(cls, root: str | Path) -> IndexFolder:
        """Load an index folder, checking that its parts agree with each other."""
        root = Path(root)
        meta_path = root / INDEX_JSON
        if not meta_path.is_file():
            raise IndexFolderError(
                f"{root}: not a facevoice index folder (no {INDEX_JSON}; build one with `facevoice index`)"
            )
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise IndexFolderError(f"{meta_path}: corrupt index metadata ({exc})") from exc
        if meta.get("format") != FORMAT:
            raise IndexFolderError(f"{meta_path}: index format {meta.get('format')!r}, this facevoice reads {FORMAT}")
        gen = root / str(meta.get("generation", ""))
        if not meta.get("generation") or not gen.is_dir():
            raise IndexFolderError(
                f"{root}: the generation {meta.get('generation')!r} named by {INDEX_JSON} is missing"
            )
        try:
            items = pd.read_parquet(gen / "items.parquet")
            skips = pd.read_csv(gen / "skips.csv", dtype=str, keep_default_na=False)
        except Exception as exc:  # pyarrow / pandas raise many types for damaged files
            raise IndexFolderError(f"{gen}: unreadable item table ({type(exc).__name__}: {exc})") from exc
        index = VectorIndex.load(gen / "index.faiss", meta["kind"], meta["params"])
        folder = cls(root, meta, items.reset_index(drop=True), index, skips)
        folder.check()
        return folder

    def check(self) -> None:
        """Raise :class:`IndexFolderError` unless index, items and metadata agree."""
        n = len(self.items)
        if self.index.ntotal != n or int(self.meta.get("n_items", n)) != n:
            raise IndexFolderError(
                f"{self.root}: the faiss index holds {self.index.ntotal} vectors, items.parquet {n} rows, "
                f"{INDEX_JSON} says {self.meta.get('n_items')}"
            )
        if not np.array_equal(self.items["row"].to_numpy(np.int64), np.arange(n)):
            raise IndexFolderError(f"{self.root}: items.parquet rows are not 0..{n - 1} in order")
        if self.index.dim != int(self.meta["dim"]):
            raise IndexFolderError(
                f"{self.root}: the faiss index is {self.index.dim}-d, {INDEX_JSON} says {self.meta['dim']}"
            )
        if self.items["item_id"].duplicated().any():
            raise IndexFolderError(f"{self.root}: items.parquet lists an item twice")

    # -- contents -----------------------------------------------------------------------------
    @property
    def modality(self) -> str:
        return str(self.meta["modality"])

    @property
    def query_modality(self) -> str:
        return str(self.meta["query_modality"])

    def item_ids(self) -> set[str]:
        if self._ids is None:
            self._ids = set(self.items["item_id"])
        return self._ids

    def column(self, name: str) -> np.ndarray:
        """``items[name]`` as a numpy string array, indexed by row (cached: searches read it per query)."""
        if self._columns is None:
            self._columns = {}
        if name not in self._columns:
            self._columns[name] = self.items[name].to_numpy(str)
        return self._columns[name]

    def identity_rows(self) -> dict[str, np.ndarray]:
        """identity → the rows of its items."""
        if self._by_identity is None:
            groups = self.items.groupby("identity", sort=False)["row"]
            self._by_identity = {str(k): v.to_numpy(np.int64) for k, v in groups}
        return self._by_identity

    def add(self, items: pd.DataFrame, X: np.ndarray) -> int:
        """Append items (``item_id``, ``identity``, ``path``[, ``video``]) with their unit vectors ``X`` (n, D).

        Items already in the index raise (the caller filters them, see ``pipelines.index``).
        """
        if len(items) != len(X):
            raise ValueError(f"{len(items)} items but {len(X)} vectors")
        clash = self.item_ids() & set(items["item_id"])
        if clash:
            raise IndexFolderError(f"{self.root}: {len(clash)} item(s) already indexed, e.g. {sorted(clash)[:3]}")
        if items["item_id"].duplicated().any():
            raise ValueError(
                f"item ids repeated in one add, e.g. {items.loc[items['item_id'].duplicated(), 'item_id'].iloc[0]}"
            )
        rows = self.index.add(X)
        new = pd.DataFrame(
            {
                "row": np.arange(rows.start, rows.stop, dtype=np.int64),
                "item_id": items["item_id"].astype(str).to_numpy(),
                "identity": items["identity"].astype(str).to_numpy(),
                "path": items["path"].astype(str).to_numpy() if "path" in items else "",
                "video": items["video"].astype(str).to_numpy() if "video" in items else "",
            }
        )
        self.items = new if self.items.empty else pd.concat([self.items, new], ignore_index=True)
        self._ids, self._by_identity, self._columns = None, None, None
        return len(new)

    def add_skips(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Record gallery items that could not be embedded (latest record per item kept)."""
        new = pd.DataFrame([{c: str(r.get(c, "")) for c in SKIP_COLUMNS} for r in records], columns=list(SKIP_COLUMNS))
        if new.empty:
            return 0
        both = pd.concat([self.skips, new], ignore_index=True).drop_duplicates("item_id", keep="last")
        self.skips = both[~both["item_id"].isin(self.item_ids())].reset_index(drop=True)
        return len(new)

    # -- disk ---------------------------------------------------------------------------------
    def commit(self, source: Mapping[str, Any] | None = None) -> Path:
        """Write the current state as a new generation and switch ``index.json`` to it (atomic)."""
        self.root.mkdir(parents=True, exist_ok=True)
        gens = sorted(p.name for p in self.root.glob("gen-*") if p.is_dir() and not p.name.endswith(".tmp"))
        number = int(gens[-1].split("-")[1]) + 1 if gens else 1
        name = f"gen-{number:06d}"
        tmp = self.root / f"{name}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        self.index.save(tmp / "index.faiss")
        self.items.to_parquet(tmp / "items.parquet", index=False)
        self.skips.to_csv(tmp / "skips.csv", index=False)
        tmp.rename(self.root / name)
        self.meta.update(
            generation=name,
            n_items=len(self.items),
            n_identities=int(self.items["identity"].nunique()),
            n_skipped=len(self.skips),
            params=dict(self.index.params),
            updated=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        if source:
            self.meta.setdefault("sources", []).append(dict(source))
        _atomic_text(self.root / INDEX_JSON, json.dumps(self.meta, indent=2, default=str))
        for old in self.root.glob("gen-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        return self.root

    def __repr__(self) -> str:
        return f"IndexFolder({str(self.root)!r}, {self.modality}, {self.meta.get('kind')}, {len(self.items)} items)"
