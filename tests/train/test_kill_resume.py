"""Kill anywhere: `facevoice train` and `facevoice benchmark` processes SIGKILLed at random moments, several
times in a row, then resumed, end bit-identical to runs never interrupted.

Each kill waits until the process has finished at least one more epoch than at its start, then lands a
random time later (up to about one epoch): in the middle of a training epoch, in validation, or in
the middle of writing the metrics line or a checkpoint. Kills inside the writes themselves are made
certain in test_kill_writes.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file
from train_fixtures import make_tiny_bundle

from facevoice.pipelines.benchmark import run_benchmark_recipe
from facevoice.pipelines.recipes import train_recipe
from kill_process import count_lines, facevoice_cmd, kill_during, kill_rng, run_to_end

STRIP = ("train_time_s", "samples_per_s", "val_time_s")


def _metrics(run_dir: Path) -> list[dict]:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in STRIP} for r in rows]


def _epoch_seconds(run_dir: Path) -> float:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return float(np.mean([r["train_time_s"] + r.get("val_time_s", 0.0) for r in rows]))


def _assert_same_run(got: Path, ref: Path, context: str) -> None:
    for which in ("best", "last"):
        a = load_file(str(ref / "checkpoints" / which / "model.safetensors"))
        b = load_file(str(got / "checkpoints" / which / "model.safetensors"))
        assert a.keys() == b.keys(), context
        for k in a:
            assert torch.equal(a[k], b[k]), f"{context}: {which} checkpoint, {k} differs"
    assert _metrics(got) == _metrics(ref), context
    info, ref_info = (json.loads((d / "run.json").read_text()) for d in (got, ref))
    assert info["status"] == ref_info["status"] == "complete", context
    assert (info["epoch"], info["best_epoch"], info["best_metric"]) == (
        ref_info["epoch"],
        ref_info["best_epoch"],
        ref_info["best_metric"],
    ), context


@pytest.fixture(scope="module")
def recipes(tmp_path_factory):
    """A saved tiny bundle and recipes of a registered method with dropout (contrastive: the resumed RNG
    state must reproduce the dropout masks), long enough epochs to be killed inside."""
    root = tmp_path_factory.mktemp("kill")
    make_tiny_bundle(seed=2).save(root / "bundle")
    base = {"benchmark": "tiny", "data": {"source": "bundle", "path": str(root / "bundle")}}
    method = {"name": "contrastive", "dim": 8, "hidden": 16, "lr": 3e-3}
    train_cfg = {"epochs": 10, "batch_size": 16, "steps_per_epoch": 40, "seed": 1, "progress": False}
    (root / "contrastive.yaml").write_text(yaml.safe_dump({**base, "method": method, "train": train_cfg}))
    bench = {**base, "methods": ["contrastive"], "seeds": [0, 1], "references": {"cca": True, "oracle": False}}
    bench["train"] = {"progress": False}
    bench["eval"] = {"gallery_sizes": [2, 5], "paired_n_boot": 50}
    (root / "benchmark.yaml").write_text(yaml.safe_dump(bench))
    return root


def test_train_killed_three_times_then_resumed_is_bit_identical(recipes, tmp_path):
    rng, seed = kill_rng()
    recipe = recipes / "contrastive.yaml"
    ref = train_recipe(recipe, out=str(tmp_path / "ref"), progress=False)  # the same call as the CLI's
    epoch_s = _epoch_seconds(ref)
    out = tmp_path / "killed"
    metrics = out / "metrics.jsonl"
    for attempt in range(3):
        args = ["train", str(recipe), "--out", str(out), "--no-progress", *(["--resume"] if attempt else [])]
        start = count_lines(metrics)
        delay = kill_during(
            facevoice_cmd(*args),
            lambda s=start: count_lines(metrics) > s,
            max_delay=epoch_s,
            rng=rng,
            log=tmp_path / f"attempt{attempt}.log",
            what=f"train attempt {attempt} (FACEVOICE_KILL_SEED={seed})",
        )
        status = json.loads((out / "run.json").read_text())["status"]
        assert status == "running", f"attempt {attempt}: killed {delay:.3f} s in, status {status} (seed {seed})"
    run_to_end(
        facevoice_cmd("train", str(recipe), "--out", str(out), "--no-progress", "--resume"), tmp_path / "end.log"
    )
    _assert_same_run(out, ref, f"FACEVOICE_KILL_SEED={seed}")


def test_benchmark_killed_twice_skips_finished_runs_and_redoes_the_torn_one(recipes, tmp_path):
    rng, seed = kill_rng()
    bench = recipes / "benchmark.yaml"
    ref = run_benchmark_recipe(str(bench), out=tmp_path / "ref", progress=False)
    epoch_s = _epoch_seconds(ref / "runs" / "contrastive" / "seed0")
    out = tmp_path / "killed"
    seed0, seed1 = (out / "runs" / "contrastive" / f"seed{s}" for s in (0, 1))
    cmd = facevoice_cmd("benchmark", str(bench), "--out", str(out), "--no-progress")

    def finished(run_dir: Path) -> bool:
        try:
            return json.loads((run_dir / "run.json").read_text())["status"] == "complete"
        except (FileNotFoundError, json.JSONDecodeError):
            return False

    context = f"FACEVOICE_KILL_SEED={seed}"
    kill_during(cmd, lambda: count_lines(seed0 / "metrics.jsonl") > 0, epoch_s, rng, tmp_path / "a.log", context)
    assert not finished(seed0), context
    # second kill: seed 0 done (this attempt resumed it), seed 1 in progress
    kill_during(cmd, lambda: count_lines(seed1 / "metrics.jsonl") > 0, epoch_s, rng, tmp_path / "b.log", context)
    assert finished(seed0) and not finished(seed1), context
    done = {p: p.stat().st_mtime_ns for p in seed0.rglob("*") if p.is_file()}
    log = run_to_end(cmd, tmp_path / "end.log")
    assert {p: p.stat().st_mtime_ns for p in seed0.rglob("*") if p.is_file()} == done, "a finished run was redone"
    assert "reusing finished run" in log and f"resumed {seed1}" in log, log[-3000:]
    for s in (0, 1):
        _assert_same_run(out / "runs" / "contrastive" / f"seed{s}", ref / "runs" / "contrastive" / f"seed{s}", context)
    pd.testing.assert_frame_equal(pd.read_csv(out / "results_long.csv"), pd.read_csv(ref / "results_long.csv"))
    for method in ("contrastive", "cca"):
        a, b = np.load(out / "trial_scores" / f"{method}.npz"), np.load(ref / "trial_scores" / f"{method}.npz")
        assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files), method
