"""``extract``: manifest + frozen encoder → embedding store, batched, sharded, resumable, multi-process.

Output directory ``out`` is an :class:`~facevoice.store.EmbeddingStore` (tag = encoder tag); with
``layers=True`` a second store ``out/layers`` holds the pooled hidden state of every layer, flattened
to ``(L * D,)`` per item. Per-item notes (e.g. ``face_source``) go to ``out/extract_notes/*.jsonl`` and
the run summary to ``out/extract_report.json``. Items that cannot be embedded get a skip record
(``item_id, path, reason, detail``) in the store; nothing is dropped silently.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facevoice.core.types import LoadedItem, SkipItem
from facevoice.data.manifest import read_manifest
from facevoice.encoders.base import Encoder
from facevoice.extract.plan import (
    Shard,
    WorkItem,
    barrier,
    dist_info,
    init_process_group,
    leave_process_group,
    limit_heap_growth,
    make_shards,
    ordered_prefetch,
    pending_shards,
    work_items,
)
from facevoice.extract.report import finish_report, prepare_records, progress_bar, write_rank_report
from facevoice.store import EmbeddingStore


@dataclass
class ExtractResult:
    """Counts and throughput of one ``extract`` call (this process only, unless noted)."""

    store: str
    encoder_tag: str
    rank: int
    world_size: int
    items_total: int  # items of the encoder's modality in the manifest (all ranks)
    items_done_before: int  # finished (embedded or skipped) before this call (all ranks)
    embedded: int = 0
    skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    load_seconds: float = 0.0
    encode_seconds: float = 0.0

    @property
    def items_per_second(self) -> float:
        return (self.embedded + self.skipped) / self.seconds if self.seconds > 0 else 0.0


def _load(encoder: Encoder, item: WorkItem) -> tuple[LoadedItem | SkipItem, float]:
    t0 = time.perf_counter()
    try:
        if not item.resolved:
            raise SkipItem("missing", "no media path in the manifest row")
        out: LoadedItem | SkipItem = encoder.load(item.resolved)
        if not out.parts:
            raise SkipItem("empty", f"{item.resolved}: nothing to encode")
    except SkipItem as skip:
        out = skip
    except Exception as exc:  # a decoder bug on one file must not stop the run: record it
        out = SkipItem("unreadable", f"{item.resolved}: {type(exc).__name__}: {exc}"[:400])
    return out, time.perf_counter() - t0


def _encode_parts(encoder: Encoder, parts: list[Any], layers: bool) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Encode a batch; on failure encode item by item so one bad input only skips itself."""
    try:
        out = encoder.encode(parts, layers=layers)
        return out.embeddings, out.layers, [""] * len(parts)
    except Exception:
        if len(parts) == 1:
            raise
    embs, lays, errs = [], [], []
    for p in parts:
        try:
            o = encoder.encode([p], layers=layers)
            embs.append(o.embeddings[0])
            lays.append(None if o.layers is None else o.layers[:, 0])
            errs.append("")
        except Exception as exc:
            embs.append(np.full(encoder.dim, np.nan, np.float32))
            lays.append(None)
            errs.append(f"{type(exc).__name__}: {exc}"[:400])
    lay = None
    if layers and any(x is not None for x in lays):
        ref = next(x for x in lays if x is not None)
        lay = np.stack([x if x is not None else np.full_like(ref, np.nan) for x in lays], axis=1)
    return np.stack(embs), lay, errs


class _ShardWriter:
    """Accumulates one shard's embeddings and writes skips, notes and shards in a crash-safe order."""

    def __init__(self, stores: dict[str, Any], out: Path, skipped_before: set[str], rank: int) -> None:
        self.stores, self.out, self.skipped_before, self.rank = stores, out, skipped_before, rank

    def write(self, shard: Shard, ids: list[str], emb: dict[str, np.ndarray], skips: list[dict], notes: dict) -> None:
        new_skips = [s for s in skips if s["item_id"] not in self.skipped_before]
        if new_skips:  # before the shard: a kill in between only re-runs the shard, never loses a skip
            self.stores["main"].add_skips(new_skips, name=f"rank{self.rank:03d}")
            self.skipped_before.update(s["item_id"] for s in new_skips)
        name = shard.name()
        if notes:
            d = self.out / "extract_notes"
            d.mkdir(exist_ok=True)
            tmp = d / f".{name}.{os.getpid()}.tmp"
            tmp.write_text("".join(json.dumps({"item_id": k, **v}, sort_keys=True) + "\n" for k, v in notes.items()))
            tmp.replace(d / f"{name}.jsonl")
        for key in ("layers", "main"):  # the main store last: its done_ids marks the shard finished
            store = self.stores.get(key)
            if store is None or not ids:
                continue
            keep = [j for j, i in enumerate(ids) if i not in store]  # O(1) lookups: no copy of all ids
            if keep:
                store.write_shard([ids[j] for j in keep], emb[key][keep], name=name)


