"""EmbeddingBundle: a manifest plus one embedding matrix per modality, in memory.

This is what the methods train on and what evaluation scores: the rows of
``embeddings[m]`` follow the order of ``manifest[manifest.modality == m]``. On disk a bundle is a
folder with ``manifest.parquet`` and one :class:`~facevoice.store.EmbeddingStore` per modality
(``face/``, ``voice/``), so extracted stores and simulated data load the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facevoice.data.manifest import MODALITIES, make_manifest, read_manifest, write_manifest
from facevoice.store import EmbeddingStore
from facevoice.store.embedding_store import StoreError


@dataclass
class EmbeddingBundle:
    """Manifest + ``embeddings[modality]`` (n_modality_items, dim) aligned with the manifest rows."""

    manifest: pd.DataFrame
    embeddings: dict[str, np.ndarray]
    tags: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.manifest = self.manifest.reset_index(drop=True)
        for m in MODALITIES:
            n = int((self.manifest["modality"] == m).sum())
            if m not in self.embeddings:
                if n:
                    raise ValueError(f"bundle has {n} {m} items but no {m} embeddings")
                continue
            X = self.embeddings[m]
            if X.ndim != 2 or X.shape[0] != n:
                raise ValueError(f"{m} embeddings have shape {X.shape}, manifest has {n} {m} items")

    def rows(self, modality: str) -> pd.DataFrame:
        """The manifest rows of one modality, in embedding order (index reset)."""
        return self.manifest[self.manifest["modality"] == modality].reset_index(drop=True)

    def select(self, modality: str, splits: str | Iterable[str] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """Rows and embeddings of ``modality`` restricted to ``splits`` (all splits when None)."""
        df = self.rows(modality)
        X = self.embeddings[modality]
        if splits is None:
            return df, X
        splits = [splits] if isinstance(splits, str) else list(splits)
        mask = df["split"].isin(splits).to_numpy()
        return df[mask].reset_index(drop=True), X[mask]

    def lookup(self, modality: str) -> dict[str, int]:
        """item_id -> row of ``embeddings[modality]``."""
        return {item: i for i, item in enumerate(self.rows(modality)["item_id"])}

    def with_embeddings(
        self, embeddings: Mapping[str, np.ndarray], tags: Mapping[str, str] | None = None
    ) -> EmbeddingBundle:
        """Same manifest, new embeddings (e.g. projected into a method's shared space)."""
        return EmbeddingBundle(self.manifest, dict(embeddings), dict(tags or self.tags), dict(self.meta))

    # -- disk ---------------------------------------------------------------------------------
    def save(self, root: str | Path, shard_size: int = 50_000) -> Path:
        """Write ``manifest.parquet`` and one embedding store per modality under ``root``."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        write_manifest(self.manifest, root / "manifest.parquet")
        for m, X in self.embeddings.items():
            ids = self.rows(m)["item_id"].tolist()
            store = EmbeddingStore.create(root / m, self.tags.get(m, f"{m}-embeddings"), X.shape[1], meta=self.meta)
            todo = [i for i, item in enumerate(ids) if item not in store]
            for start in range(0, len(todo), shard_size):
                sel = todo[start : start + shard_size]
                store.write_shard([ids[i] for i in sel], X[sel])
        return root

    @classmethod
    def load(cls, root: str | Path, manifest: str | Path | pd.DataFrame | None = None) -> EmbeddingBundle:
        """Load a bundle folder (or a manifest plus store folders ``<root>/face``, ``<root>/voice``).

        ``<root>/face_store`` / ``voice_store`` (the layout ``facevoice prepare features`` writes) are
        used when ``<root>/face`` / ``voice`` do not exist.

        Items present in the manifest but missing from a store raise with their ids.
        """
        root = Path(root)
        if manifest is None:
            manifest = root / "manifest.parquet"
        df = manifest if isinstance(manifest, pd.DataFrame) else read_manifest(manifest)
        df = make_manifest(df)
        embeddings, tags, meta = {}, {}, {}
        for m in MODALITIES:
            ids = df.loc[df["modality"] == m, "item_id"].tolist()
            if not ids:
                continue
            folder = root / m
            if not folder.exists() and (root / f"{m}_store").exists():  # `facevoice prepare features` output
                folder = root / f"{m}_store"
            store = EmbeddingStore.open(folder)
            missing = len(set(ids) - store.done_ids())
            if missing:
                skipped = {s["item_id"] for s in store.skips()} & set(ids)
                raise StoreError(
                    f"{folder}: {missing} {m} item(s) of the manifest are not in the store ({len(skipped)} of them "
                    f"skipped by the extraction, e.g. {sorted(set(ids) - store.done_ids())[:3]}); build a bundle "
                    "of the embedded items with the bundle step (facevoice.pipelines.bundle, docs/real-data.md)"
                )
            embeddings[m] = store.read(ids)
            tags[m] = store.encoder_tag
            meta[m] = store.meta.get("meta", {})
        return cls(df, embeddings, tags, meta)
