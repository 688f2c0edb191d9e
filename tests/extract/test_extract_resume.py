"""kill -9 at any moment → re-run → exactly the embeddings of an uninterrupted run; 2-process split."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from extract_helpers import run_cli, write_voices

from facevoice.data.corpora.folder import prepare_folder
from facevoice.encoders import create_encoder
from facevoice.encoders.hf.common import tiny_config
from facevoice.extract import extract
from facevoice.store import EmbeddingStore

ARGS = [
    "--encoder",
    "wavlm",
    "--shard-size",
    "4",
    "--batch-size",
    "3",
    "--workers",
    "1",
    "--threads",
    "1",
    "--no-progress",
]


def _reference(manifest: Path, out: Path) -> tuple[list[str], np.ndarray, set]:
    """Uninterrupted single-process run in this process, with the same thread count as the CLI runs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        enc = create_encoder("wavlm", source=tiny_config("wavlm", seed=0))
        extract(manifest, enc, out, batch_size=3, shard_size=4, num_workers=1, progress=False)
    finally:
        torch.set_num_threads(before)
    store = EmbeddingStore.open(out)
    ids, X = store.read_all()
    return ids, X, {(s["item_id"], s["reason"]) for s in store.skips()}


def _shards(out: Path) -> int:
    return len(list((out / "shards").glob("*.npz"))) if (out / "shards").is_dir() else 0


def _kill_after(args: list[str], out: Path, n_new: int) -> int:
    """Start a CLI run, SIGKILL it once ``n_new`` more shards exist; return the shard count at the kill."""
    start = _shards(out)
    proc = run_cli(args, wait=False)
    deadline = time.time() + 240
    while _shards(out) < start + n_new:
        assert proc.poll() is None, f"run ended before it could be killed: {proc.stderr.read()[-2000:]}"
        assert time.time() < deadline, "no progress"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return _shards(out)


@pytest.mark.slow
def test_kill9_resume_is_bit_identical(tmp_path, tiny_wavlm_json):
    root = tmp_path / "data"
    for k in range(4):
        write_voices(root / f"spk{k}" / "voices", 10, seed=k, seconds=(1.0, 2.0))
    (root / "spk0" / "voices" / "bad.wav").write_bytes(b"")
    manifest = tmp_path / "m.parquet"
    prepare_folder(root, manifest, split="test")
    n_items = 4 * 10 + 1
    ref_ids, ref_X, ref_skips = _reference(manifest, tmp_path / "ref")

    out = tmp_path / "killed"
    args = ["-m", "facevoice", "extract", str(manifest), "--out", str(out), "--source", str(tiny_wavlm_json), *ARGS]
    killed_at = _kill_after(args, out, 3)
    assert killed_at < n_items // 4  # the kill landed mid-run
    partial = EmbeddingStore.open(out).done_ids()
    assert len(partial) == 4 * killed_at or len(partial) == 4 * killed_at - 1  # whole shards only
    done = run_cli(args)
    assert done.returncode == 0, done.stderr[-3000:]

    store = EmbeddingStore.open(out)
    ids, X = store.read_all()
    assert ids == ref_ids and len(ids) == n_items - 1
    assert np.array_equal(X, ref_X)  # bit for bit
    assert {(s["item_id"], s["reason"]) for s in store.skips()} == ref_skips == {("voice:spk0/bad.wav", "empty")}
    assert len(store.skips()) == 1  # no duplicate skip record after two runs
    report = json.loads((out / "extract_report.json").read_text())
    assert report["embedded"] == n_items - 1 and report["skipped"] == 1 and report["pending"] == 0


@pytest.mark.slow
def test_two_processes_split_the_manifest(tmp_path, tiny_wavlm_json):
    root = tmp_path / "data"
    for k in range(3):
        write_voices(root / f"spk{k}" / "voices", 6, seed=20 + k)
    manifest = tmp_path / "m.parquet"
    prepare_folder(root, manifest, split="test")
    ref_ids, ref_X, _ = _reference(manifest, tmp_path / "ref")

    out = tmp_path / "ddp"
    args = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    args += ["-m", "facevoice", "extract", str(manifest), "--out", str(out), "--source", str(tiny_wavlm_json), *ARGS]
    res = run_cli(args)
    assert res.returncode == 0, res.stderr[-3000:]
    runs = [json.loads(p.read_text()) for p in sorted((out / "extract_runs").glob("rank*.json"))]
    assert [(r["rank"], r["world_size"]) for r in runs] == [(0, 2), (1, 2)]
    assert all(r["embedded"] > 0 for r in runs) and sum(r["embedded"] for r in runs) == len(ref_ids)
    shard_ranks = {int(p.name[1:7]) % 2 for p in (out / "shards").glob("*.npz")}
    assert shard_ranks == {0, 1}
    ids, X = EmbeddingStore.open(out).read_all()
    assert ids == ref_ids and np.array_equal(X, ref_X)
    assert json.loads((out / "extract_report.json").read_text())["pending"] == 0
