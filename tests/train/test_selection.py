"""Checkpoint selection checked from the outside: the saved weights, not the trainer's own bookkeeping.

Each test recomputes what it asserts with an independent path: the validation EER of a saved
checkpoint from a per-item forward pass and the brute-force EER of tests/reference, and the rows of
``train_and_embed`` from the loaded best checkpoint one item at a time.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from train_fixtures import METHOD, make_tiny_bundle

from facevoice.pipelines.run import load_method, train, train_and_embed
from reference.metrics_reference import brute_eer

BUNDLE = dict(seed=3, n_train=8, n_val=6)


def _per_item(method, X: np.ndarray, modality: str) -> np.ndarray:
    """Embed one item at a time (no batching), L2-normalised: (N, D)."""
    method.eval()
    with torch.no_grad():
        rows = [method.embed(torch.as_tensor(x[None], dtype=torch.float32), modality)[0].numpy() for x in X]
    out = np.stack(rows).astype(np.float64)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _validation_eer(method, bundle) -> float:
    """Brute-force EER of every validation voice x face pair scored by cosine."""
    (fdf, F), (vdf, V) = bundle.select("face", ("val",)), bundle.select("voice", ("val",))
    S = _per_item(method, V, "voice") @ _per_item(method, F, "face").T
    same = vdf["identity"].to_numpy()[:, None] == fdf["identity"].to_numpy()[None, :]
    return brute_eer(S.ravel(), same.ravel().astype(int))[0]


@pytest.fixture(scope="module")
def overfit_run(tmp_path_factory):
    """A run whose validation EER peaks before its last epoch (lr 0.3 on 8 training identities: epoch 8 of 12)."""
    bundle = make_tiny_bundle(**BUNDLE)
    cfg = {
        "benchmark": "tiny",
        "method": {"name": METHOD, "lr": 0.3},
        "train": {"epochs": 12, "batch_size": 8, "seed": 1, "progress": False},
    }
    run = train(cfg, bundle=bundle, run_dir=tmp_path_factory.mktemp("sel") / "run")
    return run, bundle


def test_best_checkpoint_holds_the_selected_epochs_weights(overfit_run):
    run, bundle = overfit_run
    rows = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    info = json.loads((run / "run.json").read_text())
    best_epoch = info["best_epoch"]
    assert best_epoch < len(rows), "precondition: this run must peak before its last epoch"
    logged_best = rows[best_epoch - 1]["val_eer"]
    assert logged_best == min(r["val_eer"] for r in rows)
    # the weights stored as "best" give the best epoch's validation EER, recomputed independently ...
    best_eer = _validation_eer(load_method(run, "best"), bundle)
    assert best_eer == pytest.approx(logged_best, abs=1e-6)
    assert json.loads((run / "checkpoints" / "best.json").read_text())["val_eer"] == pytest.approx(best_eer, abs=1e-6)
    # ... and "last" the last epoch's, which is worse: best was not overwritten by later epochs
    last_eer = _validation_eer(load_method(run, "last"), bundle)
    assert last_eer == pytest.approx(rows[-1]["val_eer"], abs=1e-6)
    assert best_eer < last_eer


def test_train_and_embed_rows_are_the_best_checkpoints_per_item_outputs(tmp_path):
    bundle = make_tiny_bundle(**BUNDLE)
    cfg = {"method": {"lr": 0.3}, "train": {"epochs": 12, "batch_size": 8}}
    face, voice, info = train_and_embed(METHOD, bundle, cfg, seed=1, run_dir=tmp_path / "run")
    assert info["best_epoch"] < 12, "precondition: best and last differ"
    best, last = load_method(tmp_path / "run", "best"), load_method(tmp_path / "run", "last")
    for modality, got in (("face", face), ("voice", voice)):
        X = bundle.embeddings[modality]
        want = _per_item(best, X, modality)
        got = got.astype(np.float64) / np.linalg.norm(got, axis=1, keepdims=True)
        np.testing.assert_allclose(got, want, atol=1e-5)  # row order = bundle.rows(modality), best weights
        assert not np.allclose(got, _per_item(last, X, modality), atol=1e-3)
