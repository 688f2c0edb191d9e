"""Parameter budgets: the dry run (meta device) agrees with real models and finds the paper's setting."""

from __future__ import annotations

import pytest
from finetune_media import TINY_AUDIO, TINY_VISION

from facevoice.encoders.hf.common import load_backbone, tiny_config
from facevoice.encoders.hf.families import FAMILIES, MODEL_TYPES
from facevoice.finetune.budget import HUB_PRESETS, PRESETS, dry_run, meta_backbone, parameter_report
from facevoice.finetune.model import build_dual_encoder


def test_paper_encoders_face_lora_matches_the_published_budget() -> None:
    """WavLM-Large + SigLIP ViT-B/16 built without weights; face-only LoRA r=8 on all linear layers."""
    rows = {r["setting"]: r for r in dry_run("wavlm-large", "siglip-b16", {"rank": 8, "targets": "all"})}
    face = rows["face"]
    assert face["voice_encoder"] == 315_453_120 and face["face_encoder"] == 92_884_224
    assert face["lora_face"] == 12 * 8 * (4 * (768 + 768) + 2 * (768 + 3072))  # 1,327,104
    assert round(face["lora_total"] / 1e6, 2) == 1.33
    assert 100 * face["lora_share"] == pytest.approx(0.325, abs=5e-4)
    assert rows["none"]["lora_total"] == 0 and rows["voice"]["lora_face"] == 0
    assert rows["both"]["lora_total"] == rows["face"]["lora_total"] + rows["voice"]["lora_total"]
    assert rows["voice"]["lora_voice"] == 24 * 8 * (4 * 2048 + 2 * (1024 + 4096))


def test_dry_run_equals_the_real_model_report() -> None:
    lora = {"rank": 3, "targets": "qv", "face": {"targets": "all", "rank": 2}}
    rows = {r["setting"]: r for r in dry_run(TINY_AUDIO, TINY_VISION, lora, embed_dim=16, head_hidden=None)}
    cfg = {
        "voice_encoder": {"name": "wavlm", "source": TINY_AUDIO},
        "face_encoder": {"name": "siglip", "source": TINY_VISION},
        "lora": {"setting": "both", **lora},
        "model": {"embed_dim": 16, "head_hidden": None},
    }
    real = parameter_report(build_dual_encoder(cfg))
    both = rows["both"]
    for key in ("voice_encoder", "face_encoder", "lora_voice", "lora_face", "heads", "trainable"):
        assert real[key] == both[key], key
    assert real["lora_voice"] == 2 * 3 * (2 * 64)  # q and v, rank 3, two layers
    assert real["lora_share"] == pytest.approx(both["lora_share"])


def test_meta_backbone_refuses_to_download() -> None:
    with pytest.raises(ValueError, match="without downloading"):
        meta_backbone("someone/some-model")
    assert sum(p.numel() for p in meta_backbone("microsoft/wavlm-large").parameters()) == 315_453_120


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_has_a_tiny_preset_the_size_of_the_real_model(family: str) -> None:
    real = sum(p.numel() for p in load_backbone(tiny_config(family)).model.parameters())
    assert sum(p.numel() for p in meta_backbone(f"tiny-{family}").parameters()) == real


def test_full_size_presets_build_without_weights() -> None:
    for hub, preset in HUB_PRESETS.items():
        assert preset in PRESETS, hub
    for name, spec in PRESETS.items():
        model = meta_backbone(name)
        assert MODEL_TYPES[model.config.model_type] == spec["family"], name
