"""Embedding cached items with a (LoRA-tuned) dual encoder, and scoring them with the standard protocols.

In a data-parallel run every process embeds its shard of the items; accelerate pads the last
shards with repeated items so all processes take the same number of steps, so the gathered rows
are de-duplicated by their item index before use (nothing is counted twice).

Scores are cosines in the shared space. Checkpoints are selected on the validation identities
by :class:`PairValidation`: every voice × face pair scored by :func:`facevoice.train.validation.score_all_pairs`
(the head methods' validation; exact, no sampling noise). Test splits are scored
with the project's standard protocols (``facevoice.eval.protocols.protocol_set``: verification trials with
random / G / N / A / GNA negatives, 1:N matching, retrieval; both directions) through
``facevoice.eval.scoring.engine.evaluate_embeddings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from facevoice.encoders.hf.audio import padding_sensitive
from facevoice.eval.protocols.protocol_set import build_protocols
from facevoice.eval.scoring.engine import evaluate_embeddings
from facevoice.finetune.cache import InputCache
from facevoice.finetune.data import ItemCollator, ItemDataset
from facevoice.train.validation import pair_masks, score_all_pairs


@torch.no_grad()
def embed_items(
    model: Any, branch: Any, cache: InputCache, item_ids: list[str], batch_size: int, context: Any = None
) -> np.ndarray:
    """L2-normalised shared-space embeddings ``(N, D)`` of ``item_ids`` (frames of an item averaged).

    ``model`` is the :class:`DualEncoder`, ``branch`` its voice or face branch; ``context`` the
    trainer's :class:`~facevoice.train.distributed.AccelerateContext` (None: one process on the CPU).
    Voice models whose first conv layer normalises over time (padding-sensitive) are run one item at a time.
    """

    modality = branch.modality
    if modality == "voice" and padding_sensitive(branch.model.config):
        batch_size = 1
    ds = ItemDataset(cache, item_ids)
    loader = DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=False,
        collate_fn=ItemCollator(modality, branch.processor, branch.sample_rate),
    )
    device = torch.device("cpu") if context is None else context.device
    sharded = context is not None and context.num_processes > 1
    if sharded:
        from accelerate.data_loader import prepare_data_loader

        loader = prepare_data_loader(
            loader,
            device=device,
            num_processes=context.num_processes,
            process_index=context.process_index,
            split_batches=False,
            put_on_device=True,
            even_batches=True,
        )
    was_training = model.training
    model.eval()
    rows = np.zeros((len(ds), 0), dtype=np.float32)
    seen = np.zeros(len(ds), dtype=bool)
    try:
        for batch in loader:
            inputs = {k: v.to(device) for k, v in batch["inputs"].items()}
            emb = model.embed(modality, inputs).float()
            index = batch["index"].to(device)
            if sharded:
                emb, index = context.gather(emb), context.gather(index)
            emb_np, idx_np = emb.cpu().numpy(), index.cpu().numpy()
            if rows.shape[1] == 0:
                rows = np.zeros((len(ds), emb_np.shape[1]), dtype=np.float32)
            fresh = ~seen[idx_np]
            idx_fresh, first = np.unique(idx_np[fresh], return_index=True)  # dedupe padded repeats by index
            rows[idx_fresh] = emb_np[fresh][first]
            seen[idx_fresh] = True
    finally:
        model.train(was_training)
    if not seen.all():
        raise RuntimeError(f"embedding missed {int((~seen).sum())} of {len(ds)} {modality} parts")
    return _average_parts(ds.rows, rows, item_ids)


def embed_splits(
    model: Any, manifest: pd.DataFrame, caches: Mapping[str, InputCache], splits: list[str], batch_size: int, context
) -> dict[str, tuple[list[str], np.ndarray]]:
    """``{"voice": (ids, X (N, D)), "face": (ids, X)}`` of the cached items of ``splits``."""

    names = {s.split(":")[0] for s in splits}  # language subsets ("test_unseen:heard") share their split's items
    pool = manifest[manifest["split"].isin(names)]
    out = {}
    for modality, branch in (("voice", model.voice), ("face", model.face)):
        ids = [i for i in pool.loc[pool["modality"] == modality, "item_id"] if i in caches[modality]]
        out[modality] = (ids, embed_items(model, branch, caches[modality], ids, batch_size, context))
    return out


def _average_parts(rows: list[tuple[str, int]], X: np.ndarray, item_ids: list[str]) -> np.ndarray:
    pos = {iid: i for i, iid in enumerate(item_ids)}
    out = np.zeros((len(item_ids), X.shape[1]), dtype=np.float64)
    np.add.at(out, [pos[iid] for iid, _ in rows], X)
    out /= np.linalg.norm(out, axis=1, keepdims=True).clip(1e-12)
    return out.astype(np.float32)


class PairValidation:
    """The engine's validator for ``finetune``: every voice × face pair of the cached ``split`` items.

    The pairs' target and demographic masks are built once (:func:`~facevoice.train.validation.pair_masks`);
    each call embeds the items with the current model (sharded over processes) and scores them with
    :func:`~facevoice.train.validation.score_all_pairs`, exactly as the head methods are validated.
    """

    def __init__(
        self,
        manifest: pd.DataFrame,
        caches: Mapping[str, InputCache],
        batch_size: int,
        context: Any = None,
        metric: str = "eer",
        split: str = "val",
    ) -> None:
        pool = manifest[manifest["split"] == split]
        self.ids = {}
        rows = {}
        for modality in ("voice", "face"):
            rows[modality] = pool[(pool["modality"] == modality) & pool["item_id"].isin(set(caches[modality].ids()))]
            self.ids[modality] = list(rows[modality]["item_id"])
        both = set(rows["voice"]["identity"]) & set(rows["face"]["identity"])
        if len(both) < 2:
            raise ValueError(
                f"checkpoint selection needs >= 2 {split} identities with a cached voice and face item, got "
                f"{len(both)}; give a val split (or data.val_fraction > 0) or train.selection=last"
            )
        self.same, self.constraints = pair_masks(rows["voice"], rows["face"])
        self.caches, self.batch_size, self.context, self.metric = caches, int(batch_size), context, metric

    def evaluate(self, trainable: Any) -> dict[str, float]:
        """``val_eer``, ``val_auc``, ``val_auc_<C>``, ``val_metric`` of ``trainable.model`` (a :class:`DualEncoder`)."""
        model = trainable.model
        emb = {
            m: embed_items(model, getattr(model, m), self.caches[m], self.ids[m], self.batch_size, self.context)
            for m in ("voice", "face")
        }
        v, f = (torch.from_numpy(emb[m]) for m in ("voice", "face"))
        return score_all_pairs(v, f, self.same, self.constraints, self.metric)


def build_test_protocols(manifest: pd.DataFrame, splits: list[str], eval_cfg: Mapping[str, Any]) -> Any:
    """The standard protocol lists (:func:`facevoice.eval.protocols.protocol_set.build_protocols`) of the test
    ``splits`` present in ``manifest``, built once so every seed and setting is scored on the same lists."""

    present = [s for s in splits if (manifest["split"] == s).any()]
    if not present:
        return None
    return build_protocols(
        manifest,
        splits=present,
        seed=int(eval_cfg["trial_seed"]),
        n_neg=int(eval_cfg["n_neg"]),
        constraints=tuple(eval_cfg["constraints"]),
        gallery_sizes=tuple(eval_cfg["gallery_sizes"]),
    )


def evaluate_protocol_set(
    protocols: Any, voice: tuple[list[str], np.ndarray], face: tuple[list[str], np.ndarray]
) -> pd.DataFrame:
    """Long results table (protocol, split, direction, constraint, n, metric, value) of cosine scores."""

    return evaluate_embeddings(face, voice, protocols)


def flatten_results(table: pd.DataFrame) -> dict[str, float]:
    """``{"<split>/<protocol>/<direction>/<constraint>/<metric>": value}`` from a results table."""
    cols = ["split", "protocol", "direction", "constraint", "metric"]
    return {"/".join(str(r[c]) for c in cols): float(r["value"]) for _, r in table.iterrows()}
