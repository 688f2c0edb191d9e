"""Fine-tuning learns, and LoRA changes only the encoder it adapts: values derived in the test itself.

One tiny run (LoRA on the face encoder, 16 simulated identities whose voices and faces share a latent,
finetune_media.py) is compared with the model it starts from (same seed, same build order, never
trained). The test embeds items itself, one at a time, from the run's input cache, and computes
every EER / AUC with scikit-learn over every voice x face pair: nothing comes from the trainer's own
scoring except the logged figures it checks.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from finetune_media import tiny_config, write_media
from sklearn.metrics import roc_auc_score, roc_curve

from facevoice.core.seeding import seed_everything
from facevoice.data.manifest import read_manifest, write_manifest
from facevoice.encoders.hf.audio import prepare_audio
from facevoice.encoders.hf.vision import prepare_images
from facevoice.finetune.cache import InputCache
from facevoice.finetune.config import resolve_finetune_config
from facevoice.finetune.model import DualEncoder, build_dual_encoder
from facevoice.finetune.run import finetune, load_finetuned


def _inputs(model: DualEncoder, cache: InputCache, modality: str, item_id: str) -> list[dict]:
    if modality == "voice":
        return [prepare_audio(model.voice.processor, cache.get(item_id), int(model.voice.sample_rate))]
    return [{"pixel_values": prepare_images(model.face.processor, [frame])} for frame in cache.get(item_id)]


@torch.no_grad()
def _pairs(model: DualEncoder, manifest, caches, split: str):
    """Cosine of every voice x face pair of ``split`` (one item per forward pass, frames averaged) and the targets."""
    model.eval()
    rows = manifest[manifest["split"] == split]
    emb = {}
    for modality in ("voice", "face"):
        items = rows[(rows["modality"] == modality) & rows["item_id"].isin(set(caches[modality].ids()))]
        vecs = [
            torch.stack([model.embed(modality, x)[0] for x in _inputs(model, caches[modality], modality, i)]).mean(0)
            for i in items["item_id"]
        ]
        emb[modality] = (torch.nn.functional.normalize(torch.stack(vecs), dim=1).numpy(), items["identity"].to_numpy())
    scores = emb["voice"][0] @ emb["face"][0].T
    same = emb["voice"][1][:, None] == emb["face"][1][None, :]
    return scores.ravel(), same.ravel().astype(int)


def _eer_auc(scores, labels) -> tuple[float, float]:
    fpr, tpr, _ = roc_curve(labels, scores)
    k = np.nanargmin(np.abs(1 - tpr - fpr))
    return float((fpr[k] + 1 - tpr[k]) / 2), float(roc_auc_score(labels, scores))


@torch.no_grad()
def _features(model: DualEncoder, caches, manifest, modality: str) -> torch.Tensor:
    """Pooled encoder outputs (before the heads) of the first test items of ``modality``."""
    model.eval()
    rows = manifest[(manifest["split"] == "test_unseen") & (manifest["modality"] == modality)]
    branch = getattr(model, modality)
    return torch.cat([branch(_inputs(model, caches[modality], modality, i)[0]) for i in rows["item_id"][:6]])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft_learn")
    write_manifest(write_media(root / "media", n_ids=16, per_id=4, seconds=0.5), root / "manifest.parquet")
    cfg = tiny_config(root / "manifest.parquet", "face", epochs=12, lr_head=1e-2, warmup_steps=2)
    cfg["eval"]["gallery_sizes"] = [2]
    seed_everything(0)  # what finetune does before building seed 0's model: these are its initial weights
    untrained = build_dual_encoder(resolve_finetune_config(cfg))
    finetune(cfg, root / "run")
    caches = {m: InputCache(root / "run" / "inputs" / m) for m in ("voice", "face")}
    return root / "run", untrained, load_finetuned(root / "run", 0), read_manifest(root / "manifest.parquet"), caches


def test_learned_eer_is_clearly_below_the_untrained_models(trained):
    run, untrained, model, manifest, caches = trained
    figures = {}
    for split in ("val", "test_unseen"):
        figures[split] = [_eer_auc(*_pairs(m, manifest, caches, split)) for m in (untrained, model)]
        (eer0, auc0), (eer1, auc1) = figures[split]
        assert eer1 <= eer0 - 0.1 and auc1 >= auc0 + 0.1, f"{split}: untrained EER {eer0:.3f} -> trained {eer1:.3f}"
    # the logged selection figures are those of the checkpoint that was kept (re-embedded here, one item
    # at a time instead of the trainer's batches: equal up to float rounding)
    best = json.loads((run / "seed_0" / "checkpoints" / "best.json").read_text())
    assert best["val_auc"] == pytest.approx(figures["val"][1][1], abs=1e-3)
    rows = [json.loads(x) for x in (run / "seed_0" / "metrics.jsonl").read_text().splitlines()]
    assert best["epoch"] == 1 + int(np.argmin([r["val_eer"] for r in rows]))


def test_lora_changes_the_adapted_encoder_and_leaves_the_frozen_one_bit_identical(trained):
    _, untrained, model, manifest, caches = trained
    face0, face1 = (_features(m, caches, manifest, "face") for m in (untrained, model))
    voice0, voice1 = (_features(m, caches, manifest, "voice") for m in (untrained, model))
    assert torch.equal(voice0, voice1)  # the voice encoder has no LoRA: its outputs must not move at all
    assert (face0 - face1).abs().max() > 1e-2 * face0.abs().max()  # the adapted face encoder's outputs moved
    for branch in ("voice", "face"):  # no base weight of either encoder changed; only LoRA tensors did
        before = {n: p for n, p in getattr(untrained, branch).named_parameters() if "lora_" not in n}
        after = {n: p for n, p in getattr(model, branch).named_parameters() if "lora_" not in n}
        assert before.keys() == after.keys() and all(torch.equal(before[n], after[n]) for n in before), branch
    lora = {n: p for n, p in model.face.named_parameters() if "lora_B" in n}
    assert lora and all(p.abs().max() > 0 for p in lora.values())  # lora_B starts at zero: every one trained
