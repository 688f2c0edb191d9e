"""A process killed inside a write leaves the previous version readable: checkpoints, run.json, the run.

Each test kills a forked child at every file-operation event of the write under test (before each
rename, removal, creation; before and halfway through each file write: see tests/kill_points.py) and
checks what is left on disk. The random SIGKILLs of whole `facevoice` processes are in
test_kill_resume.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_fixtures import METHOD, make_tiny_bundle

from facevoice.core.config import dump_config
from facevoice.core.files import write_json_atomic
from facevoice.pipelines.run import train
from facevoice.runs.checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from kill_points import killed_at


def _weights(value: float) -> dict[str, torch.Tensor]:
    return {"w": torch.full((64, 64), value), "b": torch.arange(5, dtype=torch.float32) + value}


def _stored_value(folder: Path) -> float:
    module = torch.nn.Module()
    module.register_buffer("w", torch.zeros(64, 64))
    module.register_buffer("b", torch.zeros(5))
    state, _ = load_checkpoint(folder, module)  # raises if nothing complete is there
    value = float(module.w[0, 0])
    assert torch.equal(module.w, torch.full((64, 64), value)) and torch.equal(module.b, torch.arange(5) + value)
    assert state == {"value": value}  # weights and resume state come from the same save
    return value


def _save(folder: Path, value: float) -> None:
    save_checkpoint(folder, _weights(value), {"value": value})


def test_checkpoint_killed_at_every_step_of_two_saves_in_a_row(tmp_path):
    """Kill save #2 at each event, then kill save #3 at each event on what #2 left: a complete checkpoint
    (the newest finished one, or the one being written if its swap completed) is always found."""
    base = tmp_path / "base" / "last"
    _save(base, 1.0)
    n_events, k = 0, 1
    while True:
        first = tmp_path / f"k{k}"
        shutil.copytree(base.parent, first)
        if not killed_at(k, lambda f=first: _save(f / "last", 2.0)):
            break
        n_events = k
        assert _stored_value(first / "last") in (1.0, 2.0), f"save #2 killed at event {k}"
        k2 = 1
        while True:
            second = tmp_path / f"k{k}_{k2}"
            shutil.copytree(first, second)
            if not killed_at(k2, lambda s=second: _save(s / "last", 3.0)):
                break
            assert _stored_value(second / "last") in (1.0, 2.0, 3.0), f"save #2 killed at {k}, save #3 at {k2}"
            k2 += 1
        _save(second / "last", 4.0)  # after any of those kills, a save completes and is the one found
        assert _stored_value(second / "last") == 4.0
        assert not (second / "last.tmp").exists() and not (second / "last.prev").exists()
        k += 1
    # the events: 1 mkdir, 2 x (before, halfway) safetensors, (before, halfway) state.json, 2 renames (+ rmtree)
    assert n_events >= 9


def test_a_lone_prev_copy_is_restored_before_the_next_save(tmp_path):
    """The state a kill between the two renames leaves (only ``last.prev``): the next save must not delete
    it before its own copy is complete (it used to, leaving no checkpoint at all if killed there)."""
    folder = tmp_path / "last"
    _save(folder, 1.0)
    folder.rename(tmp_path / "last.prev")
    assert resolve_checkpoint(folder) == tmp_path / "last.prev"
    assert _stored_value(folder) == 1.0
    for k in range(1, 30):
        trial = tmp_path / f"t{k}"
        shutil.copytree(tmp_path, trial, ignore=shutil.ignore_patterns("t*"))
        if not killed_at(k, lambda t=trial: _save(t / "last", 2.0)):
            break
        assert _stored_value(trial / "last") in (1.0, 2.0), f"killed at event {k}"


@pytest.mark.parametrize("writer", ["json", "yaml"])
def test_run_json_and_config_survive_a_kill_inside_their_write(tmp_path, writer):
    path = tmp_path / ("run.json" if writer == "json" else "config.yaml")

    def write(obj):
        if writer == "json":
            write_json_atomic(path, obj)
        else:
            dump_config(obj, path)

    old, new = {"status": "running", "epoch": 1}, {"status": "complete", "epoch": 2, "pad": "x" * 5000}
    write(old)
    k = 1
    while killed_at(k, lambda: write(new)):
        import yaml

        assert yaml.safe_load(path.read_text()) == old, f"killed at event {k}"  # JSON is YAML too
        k += 1
    assert k >= 3  # before the write, halfway through it, before the rename
    assert yaml.safe_load(path.read_text()) == new


def _config(epochs=3):
    return {
        "benchmark": "tiny",
        "method": {"name": METHOD, "lr": 0.02},
        "train": {"epochs": epochs, "batch_size": 16, "seed": 3, "progress": False},
    }


def _deterministic_metrics(run_dir: Path) -> list[dict]:
    strip = ("train_time_s", "samples_per_s", "val_time_s")
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in strip} for r in rows]


def test_training_killed_at_file_operations_resumes_exactly(tmp_path, monkeypatch):
    """`train` killed at file operations spread over a whole run (config, run.json, every epoch's best and
    last checkpoints, best.json, the metrics appends: 91 events in 3 epochs), then resumed: same weights
    and metrics as a run never interrupted."""
    monkeypatch.setattr("facevoice.pipelines.run.git_sha", lambda: "test")  # two git calls per run: slow here
    bundle = make_tiny_bundle()
    full = train(_config(), bundle=bundle, run_dir=tmp_path / "full")
    ref = {w: load_file(str(full / "checkpoints" / w / "model.safetensors")) for w in ("best", "last")}
    ref_metrics = _deterministic_metrics(full)
    tried = 0
    for k in range(1, 200, 7):  # every 7th event: 13 kills, from the first write to the last
        run_dir = tmp_path / f"k{k}"
        if not killed_at(k, lambda r=run_dir: train(_config(), bundle=bundle, run_dir=r)):
            break
        tried += 1
        train(_config(), bundle=bundle, run_dir=run_dir, resume=True)
        for which, tensors in ref.items():
            got = load_file(str(run_dir / "checkpoints" / which / "model.safetensors"))
            assert got.keys() == tensors.keys()
            assert all(torch.equal(got[n], tensors[n]) for n in tensors), f"killed at event {k}: {which} differs"
        assert _deterministic_metrics(run_dir) == ref_metrics, f"killed at event {k}"
        assert json.loads((run_dir / "run.json").read_text())["status"] == "complete"
    assert tried >= 10