def extract(
    manifest: str | Path | pd.DataFrame,
    encoder: Encoder,
    out: str | Path,
    *,
    batch_size: int = 16,
    shard_size: int = 256,
    num_workers: int = 0,
    layers: bool = False,
    media_root: str | Path | None = None,
    progress: bool = True,
    rank: int | None = None,
    world_size: int | None = None,
) -> ExtractResult:
    """Embed every item of ``encoder.modality`` in ``manifest`` into the store at ``out``.

    Resumable: finished items (embedded or skipped) are not recomputed. ``num_workers`` threads load
    and decode media ahead of the model. Under ``torchrun``/``accelerate launch`` each process takes
    the shards ``k % world_size == rank`` and writes its own shard files into the shared store.
    Relative media paths are resolved against ``media_root`` (default: the manifest's folder).
    """

    info = dist_info(rank, world_size)
    joined = init_process_group(info)
    limit_heap_growth()
    manifest_path = None
    if isinstance(manifest, (str, Path)):
        media_root = media_root if media_root is not None else Path(manifest).resolve().parent
        manifest_path = Path(manifest) / "manifest.parquet" if Path(manifest).is_dir() else Path(manifest)
        manifest = read_manifest(manifest)
    items = work_items(manifest, encoder.modality, media_root)
    if not items:
        raise ValueError(f"manifest has no {encoder.modality!r} items for encoder {encoder.name!r}")
    out = Path(out)
    meta = {**encoder.describe(), "shard_size": shard_size, "batch_size": batch_size}
    stores = {"main": EmbeddingStore.create(out, encoder.tag, encoder.dim, meta=meta)}
    if layers:
        if encoder.num_layers is None:
            raise ValueError(f"encoder {encoder.name!r} has no per-layer outputs")
        lmeta = {**meta, "layers": encoder.num_layers, "layer_dim": encoder.dim, "layout": "(L, D) flattened"}
        stores["layers"] = EmbeddingStore.create(
            out / "layers", encoder.tag + "+layers", encoder.num_layers * encoder.dim, meta=lmeta
        )
    for store in stores.values():
        check_resume_settings(store, {"shard_size": shard_size, "batch_size": batch_size})
    skipped_before = {s["item_id"] for s in stores["main"].skips()}
    finished = set(stores["main"].done_ids())
    if layers:
        finished &= stores["layers"].done_ids()
    finished |= skipped_before
    shards = pending_shards(make_shards(items, shard_size), finished, info.rank, info.world_size)
    result = ExtractResult(
        str(out), encoder.tag, info.rank, info.world_size, len(items), len(finished & {i.item_id for i in items})
    )
    writer = _ShardWriter(stores, out, skipped_before, info.rank)
    t_start = time.perf_counter()
    flat = [(sh, it) for sh in shards for it in sh.items]
    with progress_bar(len(flat), f"{encoder.name} rank {info.rank}", enabled=progress and len(flat) > 0) as advance:
        state = _State(encoder, layers, batch_size, result)
        stream = ordered_prefetch(
            lambda p: _load(encoder, p[1]), flat, num_workers, window=max(2 * batch_size, 4 * num_workers)
        )
        for (shard, item), (loaded, dt) in stream:
            result.load_seconds += dt
            if state.shard is not None and shard.index != state.shard.index:
                state.flush(writer)
            state.shard = shard
            state.add(item, loaded)
            if len(state.parts) >= batch_size:
                state.run_batch()
            advance(1)
        if state.shard is not None:
            state.flush(writer)
    result.seconds = time.perf_counter() - t_start
    write_rank_report(out, result_dict(result))
    barrier(joined)
    if info.rank == 0:
        finish_report(out, items, stores, prepare_records(manifest_path, encoder.modality))
    leave_process_group(joined)
    return result


#: speech quieter than this (RMS, dBFS) is counted in the summary: the old fixed gate rejected it
QUIET_DB = -60.0

#: extraction settings that change the embeddings at the 1e-7 level (through the batch composition)
RESUME_SETTINGS = {"shard_size": "--shard-size", "batch_size": "--batch-size"}


