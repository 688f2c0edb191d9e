"""Two CPU processes (torchrun, gloo) give the same training as the documented single-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from finetune_media import tiny_config, write_media
from safetensors.torch import load_file
from torch.testing import assert_close

from facevoice.data.manifest import write_manifest
from facevoice.finetune.run import finetune


def test_two_processes_match_one_process(tmp_path: Path) -> None:
    write_manifest(write_media(tmp_path / "media", n_ids=8, per_id=4, seconds=0.5), tmp_path / "manifest.parquet")
    cfg = tiny_config(tmp_path / "manifest.parquet", "both", epochs=2)  # global batch 8, dropout 0
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))

    single = finetune(cfg, tmp_path / "one")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["-m", "facevoice", "finetune", str(tmp_path / "cfg.yaml"), "--run-dir", str(tmp_path / "two")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    double = json.loads((tmp_path / "two" / "results.json").read_text())
    assert double["world_size"] == 2 and single["world_size"] == 1
    run1, run2 = single["runs"][0], double["runs"][0]
    assert run2["rank_sync_max_abs_diff"] == 0.0  # both ranks hold identical parameters
    for h1, h2 in zip(run1["history"], run2["history"], strict=True):
        assert h1["step"] == h2["step"] == 2 * h1["epoch"]
        assert abs(h1["train_loss"] - h2["train_loss"]) < 1e-5 and abs(h1["val_eer"] - h2["val_eer"]) < 1e-9
    assert run1["best_epoch"] == run2["best_epoch"]
    a = load_file(str(tmp_path / "one" / "seed_0" / "checkpoints" / "last" / "model.safetensors"))
    b = load_file(str(tmp_path / "two" / "seed_0" / "checkpoints" / "last" / "model.safetensors"))
    assert a.keys() == b.keys() and any("lora_" in k for k in a)
    for k in a:
        assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
    assert run1["test"].keys() == run2["test"].keys() and len(run1["test"]) > 10
    for k, v in run1["test"].items():
        assert abs(v - run2["test"][k]) < 1e-6, k  # the padded, gathered test embeddings were de-duplicated
