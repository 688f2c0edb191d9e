"""Validation for checkpoint selection: every voice x face pair of the val identities, checked pair by pair."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score, roc_curve
from train_fixtures import METHOD, TinyTwoBranch, make_tiny_bundle

from facevoice.pipelines.run import train
from facevoice.train.config import TrainConfig
from facevoice.train.validation import ValidationSet


def _brute_force(bundle, method, cols=()):
    """AUC / EER from an explicit list of (voice, face) pairs built with Python loops."""
    f_df, F = bundle.select("face", ("val",))
    v_df, V = bundle.select("voice", ("val",))
    with torch.no_grad():
        f = torch.nn.functional.normalize(method.embed(torch.as_tensor(F), "face"), dim=1).numpy()
        v = torch.nn.functional.normalize(method.embed(torch.as_tensor(V), "voice"), dim=1).numpy()
    scores, labels = [], []
    for i, vr in v_df.iterrows():
        for j, fr in f_df.iterrows():
            target = vr["identity"] == fr["identity"]
            if not target and any(vr[c] != fr[c] for c in cols):
                continue
            scores.append(float(v[i] @ f[j]))
            labels.append(int(target))
    fpr, tpr, _ = roc_curve(labels, scores)
    k = np.nanargmin(np.abs(1 - tpr - fpr))
    return roc_auc_score(labels, scores), (fpr[k] + 1 - tpr[k]) / 2


def _method(bundle):
    torch.manual_seed(0)
    m = TinyTwoBranch(bundle.embeddings["face"].shape[1], bundle.embeddings["voice"].shape[1], 10)
    return m.eval()


def test_all_pairs_and_constraints_match_brute_force():
    bundle = make_tiny_bundle()
    method = _method(bundle)
    val = ValidationSet.from_bundle(bundle, ("val",))
    assert val.n_identities == 4 and val.n_pairs == 24 * 24 and val.same.sum() == 4 * 36
    assert set(val.constraints) == {"G", "N"}  # the tiny bundle has no age bands
    out = val.evaluate(method)
    auc, eer = _brute_force(bundle, method)
    assert out["val_auc"] == pytest.approx(auc, abs=1e-9)
    assert out["val_eer"] == pytest.approx(eer, abs=0.02)  # sklearn's ROC point vs the exact crossing
    for name, cols in (("G", ("gender",)), ("N", ("nationality",))):
        assert out[f"val_auc_{name}"] == pytest.approx(_brute_force(bundle, method, cols)[0], abs=1e-9)
    assert out["val_metric"] == out["val_eer"]


def test_metric_choice_and_subsampling():
    bundle = make_tiny_bundle()
    method = _method(bundle)
    out = ValidationSet.from_bundle(bundle, ("val",), metric="auc").evaluate(method)
    assert out["val_metric"] == -out["val_auc"]
    out = ValidationSet.from_bundle(bundle, ("val",), metric="auc_mean").evaluate(method)
    assert out["val_metric"] == pytest.approx(-np.mean([out["val_auc"], out["val_auc_G"], out["val_auc_N"]]))
    small = ValidationSet.from_bundle(bundle, ("val",), seed=1, max_items=10)
    assert small.same.shape == (10, 10)
    again = ValidationSet.from_bundle(bundle, ("val",), seed=1, max_items=10)
    assert torch.equal(small.face, again.face) and torch.equal(small.voice, again.voice)
    with pytest.raises(ValueError, match="validation metric"):
        ValidationSet.from_bundle(bundle, ("val",), metric="accuracy")
    with pytest.raises(ValueError, match="val_metric"):
        TrainConfig(val_metric="accuracy")


def test_too_few_identities_gives_none():
    bundle = make_tiny_bundle(n_val=1)
    assert ValidationSet.from_bundle(bundle, ("val",)) is None


def test_trainer_selects_on_the_chosen_metric(tmp_path):
    config = {
        "benchmark": "tiny",
        "method": {"name": METHOD, "lr": 0.02},
        "train": {"epochs": 4, "batch_size": 16, "seed": 3, "progress": False, "val_metric": "auc_mean"},
    }
    run = train(config, bundle=make_tiny_bundle(), run_dir=tmp_path / "run")
    rows = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    assert all({"val_auc_G", "val_auc_N", "val_metric"} <= set(r) for r in rows)
    means = [np.mean([r["val_auc"], r["val_auc_G"], r["val_auc_N"]]) for r in rows]
    info = json.loads((run / "run.json").read_text())
    assert info["best_epoch"] == int(np.argmax(means)) + 1
