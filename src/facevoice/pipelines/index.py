"""``build_index``: a gallery of one modality, embedded and projected through a run, into an index folder.

The gallery ``source`` is one of:

* a media folder in the ``prepare folder`` layout (``<root>/<identity>/{faces,voices}/...``);
* a manifest (``.parquet`` / ``.csv`` / ``.tsv``; relative paths are read from the manifest's folder);
* a bundle folder (``manifest.parquet`` + ``face/`` + ``voice/`` stores) or an embedding store folder
  (with ``manifest=`` for identities and paths): already-extracted input features.

Media are extracted with the run's own encoder (:func:`facevoice.runs.media.input_encoder`) into
``INDEX/gallery/<modality>`` (resumable, with the skip report of ``facevoice extract``); stores must hold
the encoder tag the run was trained on. Items already in the index are left alone, so running the
command again with a larger gallery adds only the new items, without rebuilding the index; a run killed
at any point resumes (extraction by shards, the index by atomic generations, see
:mod:`facevoice.search.folder`).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from facevoice.core.log import get_logger
from facevoice.data.corpora.folder import prepare_folder
from facevoice.data.manifest import read_manifest
from facevoice.extract import extract
from facevoice.runs.media import MediaInputError, RunEmbedder, run_weights_sha256
from facevoice.search.folder import IndexFolder, IndexFolderError, is_index_folder, other_modality
from facevoice.search.index import IVF_KINDS, VectorIndex, choose_kind, resolve_params
from facevoice.store import EmbeddingStore

log = get_logger(__name__)
MANIFEST_SUFFIXES = (".parquet", ".csv", ".tsv")


@dataclass
class Gallery:
    """The items of one modality (``item_id, identity, path, video``, paths absolute) and, when the
    source holds extracted features, their store."""

    items: pd.DataFrame
    manifest: pd.DataFrame
    store: EmbeddingStore | None
    kind: str
    source: str


def _absolute_paths(df: pd.DataFrame, root: Path) -> pd.DataFrame:
    df = df.copy()

    def resolve(p: str) -> str:
        return "" if not p else str(Path(p) if Path(p).is_absolute() else (root / p).resolve())

    df["path"] = df["path"].fillna("").astype(str).map(resolve)
    return df


def open_gallery(source: str | Path, modality: str, manifest: str | Path | None = None) -> Gallery:
    """Recognise a gallery ``source`` (see the module docstring) and list its ``modality`` items."""
    source = Path(source)
    other_modality(modality)  # validates the name
    store = None
    if source.is_dir() and (source / "store.json").is_file():
        if manifest is None:
            raise ValueError(
                f"{source}: an embedding store holds no identities or paths: give --manifest with it "
                "(or give a bundle folder)"
            )
        kind, store = "store", EmbeddingStore.open(source)
        df = _absolute_paths(read_manifest(manifest), Path(manifest).resolve().parent)
    elif source.is_dir() and (source / "manifest.parquet").is_file():
        kind = "bundle"
        df = _absolute_paths(read_manifest(manifest or source / "manifest.parquet"), source.resolve())
        folder = source / modality if (source / modality).is_dir() else source / f"{modality}_store"
        store = EmbeddingStore.open(folder)
    elif source.is_dir():
        kind = "folder"
        try:
            df = prepare_folder(source, split="test")
        except ValueError as exc:
            raise ValueError(
                f"{source}: not a gallery: expected <identity>/{{faces,voices}}/ media folders, a bundle folder "
                f"(manifest.parquet + {modality}/) or an embedding store ({exc})"
            ) from exc
    elif source.is_file() and source.suffix.lower() in MANIFEST_SUFFIXES:
        kind = "manifest"
        df = _absolute_paths(read_manifest(source), source.resolve().parent)
    elif not source.exists():
        raise FileNotFoundError(f"gallery not found: {source}")
    else:
        raise ValueError(
            f"{source}: not a gallery: give a media folder, a manifest ({', '.join(MANIFEST_SUFFIXES)}), "
            "a bundle folder or an embedding store"
        )
    items = df[df["modality"] == modality][["item_id", "identity", "path", "video"]].reset_index(drop=True)
    if items.empty:
        raise ValueError(f"{source}: the gallery has no {modality} items")
    return Gallery(items, df, store, kind, str(source))


def _run_record(embedder: RunEmbedder, which: str) -> dict[str, Any]:
    info = json.loads((embedder.run_dir / "run.json").read_text())
    inputs = {m: {k: v.get(k) for k in ("kind", "tag", "dim")} for m, v in embedder.inputs.items()}
    return {
        "path": str(embedder.run_dir.resolve()),
        "which": which,
        "method": info.get("method"),
        "weights_sha256": run_weights_sha256(embedder.run_dir, which),
        "inputs": inputs,
    }


def _check_existing(folder: IndexFolder, modality: str, run: Mapping[str, Any], kind: str) -> None:
    if folder.modality != modality:
        raise IndexFolderError(f"{folder.root}: holds {folder.modality} items; cannot add {modality} items")
    rec = folder.meta["run"]
    if rec.get("weights_sha256") != run["weights_sha256"]:
        raise IndexFolderError(
            f"{folder.root}: was built with run {rec.get('path')} (other weights); build a new index for {run['path']}"
        )
    if kind not in ("auto", folder.meta["kind"]):
        raise IndexFolderError(
            f"{folder.root}: is a {folder.meta['kind']} index; adding items keeps its kind (build a new index "
            f"with --kind {kind} into another folder)"
        )


def _gallery_features(
    gallery: Gallery, embedder: RunEmbedder, modality: str, out: Path, extract_kw: Mapping[str, Any]
) -> tuple[EmbeddingStore, dict[str, Any]]:
    """The store holding the gallery's input features (extracting media with the run's encoder) and
    what happened (extraction counts)."""
    want = embedder.inputs.get(modality, {})
    if gallery.store is None:
        encoder = embedder.encoder(modality)  # refuses runs trained on external features
        store_dir = out / "gallery" / modality
        res = extract(gallery.manifest, encoder, store_dir, media_root=None, **extract_kw)
        return EmbeddingStore.open(store_dir), {"extracted": res.embedded, "extract_skipped": res.skipped}
    store = gallery.store
    if want.get("tag") and store.encoder_tag != want["tag"] and str(want["tag"]).startswith("external:"):
        # an imported release names the features it expects (external:...) but cannot check a user's store:
        # the width is checked below, the naming is only reported
        log.warning(
            "%s: %s features tagged %r; run %s expects %r (%s): make sure they are the same features",
            store.root,
            modality,
            store.encoder_tag,
            embedder.run_dir,
            want["tag"],
            want.get("expected_encoder") or "pre-extracted",
        )
    elif want.get("tag") and store.encoder_tag != want["tag"]:
        raise MediaInputError(
            f"{store.root}: holds {modality} embeddings of {store.encoder_tag!r}, but run {embedder.run_dir} was "
            f"trained on {want['tag']!r}"
        )
    if store.dim != embedder.input_dim(modality):
        raise MediaInputError(f"{store.root}: {store.dim}-d embeddings, run expects {embedder.input_dim(modality)}-d")
    return store, {}


def build_index(
    run_dir: str | Path,
    gallery: str | Path,
    modality: str,
    out: str | Path,
    *,
    kind: str = "auto",
    params: Mapping[str, Any] | None = None,
    manifest: str | Path | None = None,
    which: str = "best",
    device: str = "cpu",
    batch_size: int = 16,
    workers: int = 2,
    progress: bool = True,
    note: str = "",
) -> dict[str, Any]:
    """Build (or extend) the index folder ``out`` with ``gallery``'s ``modality`` items; return a report.

    ``kind``: ``auto`` (exact up to :data:`~facevoice.search.index.AUTO_EXACT_MAX` items, then HNSW, then
    IVF-SQ8), ``flat``, ``hnsw``, ``ivfsq`` or ``ivfpq``; ``params``: that kind's parameters (in index.json).
    """
    t0 = time.perf_counter()
    out = Path(out)
    embedder = RunEmbedder(run_dir, which, device)
    run = _run_record(embedder, which)
    folder = IndexFolder.open(out) if is_index_folder(out) else None
    if folder is not None:
        _check_existing(folder, modality, run, kind)
        if params:
            folder.index.set_search_params(**dict(params))
    src = open_gallery(gallery, modality, manifest)
    extract_kw = {"batch_size": batch_size, "num_workers": workers, "progress": progress}
    store, counts = _gallery_features(src, embedder, modality, out, extract_kw)
    t_extract = time.perf_counter() - t0

    indexed = folder.item_ids() if folder is not None else set()
    done = store.done_ids()
    skip_rec = {r["item_id"]: r for r in store.skips()}
    items = src.items
    already = items["item_id"].isin(indexed)
    available = items["item_id"].isin(done)
    skips = []
    for row in items[~already & ~available].itertuples(index=False):
        rec = skip_rec.get(row.item_id) or {"reason": "missing", "detail": f"not in the store {store.root}"}
        skips.append(
            {"item_id": row.item_id, "path": row.path, "reason": rec["reason"], "detail": rec.get("detail", "")}
        )
    todo = items[~already & available].reset_index(drop=True)
    Z, ok = embedder.project(store.read(todo["item_id"].tolist()), modality) if len(todo) else (None, None)
    if len(todo) and not ok.all():
        for row in todo[~ok].itertuples(index=False):
            skips.append(
                {
                    "item_id": row.item_id,
                    "path": row.path,
                    "reason": "encode_error",
                    "detail": f"{row.path or row.item_id}: zero or non-finite projection",
                }  # fmt: skip
            )
        Z, todo = Z[ok], todo[ok].reset_index(drop=True)
    t_project = time.perf_counter() - t0 - t_extract

    if folder is None:
        if todo.empty:
            raise ValueError(
                f"{gallery}: no {modality} item could be embedded ({len(skips)} skipped); nothing to index"
            )
        chosen, why = choose_kind(len(todo), kind)
        full = resolve_params(chosen, Z.shape[1], len(todo), params)
        index = VectorIndex.create(chosen, Z.shape[1], full, train=Z if chosen in IVF_KINDS else None)
        encoders = {
            modality: store.encoder_tag,
            other_modality(modality): run["inputs"].get(other_modality(modality), {}).get("tag", ""),
        }
        folder = IndexFolder.new(
            out, modality=modality, index=index, run=run, encoders=encoders, kind_reason=why, note=note
        )
    t1 = time.perf_counter()
    added = folder.add(todo, Z) if len(todo) else 0
    folder.add_skips(skips)
    t_build = time.perf_counter() - t1
    source = {
        "source": src.source,
        "kind": src.kind,
        "added": added,
        "skipped": len(skips),
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    folder.commit(source)
    report = {
        "index": str(out),
        "modality": modality,
        "kind": folder.meta["kind"],
        "kind_reason": folder.meta.get("kind_reason", ""),
        "params": folder.meta["params"],
        "added": added,
        "already_indexed": int(already.sum()),
        "skipped": len(skips),
        "skip_reasons": dict(Counter(s["reason"] for s in skips)),
        "n_items": folder.meta["n_items"],
        "n_identities": folder.meta["n_identities"],
        "skips_csv": str(out / folder.meta["generation"] / "skips.csv"),
        **counts,
        "seconds": {"extract": round(t_extract, 3), "project": round(t_project, 3), "build": round(t_build, 3),
                    "total": round(time.perf_counter() - t0, 3)},
    }  # fmt: skip
    log.info("index %s: +%d %s items (%d skipped), %d in all", out, added, modality, len(skips), report["n_items"])
    return report
