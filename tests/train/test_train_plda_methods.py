"""plda and xplda through the trainer: back-end fitted after training, saved, reloaded, scored as LLRs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from train_fixtures import make_tiny_bundle

from facevoice.backends.plda import CrossModalPLDA
from facevoice.eval.protocols.protocol_set import build_protocols
from facevoice.pipelines.evaluate import run_evaluation
from facevoice.pipelines.run import load_method, train
from facevoice.runs.loading import embed_run, method_pair_scores


@pytest.fixture(scope="module")
def bundle():
    return make_tiny_bundle(seed=5, n_train=30, n_val=8, n_test=8, per_id=6)


def _cfg(name, **train_opts):
    method = {"name": name, "n_pca": 8, "n_cross": [4, 8], "n_components": [2, 4], "reg": [0.03], "n_mix": [1, 2]}
    return {"method": method, "train": {"epochs": 2, "batch_size": 16, "seed": 0, "progress": False, **train_opts}}


@pytest.mark.parametrize("name", ["plda", "xplda"])
def test_backend_is_fitted_on_train_chosen_on_val_and_reloaded(name, bundle, tmp_path):
    run = train(_cfg(name), bundle=bundle, run_dir=tmp_path / name)
    info = json.loads((run / "run.json").read_text())
    summary = info["backend"] if name == "plda" else info["backend"]["raw_inputs"]
    assert summary["selected_on"] == "val" and summary["criterion"] == "val_eer"
    assert summary["params"]["n_components"] in (2, 4) and summary["params"]["n_mix"] in (1, 2)
    if name == "xplda":
        assert isinstance(info["backend"]["frontend_used"], bool)
    method = load_method(run)
    backend = method.score_backend()
    assert isinstance(backend, CrossModalPLDA) and backend.llr
    # the reloaded back-end scores exactly as a second load, and pairs agree with the matrix
    again = load_method(run).score_backend()
    face, voice = bundle.embeddings["face"][:12], bundle.embeddings["voice"][:12]
    s = method_pair_scores(method, face, voice)
    np.testing.assert_array_equal(s, method_pair_scores(load_method(run), face, voice))
    F = backend.vectors(method.embed(torch.as_tensor(face), "face").double().numpy(), "face")
    V = again.vectors(method.embed(torch.as_tensor(voice), "voice").double().numpy(), "voice")
    np.testing.assert_allclose(np.diag(backend.matrix_scores(F, V)), s, atol=1e-9)


def test_xplda_run_through_evaluate_reports_calibration(bundle, tmp_path):
    run = train(_cfg("xplda"), bundle=bundle, run_dir=tmp_path / "x")
    data = bundle.save(tmp_path / "bundle")
    ps = build_protocols(bundle.manifest, seed=0, kinds=["verification"], constraints=["random"])
    ps.save(tmp_path / "prot")
    res, meta = run_evaluation(bundle=data, protocols=tmp_path / "prot", run=run)
    assert meta["metric"] == "CrossModalPLDA" and {"cllr", "min_cllr", "act_dcf", "eer"} <= set(res["metric"])
    uu = res[(res["split"] == "test_unseen") & (res["direction"] == "v2f") & (res["metric"] == "eer")]
    assert float(uu["value"].iloc[0]) < 0.35  # the planted problem is learnable
    with pytest.raises(ValueError, match="scores with its own back-end"):
        embed_run(run, data, tmp_path / "emb")
    with pytest.raises(ValueError, match="not a score file"):
        run_evaluation(scores=tmp_path / "x.txt", run=run)


def test_plda_without_validation_uses_the_default_point(bundle, tmp_path):
    run = train(_cfg("plda", selection="last"), bundle=bundle, run_dir=tmp_path / "p")
    info = json.loads((run / "run.json").read_text())
    assert info["backend"]["selected_on"] is None
    assert info["backend"]["params"]["n_mix"] == 1 and info["backend"]["params"]["reg"] == 0.03
