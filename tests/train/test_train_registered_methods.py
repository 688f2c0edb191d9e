"""Every registered method through the one trainer: trains, selects, and resumes bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from train_fixtures import make_tiny_bundle

from facevoice.methods import METHODS
from facevoice.pipelines.run import load_method, train


def _cfg(name, epochs=2):
    # the smoke settings make two short epochs exercise every stage (e.g. SSoS's stage switch at step 10)
    return {
        "method": {"name": name, **METHODS.get(name).smoke_hparams},
        "train": {"epochs": epochs, "batch_size": 8, "seed": 1, "progress": False},
    }


@pytest.fixture(scope="module")
def bundle():
    return make_tiny_bundle(seed=3)


@pytest.mark.parametrize("name", METHODS.names())
def test_method_trains_and_resumes_exactly(name, bundle, tmp_path, monkeypatch):
    full = train(_cfg(name), bundle=bundle, run_dir=tmp_path / "full")
    info = json.loads((full / "run.json").read_text())
    assert info["status"] == "complete"
    method = load_method(full)
    X = torch.as_tensor(bundle.embeddings["face"][:5])
    assert torch.isfinite(method.embed(X, "face")).all()
    if not getattr(method, "trainable", True):
        return
    rows = [json.loads(x) for x in (full / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["train_loss"]) and 0 <= r["val_eer"] <= 1 for r in rows)
    monkeypatch.setenv("FACEVOICE_STOP_AFTER_EPOCH", "1")
    train(_cfg(name), bundle=bundle, run_dir=tmp_path / "part")
    monkeypatch.delenv("FACEVOICE_STOP_AFTER_EPOCH")
    train(_cfg(name), bundle=bundle, run_dir=tmp_path / "part", resume=True)
    a = load_file(str(full / "checkpoints" / "last" / "model.safetensors"))
    b = load_file(str(tmp_path / "part" / "checkpoints" / "last" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{name}: {k} differs after resume"
