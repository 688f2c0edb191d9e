"""Sharded, resumable embedding store.

Layout of a store directory::

    store.json                    encoder tag, dim, dtype, free-form meta (weights hash, config...)
    shards/<name>.npz             ``ids`` (n,) str and ``X`` (n, dim) per shard, written atomically
    skips/<name>.jsonl            skip records: item_id, path, reason, detail (one JSON per line)

A shard is written to a temporary file and renamed into place, so a process killed at any moment
leaves either a complete shard or none; ``done_ids()`` is therefore a safe resume point. Several
processes may write to one store as long as their shard names differ (e.g. prefixed by rank).
The store refuses to open or extend with a different encoder tag, so embeddings from different
encoders (or different weights: the tag carries a weights hash) are never mixed.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_META = "store.json"


class StoreError(RuntimeError):
    """Store misuse or corruption: tag mismatch, duplicate or missing ids, bad shard."""


class EmbeddingStore:
    """Embeddings of one encoder, keyed by item_id. Use :meth:`create` or :meth:`open`."""

    def __init__(self, root: str | Path, meta: Mapping[str, Any]) -> None:
        self.root = Path(root)
        self.meta = dict(meta)
        self.encoder_tag: str = self.meta["encoder_tag"]
        self.dim: int = int(self.meta["dim"])
        self.dtype = np.dtype(self.meta.get("dtype", "float32"))
        self._index: dict[str, tuple[str, int]] | None = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        root: str | Path,
        encoder_tag: str,
        dim: int,
        meta: Mapping[str, Any] | None = None,
        dtype: str = "float32",
        exist_ok: bool = True,
    ) -> EmbeddingStore:
        """Create a store, or reopen an existing one with the same encoder tag and dim."""
        root = Path(root)
        meta_path = root / _META
        if meta_path.exists():
            if not exist_ok:
                raise StoreError(f"{root}: store already exists")
            store = cls.open(root)
            if store.encoder_tag != encoder_tag:
                raise StoreError(
                    f"{root}: store holds embeddings of encoder {store.encoder_tag!r}, refusing to add {encoder_tag!r}"
                )
            if store.dim != int(dim):
                raise StoreError(f"{root}: store dim is {store.dim}, got {dim}")
            return store
        (root / "shards").mkdir(parents=True, exist_ok=True)
        (root / "skips").mkdir(exist_ok=True)
        full = {"encoder_tag": encoder_tag, "dim": int(dim), "dtype": dtype, "meta": dict(meta or {})}
        _atomic_write_text(meta_path, json.dumps(full, indent=2, sort_keys=True, default=str))
        return cls(root, full)

    @classmethod
    def open(cls, root: str | Path, encoder_tag: str | None = None) -> EmbeddingStore:
        """Open an existing store; if ``encoder_tag`` is given it must match."""
        root = Path(root)
        meta_path = root / _META
        if not meta_path.exists():
            raise StoreError(f"{root}: not an embedding store (no {_META})")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise StoreError(f"{meta_path}: corrupt store metadata ({exc})") from exc
        store = cls(root, meta)
        if encoder_tag is not None and store.encoder_tag != encoder_tag:
            raise StoreError(f"{root}: store encoder is {store.encoder_tag!r}, expected {encoder_tag!r}")
        return store

    def update_meta(self, meta: Mapping[str, Any]) -> None:
        """Replace the free-form ``meta`` of ``store.json`` (atomically); tag and dim never change."""
        full = {**self.meta, "meta": dict(meta)}
        _atomic_write_text(self.root / _META, json.dumps(full, indent=2, sort_keys=True, default=str))
        self.meta = full

    # -- writing ------------------------------------------------------------------------------
    def write_shard(self, ids: Sequence[str], X: np.ndarray, name: str | None = None) -> Path:
        """Write embeddings ``X`` (n, dim) for ``ids`` (n,) as one shard, atomically."""
        ids = [str(i) for i in ids]
        X = np.asarray(X)
        if X.ndim != 2 or X.shape != (len(ids), self.dim):
            raise StoreError(f"{self.root}: shard must be ({len(ids)}, {self.dim}), got {X.shape}")
        if len(set(ids)) != len(ids):
            raise StoreError(f"{self.root}: duplicate ids inside one shard")
        if not np.isfinite(X).all():
            raise StoreError(f"{self.root}: refusing non-finite embeddings (ids e.g. {ids[:3]})")
        clash = set(ids) & set(self._load_index())
        if clash:
            raise StoreError(f"{self.root}: {len(clash)} id(s) already stored, e.g. {sorted(clash)[:3]}")
        name = name or f"shard-{len(self.shard_paths()):06d}-{os.getpid()}"
        path = self.root / "shards" / f"{name}.npz"
        if path.exists():
            raise StoreError(f"{path}: shard already exists")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, ids=np.asarray(ids, dtype=str), X=X.astype(self.dtype, copy=False))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        index = self._load_index()
        for row, item in enumerate(ids):
            index[item] = (path.name, row)
        return path

    def add_skips(self, records: Iterable[Mapping[str, Any]], name: str = "skips") -> int:
        """Append skip records (item_id, path, reason, detail) to ``skips/<name>.jsonl``."""
        lines = []
        for rec in records:
            if "item_id" not in rec or "reason" not in rec:
                raise StoreError(f"skip record needs item_id and reason, got {dict(rec)}")
            lines.append(json.dumps({k: str(v) for k, v in rec.items()}, sort_keys=True))
        if lines:
            (self.root / "skips").mkdir(exist_ok=True)
            path = self.root / "skips" / f"{name}.jsonl"
            # a write cut short by a kill leaves a line without its newline: start on a fresh line
            torn = path.exists() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
            with open(path, "a") as fh:
                fh.write(("\n" if torn else "") + "\n".join(lines) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        return len(lines)

    # -- reading ------------------------------------------------------------------------------
    def shard_paths(self) -> list[Path]:
        return sorted((self.root / "shards").glob("*.npz"))

    def _load_index(self) -> dict[str, tuple[str, int]]:
        if self._index is None:
            index: dict[str, tuple[str, int]] = {}
            for path in self.shard_paths():
                for row, item in enumerate(self._read_shard(path, ids_only=True)[0]):
                    if item in index:
                        raise StoreError(f"{path}: id {item!r} also in {index[item][0]}")
                    index[item] = (path.name, row)
            self._index = index
        return self._index

    def _read_shard(self, path: Path, ids_only: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        try:
            with np.load(path, allow_pickle=False) as z:
                return z["ids"], (None if ids_only else z["X"])
        except Exception as exc:  # zipfile / numpy errors on a damaged file
            raise StoreError(f"{path}: unreadable shard ({type(exc).__name__}: {exc})") from exc

    def refresh(self) -> None:
        """Forget the cached id index (after another process wrote shards)."""
        self._index = None

    def done_ids(self) -> set[str]:
        """Ids with a stored embedding (the resume point)."""
        return set(self._load_index())

    def ids(self) -> list[str]:
        return sorted(self._load_index())

    def __len__(self) -> int:
        return len(self._load_index())

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._load_index()

    def read(self, ids: Sequence[str]) -> np.ndarray:
        """Embeddings for ``ids`` in that order, shape (len(ids), dim); missing ids raise."""
        index = self._load_index()
        missing = [i for i in ids if i not in index]
        if missing:
            raise StoreError(f"{self.root}: {len(missing)} id(s) not in store, e.g. {missing[:5]}")
        out = np.empty((len(ids), self.dim), dtype=self.dtype)
        by_shard: dict[str, list[tuple[int, int]]] = {}
        for pos, item in enumerate(ids):
            shard, row = index[item]
            by_shard.setdefault(shard, []).append((pos, row))
        for shard, pairs in by_shard.items():
            _, X = self._read_shard(self.root / "shards" / shard)
            pos, rows = map(list, zip(*pairs, strict=True))
            out[pos] = X[rows]
        return out

    def read_all(self) -> tuple[list[str], np.ndarray]:
        """All ids (sorted) and their embeddings (n, dim)."""
        ids = self.ids()
        return ids, self.read(ids)

    def skips(self) -> list[dict[str, str]]:
        """All skip records written so far (every skips/*.jsonl)."""
        out: list[dict[str, str]] = []
        for path in sorted((self.root / "skips").glob("*.jsonl")):
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    # the fragment of a write interrupted by a kill: its item was never marked as
                    # handled, so a resumed run processes it again and records it in full
                    warnings.warn(f"{path}:{lineno}: ignoring a truncated skip record {line[:60]!r}", stacklevel=2)
        return out

    def __repr__(self) -> str:
        return f"EmbeddingStore({str(self.root)!r}, tag={self.encoder_tag!r}, dim={self.dim})"


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
