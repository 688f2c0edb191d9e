"""The trainer end to end on a tiny bundle: run dir, selection on validation, resume, non-trainable fit."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file
from train_fixtures import METHOD, SimulatedCrash, TinyTwoBranch, make_tiny_bundle

from facevoice.pipelines.run import load_method, train, train_and_embed


def _config(epochs=4, **train_kw):
    return {
        "benchmark": "tiny",
        "method": {"name": METHOD, "lr": 0.02},
        "train": {"epochs": epochs, "batch_size": 16, "seed": 3, "progress": False, **train_kw},
    }


def _metrics(run_dir):
    return [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_run_dir_contents_and_selection_on_val(tmp_path):
    bundle = make_tiny_bundle()
    run = train(_config(epochs=5), bundle=bundle, run_dir=tmp_path / "run")
    rows = _metrics(run)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5]
    assert all({"train_loss", "train_ce_face", "val_eer", "val_auc", "lr", "samples_per_s"} <= set(r) for r in rows)
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "complete" and info["selection_splits"] == ["val"]
    assert info["data"]["encoder_tags"] == {"face": "tiny-face", "voice": "tiny-voice"}
    assert len(info["data"]["manifest_sha256"]) == 64 and info["git_sha"]
    assert info["time_per_epoch_s"] > 0
    # best = the epoch with the lowest validation EER (first one on ties)
    eers = [r["val_eer"] for r in rows]
    assert info["best_epoch"] == int(np.argmin(eers)) + 1
    assert json.loads((run / "checkpoints" / "best.json").read_text())["epoch"] == info["best_epoch"]
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"] == 5
    # learning happened: validation EER well below chance at the best epoch
    assert min(eers) < 0.3
    # the best weights load back into a fresh method and reproduce the logged validation EER
    best = load_method(run, "best")
    assert set(load_file(str(run / "checkpoints" / "best" / "model.safetensors"))) == set(best.state_dict())


def test_existing_run_needs_resume(tmp_path):
    bundle = make_tiny_bundle()
    train(_config(epochs=1), bundle=bundle, run_dir=tmp_path / "run")
    with pytest.raises(FileExistsError, match="resume"):
        train(_config(epochs=1), bundle=bundle, run_dir=tmp_path / "run")


def _final_state(run_dir):
    return load_file(str(run_dir / "checkpoints" / "last" / "model.safetensors"))


def _same_training(a, b):
    sa, sb = _final_state(a), _final_state(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    strip = ("train_time_s", "samples_per_s", "val_time_s")
    ra = [{k: v for k, v in r.items() if k not in strip} for r in _metrics(a)]
    rb = [{k: v for k, v in r.items() if k not in strip} for r in _metrics(b)]
    assert ra == rb


def test_stop_after_epoch_then_resume_reproduces_uninterrupted_run(tmp_path):
    """``train.stop_after_epoch`` (train a schedule in slices) ends with status interrupted; resume finishes it."""
    bundle = make_tiny_bundle()
    full = train(_config(), bundle=bundle, run_dir=tmp_path / "full")
    part = train(_config(stop_after_epoch=2), bundle=bundle, run_dir=tmp_path / "part")
    assert json.loads((part / "run.json").read_text())["status"] == "interrupted"
    assert len(_metrics(part)) == 2
    train(_config(), bundle=bundle, run_dir=part, resume=True)
    _same_training(full, part)
    assert int(_final_state(part)["steps_seen"]) == int(_final_state(full)["steps_seen"]) > 0


def test_resume_after_crash_mid_epoch(tmp_path, monkeypatch):
    bundle = make_tiny_bundle()
    full = train(_config(epochs=3), bundle=bundle, run_dir=tmp_path / "full")
    steps_per_epoch = _metrics(full)[0]["step"]
    monkeypatch.setenv("TINY_FAIL_AT_STEP", str(steps_per_epoch + 2))  # inside epoch 2
    with pytest.raises(SimulatedCrash):
        train(_config(epochs=3), bundle=bundle, run_dir=tmp_path / "crash")
    monkeypatch.delenv("TINY_FAIL_AT_STEP")
    assert len(_metrics(tmp_path / "crash")) == 1
    assert json.loads((tmp_path / "crash" / "run.json").read_text())["status"] == "running"
    with pytest.raises(ValueError, match="different configuration: train.epochs: 3 -> 4"):
        train(_config(epochs=4), bundle=bundle, run_dir=tmp_path / "crash", resume=True)
    other = make_tiny_bundle(seed=9)
    with pytest.raises(ValueError, match="data changed"):
        train(_config(epochs=3), bundle=other, run_dir=tmp_path / "crash", resume=True)
    train(_config(epochs=3), bundle=bundle, run_dir=tmp_path / "crash", resume=True)
    _same_training(full, tmp_path / "crash")


def test_seeds_change_the_run_and_repeat_exactly(tmp_path):
    bundle = make_tiny_bundle()
    a = train(_config(epochs=1), bundle=bundle, run_dir=tmp_path / "a")
    b = train(_config(epochs=1), bundle=bundle, run_dir=tmp_path / "b")
    c = train(_config(epochs=1, seed=4), bundle=bundle, run_dir=tmp_path / "c")
    _same_training(a, b)
    assert not torch.equal(_final_state(a)["classifier.weight"], _final_state(c)["classifier.weight"])


def test_val_carved_from_train_when_missing(tmp_path):
    bundle = make_tiny_bundle(with_val=False)
    run = train(_config(epochs=1, val_fraction=0.25), bundle=bundle, run_dir=tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    classes = json.loads((run / "classes.json").read_text())["classes"]
    assert len(info["carved_val_identities"]) == 4
    assert not set(info["carved_val_identities"]) & set(classes)
    assert info["n_classes"] == 14


def test_test_reference_selection_warns(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        run = train(_config(epochs=1, selection="test_reference"), bundle=make_tiny_bundle(), run_dir=tmp_path / "r")
    assert "TEST identities" in caplog.text
    assert json.loads((run / "run.json").read_text())["selection_splits"] == ["test_unseen"]


def test_selection_last_and_bad_options(tmp_path):
    run = train(_config(epochs=2, selection="last"), bundle=make_tiny_bundle(), run_dir=tmp_path / "r")
    assert json.loads((run / "run.json").read_text())["best_epoch"] == 2
    with pytest.raises(ValueError, match="selection"):
        train(_config(selection="test"), bundle=make_tiny_bundle(), run_dir=tmp_path / "x")
    with pytest.raises(ValueError, match="unknown train option"):
        train(_config(epoch=3), bundle=make_tiny_bundle(), run_dir=tmp_path / "y")


def test_non_trainable_method_is_fitted_on_train_only(tmp_path):
    bundle = make_tiny_bundle()
    cfg = {"benchmark": "tiny", "method": {"name": "train_fixtures:TinyCCA"}, "train": {"progress": False}}
    run = train(cfg, bundle=bundle, run_dir=tmp_path / "cca")
    method = load_method(run)
    assert float(method.W.abs().sum()) > 0
    assert not (tmp_path / "cca" / "metrics.jsonl").exists()
    face, voice, info = train_and_embed("train_fixtures:TinyCCA", bundle, seed=0)
    assert face.shape == (bundle.embeddings["face"].shape[0], 16) and voice.shape[1] == 16
    assert info["status"] == "complete"


def test_train_and_embed_aligns_with_bundle_rows():
    bundle = make_tiny_bundle()
    face, voice, info = train_and_embed(METHOD, bundle, {"train": {"epochs": 2, "batch_size": 16}}, seed=1)
    assert face.shape == (len(bundle.rows("face")), 8) and voice.shape == (len(bundle.rows("voice")), 8)
    assert np.isfinite(face).all() and info["best_epoch"] in (1, 2) and info["run_dir"] is None


def test_grad_clip_and_patience(tmp_path):
    bundle = make_tiny_bundle()

    def moved(run, **train_kw):
        cfg = _config(epochs=1, **train_kw)
        cfg["method"].update(optimizer="sgd", lr=0.5)
        out = train(cfg, bundle=bundle, run_dir=tmp_path / run)
        torch.manual_seed(3)  # the run's seed: the same initial weights
        init = TinyTwoBranch(16, 12, 14)
        w = _final_state(out)["classifier.weight"]
        return float((w - init.classifier.weight.detach()).abs().max())

    free, clipped = moved("free"), moved("clip", grad_clip=1e-4)
    assert clipped < 1e-2 < free  # SGD steps of lr 0.5 with gradient norm <= 1e-4: tiny moves
    # patience: with lr 0 the validation EER never improves after epoch 1 -> stop after 1 + patience epochs
    cfg = _config(epochs=6, patience=2)
    cfg["method"]["lr"] = 0.0
    run = train(cfg, bundle=bundle, run_dir=tmp_path / "pat")
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "early_stopped" and info["epoch"] == 3 and info["best_epoch"] == 1
