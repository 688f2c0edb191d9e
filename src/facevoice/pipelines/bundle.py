"""The bundle step: a manifest and one embedding store per modality → a bundle folder ``train`` / ``benchmark`` read.

``extract`` leaves items it could not embed out of its store, with a skip record; ``prepare`` leaves
out files it could not list, with a record beside the manifest. :func:`make_bundle` keeps exactly
the items both stores embedded and writes, under ``out``:

``manifest.parquet``  the manifest rows of the embedded items (all columns kept)
``face/``, ``voice/`` embedding stores holding those items only (same encoder tags and metadata)
``skipped.csv``       every item or file left out, with its stage (``prepare`` / ``extract``), reason
                      and detail: the prepare records, the stores' skip records, and (when allowed)
                      items the extraction has not reached yet (``not_extracted``)
``bundle.json``       where it came from (paths, manifest hash, encoder tags) and counts per split

Items neither embedded nor skipped mean an extraction that did not finish: refused unless
``allow_pending`` (then recorded as ``not_extracted``). The folder is written beside ``out`` and
moved into place at the end, so a killed run never leaves a half bundle; an existing bundle is
replaced, any other existing folder refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.corpora.folder import prepare_skips_path
from facevoice.data.manifest import MODALITIES, read_manifest, write_manifest
from facevoice.store import EmbeddingStore

__all__ = ["BundleReport", "SKIPPED_COLUMNS", "make_bundle"]

SKIPPED_COLUMNS = ("item_id", "modality", "identity", "split", "path", "stage", "reason", "detail")
_MARKER = "bundle.json"
_SHARD = 50_000  # items per shard file of the bundle's stores


@dataclass
class BundleReport:
    """What :func:`make_bundle` wrote: the folder, kept items and left-out records per modality."""

    out: Path
    kept: dict[str, int] = field(default_factory=dict)
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(SKIPPED_COLUMNS)))
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    info: dict[str, Any] = field(default_factory=dict)


def _store_modality(store: EmbeddingStore) -> str | None:
    meta = store.meta.get("meta") or {}
    return meta.get("modality") if isinstance(meta, dict) else None


def _open_store(path: str | Path, modality: str) -> EmbeddingStore:
    store = EmbeddingStore.open(path)
    found = _store_modality(store)
    if found is not None and found != modality:
        raise ValueError(f"{path}: holds {found} embeddings ({store.encoder_tag}), given as the {modality} store")
    return store


def _prepare_records(manifest_path: Path | None) -> list[dict[str, str]]:
    if manifest_path is None:
        return []
    path = prepare_skips_path(manifest_path)
    if not path.is_file():
        return []
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return [
        {"item_id": "", "modality": "", "identity": "", "split": "", "stage": "prepare", **rec}
        for rec in table.to_dict(orient="records")
    ]


def _summary(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for split, g in df.groupby("split", sort=True):
        ids = {m: set(g.loc[g["modality"] == m, "identity"]) for m in MODALITIES}
        rows.append(
            {
                "split": split,
                "face items": int((g["modality"] == "face").sum()),
                "voice items": int((g["modality"] == "voice").sum()),
                "identities with both": len(ids["face"] & ids["voice"]),
                "face only": len(ids["face"] - ids["voice"]),
                "voice only": len(ids["voice"] - ids["face"]),
            }
        )
    return pd.DataFrame(rows)


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / _MARKER).is_file():
        raise FileExistsError(f"{out}: an existing folder that is not a bundle; choose another output folder")


def make_bundle(
    manifest: str | Path | pd.DataFrame,
    face_store: str | Path,
    voice_store: str | Path,
    out: str | Path,
    *,
    allow_pending: bool = False,
) -> BundleReport:
    """Write the bundle of the items embedded in both stores (see the module docstring); return a report."""
    out = Path(out)
    _check_out(out)
    manifest_path = None if isinstance(manifest, pd.DataFrame) else Path(manifest)
    df = manifest if isinstance(manifest, pd.DataFrame) else read_manifest(manifest)
    if manifest_path is not None and manifest_path.is_dir():
        manifest_path = manifest_path / "manifest.parquet"
    stores = {"face": _open_store(face_store, "face"), "voice": _open_store(voice_store, "voice")}
    records = _prepare_records(manifest_path)
    keep = pd.Series(True, index=df.index)
    pending: dict[str, int] = {}
    for m, store in stores.items():
        rows = df[df["modality"] == m]
        if rows.empty:
            raise ValueError(f"the manifest has no {m} items")
        done = store.done_ids()
        skips = {s["item_id"]: s for s in store.skips()}
        for idx, item in zip(rows.index, rows["item_id"], strict=True):
            if item in done:
                continue
            keep[idx] = False
            row = df.loc[idx]
            base = {k: str(row[k]) for k in ("item_id", "modality", "identity", "split", "path")}
            if item in skips:
                rec = skips[item]
                records.append(
                    base | {"stage": "extract", "reason": rec.get("reason", ""), "detail": rec.get("detail", "")}
                )
            else:
                pending[m] = pending.get(m, 0) + 1
                records.append(
                    base
                    | {
                        "stage": "extract",
                        "reason": "not_extracted",
                        "detail": f"neither embedded nor skipped in {store.root}",
                    }
                )
        if pending.get(m) and not allow_pending:
            example = next(r["item_id"] for r in records if r["reason"] == "not_extracted" and r["modality"] == m)
            raise ValueError(
                f"{store.root}: {pending[m]} {m} item(s) of the manifest are neither embedded nor skipped (e.g. "
                f"{example!r}): the extraction did not finish; run it again to resume, or leave them out explicitly"
            )
    kept = df[keep].reset_index(drop=True)
    if not (kept["modality"] == "face").any() or not (kept["modality"] == "voice").any():
        raise ValueError("no item of one modality was embedded: nothing to bundle")
    embeddings = {m: stores[m].read(kept.loc[kept["modality"] == m, "item_id"].tolist()) for m in MODALITIES}
    tags = {m: stores[m].encoder_tag for m in MODALITIES}
    bundle = EmbeddingBundle(kept, embeddings, tags)
    skipped = pd.DataFrame(records).reindex(columns=list(SKIPPED_COLUMNS)).fillna("")
    summary = _summary(kept)
    info = {
        "manifest": str(manifest_path) if manifest_path is not None else None,
        "manifest_sha256": hashlib.sha256(df.to_csv(index=False).encode()).hexdigest(),
        "stores": {"face": str(face_store), "voice": str(voice_store)},
        "encoder_tags": tags,
        "items": {m: int((kept["modality"] == m).sum()) for m in MODALITIES},
        "skipped": {f"{st}:{r}": int(n) for (st, r), n in skipped.groupby(["stage", "reason"]).size().items()},
        "summary": summary.to_dict(orient="records"),
    }
    _write(bundle, {m: dict(stores[m].meta.get("meta") or {}) for m in MODALITIES}, skipped, info, out)
    return BundleReport(out, info["items"], skipped, summary, info)


def _write(
    bundle: EmbeddingBundle, store_meta: dict[str, Any], skipped: pd.DataFrame, info: dict[str, Any], out: Path
) -> None:
    """Write the bundle into a temporary sibling folder and move it into place (replacing an old bundle)."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    old = out.with_name(f".{out.name}.{os.getpid()}.old")
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    try:
        tmp.mkdir(parents=True)
        write_manifest(bundle.manifest, tmp / "manifest.parquet")
        for m in MODALITIES:  # each store keeps its encoder's metadata (weights hash, options, ...)
            X = bundle.embeddings[m]
            store = EmbeddingStore.create(tmp / m, bundle.tags[m], X.shape[1], meta=store_meta.get(m))
            ids = bundle.rows(m)["item_id"].tolist()
            for start in range(0, len(ids), _SHARD):
                store.write_shard(ids[start : start + _SHARD], X[start : start + _SHARD])
        skipped.to_csv(tmp / "skipped.csv", index=False)
        (tmp / _MARKER).write_text(json.dumps(info, indent=2, default=str))
        if out.exists():
            out.replace(old)
        tmp.replace(out)
    finally:
        for leftover in (tmp, old):
            if leftover.exists():
                shutil.rmtree(leftover)
