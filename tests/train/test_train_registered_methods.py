"""Every registered method through the one trainer: trains, selects, and resumes bit for bit after a crash
mid-epoch (in process, fast; the SIGKILL tests of a real process are in test_kill_resume.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from train_fixtures import make_tiny_bundle

from facevoice.methods import METHODS
from facevoice.pipelines.run import load_method, train
from facevoice.train.samplers import MethodBatches


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
    steps_per_epoch = rows[0]["step"]
    crash_at = steps_per_epoch + max(1, steps_per_epoch // 2)  # in the middle of epoch 2
    real_epoch = MethodBatches.epoch

    def crashing_epoch(self, epoch, n_epochs, rng):
        for k, batch in enumerate(real_epoch(self, epoch, n_epochs, rng)):
            if epoch * steps_per_epoch + k == crash_at:
                raise KeyboardInterrupt("simulated kill")
            yield batch

    monkeypatch.setattr(MethodBatches, "epoch", crashing_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(name), bundle=bundle, run_dir=tmp_path / "part")
    monkeypatch.undo()
    assert len((tmp_path / "part" / "metrics.jsonl").read_text().splitlines()) == 1
    train(_cfg(name), bundle=bundle, run_dir=tmp_path / "part", resume=True)
    for which in ("last", "best"):
        a = load_file(str(full / "checkpoints" / which / "model.safetensors"))
        b = load_file(str(tmp_path / "part" / "checkpoints" / which / "model.safetensors"))
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), f"{name}: {which} {k} differs after resume"
    strip = ("train_time_s", "samples_per_s", "val_time_s")
    again = [json.loads(x) for x in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    assert [{k: v for k, v in r.items() if k not in strip} for r in again] == [
        {k: v for k, v in r.items() if k not in strip} for r in rows
    ]
