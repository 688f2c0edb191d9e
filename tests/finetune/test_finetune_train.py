"""End-to-end fine-tuning on tiny encoders through the one engine: the four LoRA settings, the run layout,
seeds, resume refusals, real media."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from finetune_media import tiny_config, write_media
from safetensors.torch import load_file

from facevoice.data.manifest import write_manifest
from facevoice.finetune.run import finetune, load_finetuned


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ft_sim")
    write_manifest(write_media(root / "media", n_ids=8, per_id=4, seconds=0.5), root / "manifest.parquet")
    return root / "manifest.parquet", root / "cache"


@pytest.mark.parametrize("setting", ["none", "face", "voice", "both"])
def test_each_lora_setting_trains_and_evaluates(setting: str, simulated, tmp_path: Path) -> None:
    manifest, cache = simulated
    cfg = tiny_config(manifest, setting, epochs=1)
    cfg["data"]["cache_dir"] = str(cache)
    cfg["data"]["num_workers"] = 1 if setting == "voice" else 0  # one run through a data-loader worker
    out = finetune(cfg, tmp_path / "run")
    run = out["runs"][0]
    params = run["parameters"]
    assert (params["lora_face"] > 0) == (setting in ("face", "both"))
    assert (params["lora_voice"] > 0) == (setting in ("voice", "both"))
    assert params["trainable"] == params["lora_total"] + params["heads"] + 1
    assert params["lora_share"] == pytest.approx(params["lora_total"] / params["encoders_total"])
    test = run["test"]
    for key in ("verification/v2f/random/eer", "verification/f2v/random/auc", "matching/v2f/N=2/accuracy"):
        assert 0.0 <= test[f"test_unseen/{key}"] <= 1.0
    assert "test_unseen/retrieval/v2f/all/map" in test
    table = pd.read_csv(tmp_path / "run" / "seed_0" / "test_results.csv")
    v2f = table[(table.protocol == "verification") & (table.direction == "v2f") & (table.constraint == "random")]
    assert set(v2f["n"]) == {16}  # 8 voice probes x (1 positive + 1 negative), from the standard protocol lists
    assert (tmp_path / "run" / "protocols" / "trials.tsv").exists()
    seed_dir = tmp_path / "run" / "seed_0"
    for modality in ("face", "voice"):
        has_adapter = (seed_dir / f"{modality}_adapter" / "adapter_model.safetensors").exists()
        assert has_adapter == (setting in (modality, "both"))
    best = load_file(str(seed_dir / "checkpoints" / "best" / "model.safetensors"))
    assert "loss.log_scale" in best and any(k.startswith("voice_head.") for k in best)
    assert any("lora_" in k for k in best) == (setting != "none")
    assert all("lora_" in k or k.startswith(("voice_head.", "face_head.", "loss.")) for k in best)  # no frozen weights
    assert sum(t.numel() for t in best.values()) == params["trainable"]
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["summary"]["test_unseen/verification/v2f/random/eer"]["n"] == 1
    rows = [json.loads(line) for line in (seed_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1] and {"val_eer", "val_auc", "val_metric", "train_loss"} <= set(rows[0])
    info = json.loads((seed_dir / "run.json").read_text())
    assert info["status"] == "complete" and info["best_epoch"] == 1 and len(info["data"]["manifest_sha256"]) == 64


def test_saved_adapter_reloads_with_peft(simulated, tmp_path: Path) -> None:
    from peft import PeftModel

    from facevoice.encoders.hf.common import load_backbone

    manifest, cache = simulated
    cfg = tiny_config(manifest, "both", epochs=1)
    cfg["data"]["cache_dir"] = str(cache)
    finetune(cfg, tmp_path / "run")
    seed_dir = tmp_path / "run" / "seed_0"
    best = load_file(str(seed_dir / "checkpoints" / "best" / "model.safetensors"))
    reloaded = PeftModel.from_pretrained(load_backbone(cfg["face_encoder"]["source"]).model, seed_dir / "face_adapter")
    lora = {n: p for n, p in reloaded.named_parameters() if "lora_" in n}
    assert len(lora) == 24
    for name, p in lora.items():
        torch.testing.assert_close(p, best[f"face.model.{name}"])
    model = load_finetuned(tmp_path / "run", seed=0)  # the run rebuilt from config.yaml + the best checkpoint
    torch.testing.assert_close(model.face_head.net[0].weight, best["face_head.net.0.weight"])
    # a finished run is not trained again without --resume, and resume refuses another configuration
    with pytest.raises(FileExistsError, match="--resume"):
        finetune(cfg, tmp_path / "run")
    cfg["train"]["lr_head"] = 0.5
    with pytest.raises(ValueError, match="different configuration: train.lr_head"):
        finetune(cfg, tmp_path / "run", resume=True)


def test_training_reduces_the_loss_and_reports_mean_std_over_seeds(simulated, tmp_path: Path) -> None:
    manifest, cache = simulated
    cfg = tiny_config(manifest, "face", epochs=3, lr_head=3e-3)
    cfg["seeds"] = [0, 1]
    cfg["data"]["cache_dir"] = str(cache)
    out = finetune(cfg, tmp_path / "run")
    for run in out["runs"]:
        losses = [h["train_loss"] for h in run["history"]]
        assert losses[-1] < losses[0]
        assert run["best_epoch"] in (1, 2, 3)
        assert run["val_eer"] == min(h["val_eer"] for h in run["history"])
    key = "test_unseen/verification/v2f/random/eer"
    eers = [r["test"][key] for r in out["runs"]]
    s = out["summary"][key]
    assert s["n"] == 2 and s["mean"] == pytest.approx(sum(eers) / 2)
    assert s["std"] == pytest.approx(abs(eers[0] - eers[1]) / 2**0.5)


def test_finetune_on_real_media(shared_data: Path, tmp_path: Path) -> None:
    """FSDD speakers paired with ORL faces (6 artificial identities): real decoding, resampling, skips."""
    speakers = sorted({p.name.split("_")[1] for p in (shared_data / "fsdd_voices").glob("*.wav")})[:6]
    assert len(speakers) == 6, "expected 6 FSDD speakers"
    rows = []
    for k, spk in enumerate(speakers):
        split = "train" if k < 2 else "val" if k < 4 else "test_unseen"
        for j in range(4):
            common = {"identity": f"p{k}", "split": split, "video": f"s{j}"}
            wav = shared_data / "fsdd_voices" / f"{j}_{spk}_0.wav"
            rows.append({"item_id": f"v{k}_{j}", "modality": "voice", "path": str(wav), **common})
            face = shared_data / "orl_faces" / f"s{k + 1}" / f"{j + 1}.pgm"
            rows.append({"item_id": f"f{k}_{j}", "modality": "face", "path": str(face), **common})
    gone = str(tmp_path / "gone.jpg")
    rows.append({"item_id": "f0_missing", "modality": "face", "path": gone, "identity": "p0", "split": "train"})
    write_manifest(pd.DataFrame(rows), tmp_path / "manifest.parquet")
    cfg = tiny_config(tmp_path / "manifest.parquet", "face", epochs=1)
    out = finetune(cfg, tmp_path / "run")
    assert out["skipped"]["face"][0]["item_id"] == "f0_missing" and out["skipped"]["face"][0]["reason"] == "missing"
    table = pd.read_csv(tmp_path / "run" / "seed_0" / "test_results.csv")
    retrieval = table[(table.protocol == "retrieval") & (table.direction == "v2f")]
    assert set(retrieval["n"]) == {8}  # 8 voice probes of the 2 test identities
    assert 0.0 <= out["runs"][0]["test"]["test_unseen/verification/v2f/random/eer"] <= 1.0