def check_resume_settings(store: EmbeddingStore, settings: dict[str, int]) -> None:
    """Refuse to add to a store written with another shard or batch size; record the settings of a fresh one.

    Batches never cross shards, and a model's batched arithmetic differs from item-by-item in the
    last bits (1e-7 on real data), so a store finished with other sizes would hold a mixture that
    no single run reproduces. Resuming with the same sizes is bit-identical to an uninterrupted run.
    """
    before = dict(store.meta.get("meta") or {})
    started = len(store) > 0 or bool(store.skips())
    differ = {k: (before.get(k), v) for k, v in settings.items() if before.get(k) is not None and before[k] != v}
    if differ and started:
        flags = " ".join(f"{RESUME_SETTINGS[k]} {old}" for k, (old, _) in differ.items())
        given = ", ".join(f"{RESUME_SETTINGS[k]} {new}" for k, (_, new) in differ.items())
        raise ValueError(
            f"{store.root}: this store was started with {flags}; resume it with the same values (given {given}: "
            "batch composition changes embeddings in the last bits) or extract into a new --out folder"
        )
    if differ or any(before.get(k) is None for k in settings):
        store.update_meta({**before, **settings})


class _State:
    """The shard being built: loaded parts waiting for the model, finished embeddings, skips, notes."""

    def __init__(self, encoder: Encoder, layers: bool, batch_size: int, result: ExtractResult) -> None:
        self.encoder, self.layers, self.batch_size, self.result = encoder, layers, batch_size, result
        self.shard: Shard | None = None
        self._reset()

    def _reset(self) -> None:
        self.parts: list[Any] = []
        self.owners: list[WorkItem] = []
        self.order: list[WorkItem] = []
        self.part_emb: dict[str, list[np.ndarray]] = {}
        self.part_lay: dict[str, list[np.ndarray]] = {}
        self.errors: dict[str, str] = {}
        self.skips: list[dict] = []
        self.notes: dict[str, dict] = {}

    def add(self, item: WorkItem, loaded: LoadedItem | SkipItem) -> None:
        if isinstance(loaded, SkipItem):
            self.skips.append(
                {"item_id": item.item_id, "path": item.path, "reason": loaded.reason, "detail": loaded.detail}
            )
            return
        self.order.append(item)
        if loaded.notes:
            self.notes[item.item_id] = loaded.notes
        for part in loaded.parts:
            self.parts.append(part)
            self.owners.append(item)

    def run_batch(self) -> None:
        if not self.parts:
            return
        t0 = time.perf_counter()
        try:
            emb, lay, errs = _encode_parts(self.encoder, self.parts, self.layers)
        except Exception as exc:  # a lone part that the model rejects
            emb, lay, errs = np.full((1, self.encoder.dim), np.nan, np.float32), None, [f"{type(exc).__name__}: {exc}"]
        self.result.encode_seconds += time.perf_counter() - t0
        for j, owner in enumerate(self.owners):
            self.part_emb.setdefault(owner.item_id, []).append(emb[j])
            if lay is not None:
                self.part_lay.setdefault(owner.item_id, []).append(lay[:, j])
            if errs[j]:
                self.errors[owner.item_id] = errs[j]
        self.parts, self.owners = [], []

    def flush(self, writer: _ShardWriter) -> None:
        self.run_batch()
        ids, mains, lays = [], [], []
        for item in self.order:
            e = np.mean(np.stack(self.part_emb[item.item_id]), axis=0).astype(np.float32)
            lv = np.mean(np.stack(self.part_lay[item.item_id]), axis=0).reshape(-1) if self.layers else None
            bad = self.errors.get(item.item_id) or ("" if np.isfinite(e).all() else "non-finite embedding")
            if not bad and lv is not None and not np.isfinite(lv).all():
                bad = "non-finite layer outputs"
            if bad:
                self.skips.append({"item_id": item.item_id, "path": item.path, "reason": "encode_error", "detail": bad})
                continue
            ids.append(item.item_id)
            mains.append(e)
            lays.append(lv)
        emb = {"main": np.stack(mains) if mains else np.zeros((0, self.encoder.dim), np.float32)}
        if self.layers and lays:
            emb["layers"] = np.stack(lays).astype(np.float32)
        writer.write(self.shard, ids, emb, self.skips, {k: v for k, v in self.notes.items() if k in set(ids)})
        self.result.embedded += len(ids)
        self.result.skipped += len(self.skips)
        for s in self.skips:
            self.result.skip_reasons[s["reason"]] = self.result.skip_reasons.get(s["reason"], 0) + 1
        kept = set(ids)
        for item_id, v in self.notes.items():
            if item_id not in kept:
                continue
            keys = [f"face_source={v['face_source']}"] if "face_source" in v else []
            if float(v.get("level_db", 0.0)) < QUIET_DB:  # kept on the VAD's word, where a fixed gate would not
                keys.append(f"quiet speech kept (RMS < {QUIET_DB:g} dBFS)")
            for key in keys:
                self.result.notes[key] = self.result.notes.get(key, 0) + 1
        self._reset()


def result_dict(result: ExtractResult) -> dict[str, Any]:
    """JSON-ready view of an :class:`ExtractResult` (with ``items_per_second``)."""
    d = asdict(result)
    d["items_per_second"] = round(result.items_per_second, 3)
    return d


__all__ = ["ExtractResult", "extract", "result_dict"]
