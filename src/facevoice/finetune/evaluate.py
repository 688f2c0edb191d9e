"""Embedding cached items with a (LoRA-tuned) dual encoder, and scoring them with the standard protocols.

In a data-parallel run every process embeds its shard of the items; accelerate pads the last
shards with repeated items so all processes take the same number of steps, so the gathered rows
are de-duplicated by their item index before use (nothing is counted twice).

Scores are cosines in the shared space. Checkpoints are selected on the validation identities
with the all-pairs EER (every voice × face pair: exact, no sampling noise). Test splits are scored
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
from facevoice.eval import metrics
from facevoice.eval.protocols.protocol_set import build_protocols
from facevoice.eval.scoring.engine import evaluate_embeddings
from facevoice.finetune.cache import InputCache
from facevoice.finetune.data import ItemCollator, ItemDataset


@torch.no_grad()
def embed_items(
    model: Any, branch: Any, cache: InputCache, item_ids: list[str], batch_size: int, accelerator: Any = None
) -> np.ndarray:
    """L2-normalised shared-space embeddings ``(N, D)`` of ``item_ids`` (frames of an item averaged).

    ``model`` is the unwrapped :class:`DualEncoder`, ``branch`` its voice or face branch. Voice
    models whose first conv layer normalises over time (padding-sensitive) are run one item at a time.
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
    device = torch.device("cpu") if accelerator is None else accelerator.device
    if accelerator is not None and accelerator.num_processes > 1:
        from accelerate.data_loader import prepare_data_loader

        loader = prepare_data_loader(
            loader,
            device=device,
            num_processes=accelerator.num_processes,
            process_index=accelerator.process_index,
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
            if accelerator is not None and accelerator.num_processes > 1:
                emb, index = accelerator.gather(emb), accelerator.gather(index)
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


def _average_parts(rows: list[tuple[str, int]], X: np.ndarray, item_ids: list[str]) -> np.ndarray:
    pos = {iid: i for i, iid in enumerate(item_ids)}
    out = np.zeros((len(item_ids), X.shape[1]), dtype=np.float64)
    np.add.at(out, [pos[iid] for iid, _ in rows], X)
    out /= np.linalg.norm(out, axis=1, keepdims=True).clip(1e-12)
    return out.astype(np.float32)


def score_all_pairs(pool: pd.DataFrame, voice: dict[str, np.ndarray], face: dict[str, np.ndarray], split: str) -> dict:
    """Every voice × face pair of one split scored by cosine → exact EER / AUC (no sampling noise).

    ``pool``: the split's manifest rows; ``voice`` / ``face``: item_id → L2-normalised embedding.
    Used to select checkpoints on validation identities.
    """

    v = pool[(pool["modality"] == "voice") & pool["item_id"].isin(voice)]
    f = pool[(pool["modality"] == "face") & pool["item_id"].isin(face)]
    if v.empty or f.empty:
        raise ValueError(f"split {split!r}: no embedded voice ({len(v)}) or face ({len(f)}) item to score")
    same = v["identity"].to_numpy()[:, None] == f["identity"].to_numpy()[None, :]
    if same.all() or not same.any():
        raise ValueError(f"split {split!r}: voice-face pairs are all {'same' if same.all() else 'different'}-identity")
    S = np.stack([voice[i] for i in v["item_id"]]) @ np.stack([face[i] for i in f["item_id"]]).T
    rep = metrics.verification_report(S.ravel(), same.ravel().astype(np.int8))
    return {"all_pairs_eer": rep["eer"], "all_pairs_auc": rep["auc"], "n_voice": len(v), "n_face": len(f)}


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
