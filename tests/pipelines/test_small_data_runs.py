"""Small real corpora (issue 16 items 9 and 15): schedules that adapt to the data, and no selection on noise."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from facevoice.pipelines.recipes import load_recipe
from facevoice.pipelines.run import train
from facevoice.pipelines.schedule import adapt_schedule
from facevoice.train.config import TrainConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from train_fixtures import make_tiny_bundle  # noqa: E402


def _config(**train):
    return {
        "method": {"name": "contrastive"},
        "train": {"progress": False, "epochs": 2, **train},
        "schedule": {"steps": 40, "min_epochs": 2, "max_epochs": 30, "batches_per_epoch": 4},
    }


def test_schedule_resolves_batch_and_epochs_from_the_training_data():
    bundle = make_tiny_bundle(n_train=10, n_val=0, n_test=4, per_id=6)  # 10 ids x 5 train voice items (+1 test_seen)
    cfg = _config(batch_size=256)
    tcfg, rec = adapt_schedule(cfg, TrainConfig.from_dict(cfg["train"]), bundle, "contrastive")
    # 50 voice items: batch min(256, 50 // 4) = 12 -> 4 full batches + a last one of 2 = 5 steps; 40 steps -> 8 epochs
    assert (rec["voice_items"], rec["batch_size"], rec["steps_per_epoch"], rec["epochs"]) == (50, 12, 5, 8)
    assert (tcfg.batch_size, tcfg.epochs) == (12, 8)
    ssos, rec = adapt_schedule(cfg, TrainConfig.from_dict(cfg["train"]), bundle, "ssos")
    assert rec["batch_size"] == 10  # one item per identity per batch: at most the 10 identities
    sbnet, rec = adapt_schedule(cfg, TrainConfig.from_dict(cfg["train"]), bundle, "sbnet")
    assert rec["steps_per_epoch"] == 10 and rec["epochs"] == 4  # face and voice steps: 5 + 5
    assert adapt_schedule(cfg, TrainConfig(), bundle, "cca") == (TrainConfig(), None)  # training-free
    with pytest.raises(ValueError, match="unknown schedule option"):
        adapt_schedule({"schedule": {"steps": 5, "epochs": 3}}, TrainConfig(), bundle, "fop")


def test_too_few_validation_identities_fall_back_to_the_last_epoch_loudly(tmp_path, caplog):
    bundle = make_tiny_bundle(n_train=10, n_val=2, n_test=4)  # 2 validation identities: noise (AUC 9 % in the issue)
    with caplog.at_level(logging.WARNING):
        run = train(_config(), bundle=bundle, run_dir=tmp_path / "few")
    info = json.loads((run / "run.json").read_text())
    assert info["selection_used"] == "last" and info["selection_splits"] == []
    assert info["best_epoch"] == info["epoch"] == info["schedule"]["epochs"]
    assert "only 2 validation identities" in caplog.text and "LAST epoch" in caplog.text
    caplog.clear()
    bundle = make_tiny_bundle(n_train=10, n_val=0, n_test=4)
    with caplog.at_level(logging.WARNING):
        info = json.loads((train(_config(), bundle=bundle, run_dir=tmp_path / "none") / "run.json").read_text())
    assert info["selection_used"] == "last" and info["carved_val_identities"] == []  # 10 x 0.1 -> 2 would be noise
    assert "no validation identities" in caplog.text
    caplog.clear()
    bundle = make_tiny_bundle(n_train=24, n_val=0, n_test=4)
    with caplog.at_level(logging.WARNING):
        info = json.loads(
            (train(_config(val_fraction=0.25), bundle=bundle, run_dir=tmp_path / "carve") / "run.json").read_text()
        )
    assert info["selection_used"] == "val" and len(info["carved_val_identities"]) == 6
    assert "6 of the 24 training identities are held out" in caplog.text  # was one INFO line


def test_folder_recipes_adapt_and_resolve():
    for method in ("fop", "sbnet", "paeff", "ssos", "contrastive"):
        cfg = load_recipe(f"folder/{method}")
        assert cfg["schedule"]["steps"] > 0 and cfg["train"]["min_val_identities"] >= 8
    bench = load_recipe("folder/benchmark")
    assert bench["references"] == {"cca": True, "oracle": False, "gender": True, "chance": True}
